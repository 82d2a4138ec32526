"""Cartoon sticker drawing for the demo dataset: characters, emotion faces and gesture/prop variants."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Point = tuple[float, float]
RGBA = tuple[int, int, int, int]

SUPERSAMPLE = 2  # drawn at twice the output size, then downsampled: smooth edges without per-shape antialiasing


@dataclass(frozen=True)
class Character:
    """One sticker character (a topic): body silhouette, ears, decorations, palette and line style."""

    name: str
    body: str                      # silhouette key, see _BODIES
    ears: str = "none"             # top / side silhouette parts, see _EARS
    details: tuple[str, ...] = ()  # decorations drawn over the body, see _DETAILS
    fill: str = "#ffffff"          # body colour
    light: str = "#ffffff"         # belly, muzzle and inner-ear colour
    accent: str = "#ff9db5"        # beaks, bows, spikes
    ink: str = "#3b2f2f"           # outline and face lines
    line: float = 2.2              # outline width in pixels at 128 px
    eye_y: float = -0.08           # eye height in body units (body radius = 1, y grows downward)
    eye_gap: float = 0.36          # horizontal distance of each eye from the centre line
    mouth_y: float = 0.26          # mouth height in body units
    eye_ink: str | None = None     # eye colour where it differs from `ink` (dark eye patches)


# The sticker library's characters; `TEACHER_CHARACTERS` are others, for the emotion-labelled set.
LIBRARY_CHARACTERS: tuple[Character, ...] = (
    Character("mochi", "round", fill="#fdf3ea", light="#ffffff", ink="#5a4636"),
    Character("tabby", "round", "cat", ("stripes", "whiskers", "tail"), fill="#f6b26b", light="#fde3c4",
              accent="#f48fb1", ink="#5b3a1e"),
    Character("cocoa", "round", "bear", ("muzzle",), fill="#b07a4f", light="#ecd2b2", ink="#3e2616",
              mouth_y=0.34),
    Character("bunbun", "tall", "rabbit", ("belly",), fill="#ffffff", light="#fff0f5", accent="#f8a5c2",
              ink="#4a4a6a", line=2.0),
    Character("peep", "round", "tuft", ("beak", "wings"), fill="#ffe066", accent="#ff9f1c", ink="#6b4a12",
              mouth_y=0.36),
    Character("boo", "ghost", fill="#f3f6ff", ink="#56648a", line=2.4, eye_y=-0.12),
    Character("tofu", "square", details=("sheen",), fill="#fffaf0", light="#ffffff", ink="#6b5b45", line=2.6),
    Character("jelly", "capsule", details=("sheen",), fill="#b9a3e3", light="#e6dcf7", ink="#45326e"),
    Character("ribbit", "wide", "frog", ("belly",), fill="#8fcf6a", light="#e3f4c9", ink="#2f4d1f",
              eye_y=-0.72, eye_gap=0.5, mouth_y=0.12),
    Character("waddle", "egg", "flippers", ("face_patch", "beak", "belly"), fill="#3f4f74", light="#ffffff",
              accent="#ffa94d", ink="#1f2638", mouth_y=0.34),
    Character("shiba", "round", "dog", ("muzzle", "cheek_fur"), fill="#e9a15b", light="#fff3e0", ink="#4e2c10",
              mouth_y=0.34),
    Character("bamboo", "round", "panda", ("patches",), fill="#ffffff", light="#ffffff", accent="#2b2b2b",
              ink="#232323", eye_ink="#ffffff"),
    Character("squeak", "round", "mouse", ("whiskers", "tail_thin"), fill="#c7c9d6", light="#f6c1cf",
              accent="#f6a5c0", ink="#44465a"),
    Character("oink", "round", "pig", ("snout",), fill="#ffc4d0", light="#ffe3ea", accent="#f28ba5",
              ink="#7a3147", mouth_y=0.44),
    Character("kit", "round", "fox", ("fox_cheeks", "tail_fox"), fill="#f28a3c", light="#fff4e6", ink="#4a2410"),
    Character("nibbles", "wide", "small", ("pouches", "belly"), fill="#f4c48f", light="#fff4e4", ink="#6b4320"),
    Character("quack", "round", "tuft", ("bill",), fill="#ffffff", accent="#ffa726", ink="#4d4d4d",
              mouth_y=0.4),
    Character("inky", "dome", "tentacles", ("spots",), fill="#ff9e80", light="#ffd0c2", ink="#6d2b1c",
              mouth_y=0.3),
    Character("rex", "egg", "spikes", ("belly",), fill="#74c7a5", light="#dff5ea", accent="#f6c85f",
              ink="#1f4d3b"),
    Character("onigiri", "triangle", details=("nori",), fill="#ffffff", light="#2e3d2c", ink="#2d2d2d",
              eye_y=0.0, mouth_y=0.3, eye_gap=0.32),
    Character("twinkle", "star", fill="#ffd95a", ink="#7a5a00", eye_y=0.0, mouth_y=0.3, eye_gap=0.28),
    Character("fluff", "cloud", fill="#eef5ff", ink="#5e7ea8", line=2.4),
    Character("eggy", "round", "tuft", ("shell",), fill="#ffe58a", light="#ffffff", accent="#ff9f1c",
              ink="#6b5212", eye_y=-0.2, mouth_y=0.12),
    Character("bao", "dome", details=("pleats",), fill="#fbf1e1", ink="#7a5c3a", eye_y=0.1, mouth_y=0.42),
    Character("blubber", "wide", "flippers", ("whiskers", "muzzle_dots"), fill="#a9bcc8", light="#e5eef3",
              ink="#34495e"),
    Character("woolly", "round", "wool", ("face_patch",), fill="#ffffff", light="#f3dcc0", ink="#5b4636"),
    Character("prickle", "capsule", "cactus_arms", ("spines", "flower_top"), fill="#7cc47f", light="#c8ecc9",
              accent="#f48fb1", ink="#235a2a"),
    Character("hoot", "round", "owl", ("belly_feathers", "eye_discs", "beak"), fill="#a68772", light="#efdcc8",
              accent="#f9a825", ink="#3e2a1d", mouth_y=0.36),
)

TEACHER_CHARACTERS: tuple[Character, ...] = (
    Character("koala", "round", "koala", ("big_nose",), fill="#a3a7ad", light="#e8e9ec", ink="#33373d",
              mouth_y=0.38),
    Character("monkey", "round", "monkey", ("face_patch",), fill="#8d6e63", light="#f3d9c4", ink="#3b2a22"),
    Character("slime", "drop", details=("sheen",), fill="#7cc0f5", light="#dff0fd", ink="#1f4e7a",
              eye_y=0.12, mouth_y=0.45),
    Character("robot", "square", details=("antenna", "bolts"), fill="#cfd8dc", light="#eceff1",
              accent="#ef5350", ink="#37474f", line=2.6),
    Character("mushroom", "mushroom", details=("spots",), fill="#fff3e0", light="#ffffff", accent="#e57373",
              ink="#5d3a2e", eye_y=0.28, mouth_y=0.58),
    Character("whale", "wide", "whale_tail", ("spout", "belly"), fill="#5fb8e8", light="#dff1fb",
              ink="#1c4a66"),
    Character("peach", "round", details=("leaf", "cleft"), fill="#ffb59e", light="#ffe1d6", ink="#7a3b2a"),
    Character("pudding", "pudding", details=("caramel",), fill="#ffe08a", light="#fff6d5", accent="#8d5524",
              ink="#6b4a12", eye_y=0.1, mouth_y=0.42),
    Character("tiger", "round", "bear", ("tiger_stripes", "muzzle"), fill="#ffb74d", light="#fff3e0",
              ink="#3e2723", mouth_y=0.34),
    Character("bee", "round", "bee_wings", ("antenna_pair", "bee_stripes"), fill="#ffd54f", light="#e3f2fd",
              accent="#3b3b3b", ink="#3b3b3b", mouth_y=0.24),
    Character("bat", "round", "bat", ("face_patch",), fill="#7e57c2", light="#ede7f6", ink="#2a1b4a"),
    Character("snowy", "round", "none", ("hat", "carrot"), fill="#ffffff", light="#ffffff", accent="#e53935",
              ink="#3d4f66", mouth_y=0.36),
)

def hex_rgba(colour: str, alpha: int = 255) -> RGBA:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16), alpha


def _mix(colour: str, other: str, amount: float) -> RGBA:
    """`colour` moved `amount` of the way towards `other`."""
    a, b = hex_rgba(colour), hex_rgba(other)
    return tuple(round(a[i] + (b[i] - a[i]) * amount) for i in range(3)) + (255,)  # type: ignore[return-value]


def chaikin(points: Sequence[Point], iterations: int = 3) -> list[Point]:
    """Round the corners of a closed polygon by Chaikin corner cutting."""
    result = list(points)
    for _ in range(iterations):
        smoothed: list[Point] = []
        for index, (x0, y0) in enumerate(result):
            x1, y1 = result[(index + 1) % len(result)]
            smoothed.append((0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1))
            smoothed.append((0.25 * x0 + 0.75 * x1, 0.25 * y0 + 0.75 * y1))
        result = smoothed
    return result


def _rotated(points: Sequence[Point], angle_deg: float, centre: Point) -> list[Point]:
    angle = math.radians(angle_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = centre
    return [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos) for x, y in points]


def _ellipse_points(x: float, y: float, rx: float, ry: float, steps: int = 48,
                    start: float = 0.0, end: float = 360.0) -> list[Point]:
    return [(x + rx * math.cos(math.radians(start + (end - start) * i / steps)),
             y + ry * math.sin(math.radians(start + (end - start) * i / steps))) for i in range(steps + 1)]


class Pen:
    """Draws in body units: (0, 0) is the body centre, 1 is the body radius, y grows downward.

    The whole frame is turned by `angle` degrees, so a sticker is drawn rotated rather than resampled.
    """

    def __init__(self, image: Image.Image, centre: Point, radius: float, line: float, ink: RGBA,
                 angle: float = 0.0):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.cx, self.cy = centre
        self.radius = radius
        self.line_px = line  # outline width in pixels
        self.ink = ink
        self.angle = angle
        self._cos, self._sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def shifted(self, dx: float, dy: float) -> "Pen":
        """A pen on the same image whose origin is moved by (dx, dy) body units."""
        return Pen(self.image, self.xy(dx, dy), self.radius, self.line_px, self.ink, self.angle)

    def on(self, image: Image.Image) -> "Pen":
        """The same frame, drawing onto another layer of the same size."""
        return Pen(image, (self.cx, self.cy), self.radius, self.line_px, self.ink, self.angle)

    def xy(self, x: float, y: float) -> Point:
        x, y = x * self.radius, y * self.radius
        return self.cx + x * self._cos - y * self._sin, self.cy + x * self._sin + y * self._cos

    def body_y(self, size: tuple[int, int]) -> np.ndarray:
        """The body-frame height of every pixel of an image of `size`: (H, W) float32."""
        xs = np.arange(size[0], dtype=np.float32)[None, :] - self.cx
        ys = np.arange(size[1], dtype=np.float32)[:, None] - self.cy
        return (ys * self._cos - xs * self._sin) / self.radius

    def width(self, factor: float = 1.0) -> int:
        return max(1, round(self.line_px * factor))

    def _colour(self, colour) -> RGBA | None:
        if colour is None:
            return None
        if colour == "ink":
            return self.ink
        return hex_rgba(colour) if isinstance(colour, str) else colour

    def polygon(self, points: Sequence[Point], fill=None, outline=None, width: float = 1.0) -> None:
        pixels = [self.xy(x, y) for x, y in points]
        if fill is not None:
            self.draw.polygon(pixels, fill=self._colour(fill))
        if outline is not None:
            self._stroke(pixels + pixels[:2], self._colour(outline), self.width(width))

    def ellipse(self, x: float, y: float, rx: float, ry: float, fill=None, outline=None, width: float = 1.0) -> None:
        steps = max(12, min(48, round(8 * math.sqrt(max(rx, ry) * self.radius))))
        self.polygon(_ellipse_points(x, y, rx, ry, steps)[:-1], fill=fill, outline=outline, width=width)

    def rounded_rect(self, x0: float, y0: float, x1: float, y1: float, radius: float, fill=None, outline=None,
                     width: float = 1.0) -> None:
        radius = min(radius, (x1 - x0) / 2, (y1 - y0) / 2)
        corners = ((x1 - radius, y1 - radius, 0), (x0 + radius, y1 - radius, 90), (x0 + radius, y0 + radius, 180),
                   (x1 - radius, y0 + radius, 270))
        points: list[Point] = []
        for cx, cy, start in corners:
            points += _ellipse_points(cx, cy, radius, radius, 6, start, start + 90) if radius > 0 else [(cx, cy)]
        self.polygon(points, fill=fill, outline=outline, width=width)

    def line(self, points: Sequence[Point], fill="ink", width: float = 1.0) -> None:
        pixels = [self.xy(x, y) for x, y in points]
        colour, width_px = self._colour(fill), self.width(width)
        self._stroke(pixels, colour, width_px)
        if width_px >= 3:  # round caps: Pillow draws square ends
            radius = width_px / 2.0 - 0.5
            for px, py in (pixels[0], pixels[-1]):
                self.draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=colour)

    def _stroke(self, pixels: list[Point], colour: RGBA | None, width_px: int) -> None:
        self.draw.line(pixels, fill=colour, width=width_px, joint="curve")

    def arc(self, x: float, y: float, rx: float, ry: float, start: float, end: float, fill="ink",
            width: float = 1.0) -> None:
        self.line(_ellipse_points(x, y, rx, ry, 24, start, end), fill=fill, width=width)


# ---------------------------------------------------------------------------------------------------------
# Silhouette parts: drawn in their fill colours onto the body layer, outlined together afterwards.

def _body_round(pen: Pen, c: Character) -> None:
    pen.ellipse(0, 0, 1.0, 0.92, fill=c.fill)


def _body_wide(pen: Pen, c: Character) -> None:
    pen.ellipse(0, 0.06, 1.12, 0.82, fill=c.fill)


def _body_tall(pen: Pen, c: Character) -> None:
    pen.ellipse(0, 0.02, 0.84, 1.0, fill=c.fill)


def _body_egg(pen: Pen, c: Character) -> None:
    points = []
    for i in range(64):
        t = 2 * math.pi * i / 64
        y = math.sin(t)
        narrowing = 1 - 0.16 * max(0.0, -y)
        points.append((0.9 * math.cos(t) * narrowing, 0.05 + 1.0 * y))
    pen.polygon(points, fill=c.fill)


def _body_square(pen: Pen, c: Character) -> None:
    pen.rounded_rect(-0.95, -0.85, 0.95, 0.9, 0.32, fill=c.fill)


def _body_capsule(pen: Pen, c: Character) -> None:
    pen.rounded_rect(-0.74, -1.0, 0.74, 0.98, 0.72, fill=c.fill)


def _body_ghost(pen: Pen, c: Character) -> None:
    top = _ellipse_points(0, -0.1, 0.92, 0.9, 32, 180, 360)
    bottom = []
    for i in range(61):
        x = 0.92 - 1.84 * i / 60
        bottom.append((x, 0.88 + 0.12 * math.cos(3 * math.pi * (x + 0.92) / 0.92)))
    pen.polygon(top + [(0.92, 0.88)] + bottom + [(-0.92, 0.88)], fill=c.fill)


def _body_triangle(pen: Pen, c: Character) -> None:
    pen.polygon(chaikin([(0, -1.12), (1.08, 0.88), (-1.08, 0.88)], 4), fill=c.fill)


def _body_star(pen: Pen, c: Character) -> None:
    vertices = []
    for i in range(10):
        radius = 1.22 if i % 2 == 0 else 0.7
        angle = -math.pi / 2 + math.pi * i / 5
        vertices.append((radius * math.cos(angle), 0.08 + radius * math.sin(angle)))
    pen.polygon(chaikin(vertices, 3), fill=c.fill)


def _body_cloud(pen: Pen, c: Character) -> None:
    for x, y, r in ((-0.62, 0.15, 0.55), (0.62, 0.15, 0.55), (-0.3, -0.35, 0.58), (0.32, -0.4, 0.6),
                    (0, 0.3, 0.62), (-0.8, 0.45, 0.4), (0.8, 0.45, 0.4)):
        pen.ellipse(x, y, r, r * 0.95, fill=c.fill)


def _body_drop(pen: Pen, c: Character) -> None:
    points = []
    for i in range(72):
        t = 2 * math.pi * i / 72
        points.append((0.98 * math.sin(t) * abs(math.sin(t / 2)) ** 0.9, -0.05 - 1.05 * math.cos(t)))
    points = [(x, y * 0.95 + 0.1) for x, y in points]
    pen.polygon(points, fill=c.fill)


def _body_dome(pen: Pen, c: Character) -> None:
    top = _ellipse_points(0, 0.55, 1.05, 1.5, 40, 180, 360)
    pen.polygon(chaikin(top + [(1.05, 0.88), (-1.05, 0.88)], 2), fill=c.fill)


def _body_mushroom(pen: Pen, c: Character) -> None:
    pen.rounded_rect(-0.72, -0.25, 0.72, 0.98, 0.4, fill=c.fill)
    cap = _ellipse_points(0, 0.02, 1.25, 1.05, 40, 180, 360)
    pen.polygon(chaikin(cap + [(1.25, 0.06), (-1.25, 0.06)], 2), fill=c.accent)


def _body_pudding(pen: Pen, c: Character) -> None:
    pen.polygon(chaikin([(-0.72, -0.85), (0.72, -0.85), (1.02, 0.9), (-1.02, 0.9)], 3), fill=c.fill)


_BODIES: dict[str, Callable[[Pen, Character], None]] = {
    "round": _body_round, "wide": _body_wide, "tall": _body_tall, "egg": _body_egg, "square": _body_square,
    "capsule": _body_capsule, "ghost": _body_ghost, "triangle": _body_triangle, "star": _body_star,
    "cloud": _body_cloud, "drop": _body_drop, "dome": _body_dome, "mushroom": _body_mushroom,
    "pudding": _body_pudding,
}


def _mirror(points: Sequence[Point]) -> list[Point]:
    return [(-x, y) for x, y in points]


def _pair(pen: Pen, points: Sequence[Point], **style) -> None:
    pen.polygon(points, **style)
    pen.polygon(_mirror(points), **style)


# Pointed ears: the left ear's corners (outer base, tip, inner base), how much they are rounded, and the
# Character attribute that colours the inner patch (None: no patch).
_POINTED_EARS: dict[str, tuple[tuple[Point, Point, Point], int, str | None]] = {
    "cat": (((-0.98, -0.3), (-0.78, -1.3), (-0.22, -0.82)), 2, "accent"),
    "dog": (((-1.0, -0.28), (-0.72, -1.22), (-0.18, -0.78)), 3, "light"),
    "fox": (((-1.0, -0.2), (-0.88, -1.48), (-0.22, -0.78)), 2, "light"),
    "pig": (((-0.9, -0.45), (-0.98, -1.05), (-0.35, -0.85)), 2, "accent"),
    "owl": (((-0.92, -0.35), (-0.95, -1.12), (-0.45, -0.8)), 2, None),
    "bat": (((-0.9, -0.4), (-0.78, -1.22), (-0.3, -0.82)), 2, None),
}

# Round ears: the right ear's centre and radius, the radius of its inner spot (0: none), and the Character
# attributes that colour the ear and the spot.
_ROUND_EARS: dict[str, tuple[float, float, float, float, str, str]] = {
    "bear": (0.7, -0.72, 0.3, 0.15, "fill", "light"),
    "panda": (0.7, -0.74, 0.3, 0.0, "accent", "accent"),
    "mouse": (0.8, -0.7, 0.43, 0.26, "fill", "accent"),
    "small": (0.66, -0.62, 0.2, 0.0, "fill", "fill"),
    "koala": (0.92, -0.55, 0.45, 0.26, "fill", "light"),
    "monkey": (1.02, -0.02, 0.29, 0.15, "fill", "light"),
}


def _pointed_ears(pen: Pen, c: Character) -> None:
    corners, rounding, _ = _POINTED_EARS[c.ears]
    _pair(pen, chaikin(corners, rounding), fill=c.fill)


def _round_ears(pen: Pen, c: Character) -> None:
    x, y, radius, _, colour, _ = _ROUND_EARS[c.ears]
    for side in (-1, 1):
        pen.ellipse(side * x, y, radius, radius, fill=getattr(c, colour))


def _ears_rabbit(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.polygon(_rotated(_ellipse_points(side * 0.36, -1.3, 0.2, 0.62), side * 10, (side * 0.36, -0.8)),
                    fill=c.fill)


def _ears_frog(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.ellipse(side * c.eye_gap, c.eye_y, 0.34, 0.32, fill=c.fill)


def _ears_tuft(pen: Pen, c: Character) -> None:
    for angle in (-25, 0, 25):
        pen.polygon(_rotated(_ellipse_points(0, -1.05, 0.09, 0.2), angle, (0, -0.85)), fill=c.fill)


def _ears_wool(pen: Pen, c: Character) -> None:
    for i in range(13):
        angle = math.pi * (0.95 + 1.1 * i / 12)
        pen.ellipse(0.92 * math.cos(angle), 0.86 * math.sin(angle), 0.27, 0.27, fill=c.fill)


def _ears_flippers(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.polygon(_rotated(_ellipse_points(side * 0.92, 0.42, 0.14, 0.34), side * -35, (side * 0.92, 0.42)),
                    fill=c.fill)


def _ears_tentacles(pen: Pen, c: Character) -> None:
    for i in range(5):
        pen.ellipse(-0.8 + 0.4 * i, 0.88, 0.2, 0.22, fill=c.fill)


def _ears_spikes(pen: Pen, c: Character) -> None:
    for angle in (-140, -112, -90, -68, -40):
        a = math.radians(angle)
        base = (0.86 * math.cos(a), 0.05 + 0.96 * math.sin(a))
        tip = (1.22 * math.cos(a), 0.05 + 1.3 * math.sin(a))
        perp = (-math.sin(a) * 0.16, math.cos(a) * 0.16)
        pen.polygon([(base[0] + perp[0], base[1] + perp[1]), tip, (base[0] - perp[0], base[1] - perp[1])],
                    fill=c.accent)


def _ears_cactus_arms(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.rounded_rect(min(side * 0.5, side * 1.2), 0.08, max(side * 0.5, side * 1.2), 0.34, 0.13, fill=c.fill)
        pen.rounded_rect(side * 1.07 - 0.14, -0.55, side * 1.07 + 0.14, 0.34, 0.14, fill=c.fill)


def _ears_whale_tail(pen: Pen, c: Character) -> None:
    pen.polygon(chaikin([(0.9, 0.15), (1.35, -0.35), (1.3, 0.05), (1.5, 0.3), (1.0, 0.45)], 2), fill=c.fill)


def _ears_bee_wings(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.polygon(_rotated(_ellipse_points(side * 0.72, -0.95, 0.24, 0.38), side * 35, (side * 0.72, -0.95)),
                    fill=c.light)


def _ears_bat(pen: Pen, c: Character) -> None:
    _pointed_ears(pen, c)
    _pair(pen, [(-0.8, 0.1), (-1.42, -0.3), (-1.3, 0.0), (-1.48, 0.2), (-1.25, 0.35), (-1.3, 0.6), (-0.8, 0.5)],
          fill=c.fill)


def _tail(pen: Pen, c: Character, thickness: float) -> None:
    points = [(0.6, 0.75), (1.0, 0.85), (1.3, 0.72), (1.38, 0.48), (1.25, 0.36)]
    pen.line(points, fill=c.fill, width=thickness)


_EARS: dict[str, Callable[[Pen, Character], None]] = {
    "none": lambda pen, c: None,
    **{name: _pointed_ears for name in _POINTED_EARS},
    **{name: _round_ears for name in _ROUND_EARS},
    "rabbit": _ears_rabbit, "frog": _ears_frog, "tuft": _ears_tuft, "wool": _ears_wool, "flippers": _ears_flippers,
    "tentacles": _ears_tentacles, "spikes": _ears_spikes, "cactus_arms": _ears_cactus_arms,
    "whale_tail": _ears_whale_tail, "bee_wings": _ears_bee_wings, "bat": _ears_bat,
}

# Details that belong to the silhouette (outlined with it), drawn before the body.
_SILHOUETTE_DETAILS: dict[str, Callable[[Pen, Character], None]] = {
    "tail": lambda pen, c: _tail(pen, c, 3.5),
    "tail_thin": lambda pen, c: _tail(pen, c, 2.2),
    "tail_fox": lambda pen, c: pen.polygon(
        chaikin([(0.6, 0.7), (1.2, 0.75), (1.45, 0.2), (1.3, -0.25), (1.05, 0.25), (0.7, 0.35)], 2), fill=c.fill),
}


# ---------------------------------------------------------------------------------------------------------
# Decorations drawn over the body (no silhouette outline).

def _inner_ears(pen: Pen, c: Character) -> None:
    """The inner patches of pointed, round and rabbit ears."""
    if c.ears in _POINTED_EARS:
        corners, _, colour = _POINTED_EARS[c.ears]
        if colour is None:
            return
        cx = sum(x for x, _ in corners) / 3
        cy = sum(y for _, y in corners) / 3
        inner = [(cx + (x - cx) * 0.5, cy + (y - cy) * 0.5 - 0.05) for x, y in corners]
        _pair(pen, chaikin(inner, 2), fill=getattr(c, colour))
    elif c.ears in _ROUND_EARS:
        x, y, _, spot, _, colour = _ROUND_EARS[c.ears]
        if spot:
            for side in (-1, 1):
                pen.ellipse(side * x, y, spot, spot, fill=getattr(c, colour))
    elif c.ears == "rabbit":
        for side in (-1, 1):
            pen.polygon(_rotated(_ellipse_points(side * 0.36, -1.28, 0.09, 0.42), side * 10, (side * 0.36, -0.8)),
                        fill=c.accent)


def _detail_belly(pen: Pen, c: Character) -> None:
    pen.ellipse(0, 0.55, 0.55, 0.36, fill=c.light)


def _detail_muzzle(pen: Pen, c: Character) -> None:
    pen.ellipse(0, c.mouth_y - 0.03, 0.34, 0.24, fill=c.light)
    pen.ellipse(0, c.mouth_y - 0.15, 0.085, 0.06, fill="ink")


def _detail_snout(pen: Pen, c: Character) -> None:
    pen.ellipse(0, c.mouth_y - 0.2, 0.22, 0.14, fill=c.accent, outline="ink", width=0.6)
    for side in (-1, 1):
        pen.ellipse(side * 0.07, c.mouth_y - 0.2, 0.035, 0.05, fill="ink")


def _detail_beak(pen: Pen, c: Character) -> None:
    y = (c.eye_y + c.mouth_y) / 2 - 0.02
    pen.polygon([(-0.12, y - 0.05), (0.12, y - 0.05), (0, y + 0.1)], fill=c.accent, outline="ink", width=0.6)


def _detail_bill(pen: Pen, c: Character) -> None:
    y = (c.eye_y + c.mouth_y) / 2 - 0.02
    pen.ellipse(0, y, 0.24, 0.09, fill=c.accent, outline="ink", width=0.6)


def _detail_wings(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.arc(side * 0.78, 0.3, 0.2, 0.22, 100 if side < 0 else -80, 260 if side < 0 else 80, width=0.8)


def _detail_stripes(pen: Pen, c: Character) -> None:
    for x, length in ((-0.2, 0.18), (0.0, 0.24), (0.2, 0.18)):
        pen.line([(x, -0.9), (x, -0.9 + length)], fill=_mix(c.fill, c.ink, 0.45), width=1.4)


def _detail_tiger_stripes(pen: Pen, c: Character) -> None:
    _detail_stripes(pen, c)
    for side in (-1, 1):
        for y in (0.0, 0.25):
            pen.polygon([(side * 1.0, y - 0.06), (side * 0.72, y), (side * 1.0, y + 0.06)], fill="ink")


def _detail_whiskers(pen: Pen, c: Character) -> None:
    y = c.mouth_y - 0.08
    for side in (-1, 1):
        for dy in (-0.06, 0.06):
            pen.line([(side * 0.58, y + dy * 0.5), (side * 0.9, y + dy * 1.6)], width=0.6)


def _detail_muzzle_dots(pen: Pen, c: Character) -> None:
    pen.ellipse(0, c.mouth_y - 0.12, 0.08, 0.055, fill="ink")
    for side in (-1, 1):
        for dx, dy in ((0.18, -0.04), (0.26, 0.02), (0.2, 0.06)):
            pen.ellipse(side * dx, c.mouth_y + dy, 0.018, 0.018, fill="ink")


def _detail_patches(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.polygon(_rotated(_ellipse_points(side * c.eye_gap, c.eye_y + 0.03, 0.2, 0.16), side * -25,
                             (side * c.eye_gap, c.eye_y)), fill=c.accent)
    pen.ellipse(0, c.mouth_y - 0.12, 0.07, 0.05, fill="ink")


def _detail_eye_discs(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.ellipse(side * c.eye_gap, c.eye_y, 0.27, 0.27, fill=c.light)


def _detail_face_patch(pen: Pen, c: Character) -> None:
    mid = (c.eye_y + c.mouth_y) / 2
    pen.ellipse(0, mid, 0.74, 0.52, fill=c.light)


def _detail_cheek_fur(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.ellipse(side * 0.62, c.mouth_y + 0.02, 0.3, 0.22, fill=c.light)


def _detail_fox_cheeks(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.polygon(chaikin([(side * 0.05, c.mouth_y - 0.1), (side * 0.98, -0.05), (side * 0.7, 0.65),
                             (side * 0.05, 0.6)], 2), fill=c.light)
    pen.ellipse(0, c.mouth_y - 0.12, 0.07, 0.05, fill="ink")


def _detail_pouches(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.ellipse(side * 0.66, 0.22, 0.3, 0.24, fill=c.light)
    pen.ellipse(0, c.mouth_y - 0.12, 0.06, 0.045, fill=c.accent)


def _detail_spots(pen: Pen, c: Character) -> None:
    spots = ((-0.55, -0.45, 0.14), (0.5, -0.55, 0.12), (0.05, -0.78, 0.1), (0.78, -0.15, 0.08),
             (-0.82, -0.05, 0.08)) if c.body != "mushroom" else ((-0.65, -0.5, 0.16), (0.55, -0.6, 0.14),
                                                                   (0.0, -0.82, 0.12), (0.95, -0.15, 0.1))
    colour = c.light if c.body != "mushroom" else "#ffffff"
    for x, y, r in spots:
        pen.ellipse(x, y, r, r * 0.85, fill=colour)


def _detail_nori(pen: Pen, c: Character) -> None:
    pen.rounded_rect(-0.42, 0.5, 0.42, 1.0, 0.05, fill=c.light)


def _detail_shell(pen: Pen, c: Character) -> None:
    points = [(-1.0, 0.35)]
    for i in range(9):
        points.append((-1.0 + 2.0 * (i + 0.5) / 9, 0.28 if i % 2 == 0 else 0.44))
    points += [(1.0, 0.35), (1.02, 0.6)] + _ellipse_points(0, 0.55, 1.02, 0.5, 24, 0, 180)[1:]
    pen.polygon(points, fill=c.light, outline="ink", width=0.9)


def _detail_pleats(pen: Pen, c: Character) -> None:
    for x in (-0.3, -0.1, 0.1, 0.3):
        pen.arc(x * 1.8, -0.55, 0.12, 0.28, 200 if x < 0 else -20, 300 if x < 0 else 80, width=0.7)


def _detail_sheen(pen: Pen, c: Character) -> None:
    pen.polygon(_rotated(_ellipse_points(-0.55, -0.55, 0.1, 0.2), 35, (-0.55, -0.55)), fill="#ffffff")


def _detail_belly_feathers(pen: Pen, c: Character) -> None:
    pen.ellipse(0, 0.55, 0.55, 0.36, fill=c.light)
    for x in (-0.25, 0.0, 0.25):
        pen.arc(x, 0.5, 0.1, 0.07, 20, 160, width=0.6)


def _detail_spines(pen: Pen, c: Character) -> None:
    for x, y in ((-0.45, -0.6), (0.42, -0.72), (-0.5, 0.55), (0.5, 0.62), (0.0, 0.8)):
        pen.line([(x - 0.05, y - 0.05), (x + 0.05, y + 0.05)], width=0.6)
        pen.line([(x - 0.05, y + 0.05), (x + 0.05, y - 0.05)], width=0.6)


def _flower(pen: Pen, x: float, y: float, r: float, petal: str, centre: str = "#ffd54f") -> None:
    for i in range(5):
        a = 2 * math.pi * i / 5 - math.pi / 2
        pen.ellipse(x + r * math.cos(a), y + r * math.sin(a), r * 0.75, r * 0.75, fill=petal, outline="ink",
                    width=0.6)
    pen.ellipse(x, y, r * 0.6, r * 0.6, fill=centre, outline="ink", width=0.6)


def _detail_flower_top(pen: Pen, c: Character) -> None:
    _flower(pen, 0.15, -1.05, 0.12, c.accent)


def _detail_leaf(pen: Pen, c: Character) -> None:
    pen.line([(0, -0.9), (0.05, -1.12)], width=1.2)
    pen.polygon(_rotated(_ellipse_points(0.28, -1.1, 0.24, 0.1), -20, (0.05, -1.1)), fill="#7cb342", outline="ink",
                width=0.8)


def _detail_cleft(pen: Pen, c: Character) -> None:
    pen.arc(-0.2, -0.75, 0.25, 0.22, 290, 360, width=0.8)


def _detail_caramel(pen: Pen, c: Character) -> None:
    points = [(-0.74, -0.86), (0.74, -0.86), (0.8, -0.55)]
    for i in range(7):
        x = 0.8 - 1.6 * (i + 0.5) / 7
        points.append((x, -0.5 if i % 2 else -0.32))
    points.append((-0.8, -0.55))
    pen.polygon(chaikin(points, 2), fill=c.accent)


def _detail_antenna(pen: Pen, c: Character) -> None:
    pen.line([(0, -0.86), (0, -1.22)], width=1.0)
    pen.ellipse(0, -1.26, 0.1, 0.1, fill=c.accent, outline="ink", width=0.8)


def _detail_antenna_pair(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.line([(side * 0.22, -0.86), (side * 0.38, -1.22)], width=0.9)
        pen.ellipse(side * 0.4, -1.26, 0.07, 0.07, fill=c.accent)


def _detail_bolts(pen: Pen, c: Character) -> None:
    for x, y in ((-0.78, -0.7), (0.78, -0.7), (-0.78, 0.72), (0.78, 0.72)):
        pen.ellipse(x, y, 0.05, 0.05, fill=_mix(c.fill, c.ink, 0.5))


def _detail_spout(pen: Pen, c: Character) -> None:
    for x, start, end in ((-0.4, 200, 250), (0.0, 250, 290), (0.4, 270, 340)):
        pen.arc(x, -1.18, 0.22, 0.2, start, end, fill="#4fc3f7", width=1.2)
    pen.line([(0, -0.9), (0, -1.12)], fill="#4fc3f7", width=1.2)


def _detail_bee_stripes(pen: Pen, c: Character) -> None:
    for y in (0.55, 0.8):
        pen.rounded_rect(-0.82 + (y - 0.55), y - 0.06, 0.82 - (y - 0.55), y + 0.06, 0.05, fill=c.accent)


def _detail_big_nose(pen: Pen, c: Character) -> None:
    pen.ellipse(0, (c.eye_y + c.mouth_y) / 2 + 0.02, 0.14, 0.19, fill="ink")


def _detail_hat(pen: Pen, c: Character) -> None:
    pen.rounded_rect(-0.5, -0.98, 0.5, -0.86, 0.04, fill="#37474f", outline="ink", width=0.8)
    pen.rounded_rect(-0.32, -1.4, 0.32, -0.92, 0.05, fill="#37474f", outline="ink", width=0.8)
    pen.rounded_rect(-0.32, -1.08, 0.32, -0.98, 0.0, fill=c.accent)


def _detail_carrot(pen: Pen, c: Character) -> None:
    y = (c.eye_y + c.mouth_y) / 2 - 0.02
    pen.polygon([(-0.04, y - 0.06), (-0.04, y + 0.06), (0.28, y + 0.02)], fill="#fb8c00", outline="ink", width=0.5)


_DETAILS: dict[str, Callable[[Pen, Character], None]] = {
    "belly": _detail_belly, "muzzle": _detail_muzzle, "snout": _detail_snout, "beak": _detail_beak,
    "bill": _detail_bill, "wings": _detail_wings, "stripes": _detail_stripes, "tiger_stripes": _detail_tiger_stripes,
    "whiskers": _detail_whiskers, "muzzle_dots": _detail_muzzle_dots, "patches": _detail_patches,
    "face_patch": _detail_face_patch, "eye_discs": _detail_eye_discs, "cheek_fur": _detail_cheek_fur, "fox_cheeks": _detail_fox_cheeks,
    "pouches": _detail_pouches, "spots": _detail_spots, "nori": _detail_nori, "shell": _detail_shell,
    "pleats": _detail_pleats, "sheen": _detail_sheen, "belly_feathers": _detail_belly_feathers,
    "spines": _detail_spines, "flower_top": _detail_flower_top, "leaf": _detail_leaf, "cleft": _detail_cleft,
    "caramel": _detail_caramel, "antenna": _detail_antenna, "antenna_pair": _detail_antenna_pair,
    "bolts": _detail_bolts, "spout": _detail_spout, "bee_stripes": _detail_bee_stripes, "big_nose": _detail_big_nose,
    "hat": _detail_hat, "carrot": _detail_carrot,
}
_CLIPPED_DETAILS = {"eye_discs", "nori", "caramel", "bee_stripes", "belly", "face_patch", "cheek_fur", "fox_cheeks", "pouches",
                    "spots", "belly_feathers", "tiger_stripes"}
_AFTER_FACE_DETAILS = {"shell"}  # drawn after the face, because they cover the lower body


# ---------------------------------------------------------------------------------------------------------
# Faces: one function per emotion, drawing eyes, brows, mouth and the marks around the head.

@dataclass
class Face:
    """Where the face is and how big its parts are, jittered per sticker."""

    eye_y: float
    eye_gap: float
    eye_size: float
    mouth_y: float
    mouth_width: float
    eye_ink: str | RGBA
    ink: RGBA


def _sparkle(pen: Pen, x: float, y: float, r: float, colour: str = "#ffd54f") -> None:
    points = []
    for i in range(8):
        radius = r if i % 2 == 0 else r * 0.32
        a = math.pi / 4 * i - math.pi / 2
        points.append((x + radius * math.cos(a), y + radius * math.sin(a)))
    pen.polygon(points, fill=colour, outline="ink", width=0.6)


def _drop(pen: Pen, x: float, y: float, r: float, colour: str = "#7fc8f8", angle: float = 0.0) -> None:
    points = []
    for i in range(32):
        t = 2 * math.pi * i / 32
        points.append((x + r * math.sin(t) * abs(math.sin(t / 2)), y - r * 1.4 * math.cos(t)))
    pen.polygon(_rotated(points, angle, (x, y)), fill=colour, outline="ink", width=0.6)


def _exclamation(pen: Pen, x: float, y: float, size: float, colour: str) -> None:
    pen.polygon([(x - 0.09 * size, y - 0.5 * size), (x + 0.09 * size, y - 0.5 * size), (x + 0.035 * size, y + 0.12 * size),
                 (x - 0.035 * size, y + 0.12 * size)], fill=colour, outline="ink", width=0.7)
    pen.ellipse(x, y + 0.3 * size, 0.07 * size, 0.07 * size, fill=colour, outline="ink", width=0.7)


def _puff(pen: Pen, x: float, y: float, r: float) -> None:
    for dx, dy, rr in ((0, 0, 1.0), (-0.8, 0.3, 0.7), (0.8, 0.3, 0.7)):
        pen.ellipse(x + dx * r, y + dy * r, rr * r, rr * r, fill="#eceff1", outline="ink", width=0.6)


def _vein(pen: Pen, x: float, y: float, r: float) -> None:
    for angle in (45, 135, 225, 315):
        a = math.radians(angle)
        cx, cy = x + r * 0.75 * math.cos(a), y + r * 0.75 * math.sin(a)
        pen.arc(cx, cy, r * 0.45, r * 0.45, angle + 180 - 50, angle + 180 + 50, fill="#e53935", width=1.3)


def _dot_eyes(pen: Pen, face: Face, scale: float = 1.0, look: float = 0.0) -> None:
    for side in (-1, 1):
        pen.ellipse(side * face.eye_gap + look, face.eye_y, face.eye_size * 0.55 * scale,
                    face.eye_size * 0.7 * scale, fill=face.eye_ink)


def _glossy_eyes(pen: Pen, face: Face, scale: float = 1.0) -> None:
    for side in (-1, 1):
        x, y, r = side * face.eye_gap, face.eye_y, face.eye_size * scale
        pen.ellipse(x, y, r * 0.8, r, fill=face.eye_ink)
        pen.ellipse(x - r * 0.25, y - r * 0.35, r * 0.3, r * 0.3, fill="#ffffff")


def _wide_eyes(pen: Pen, face: Face, scale: float, pupil: float) -> None:
    for side in (-1, 1):
        x, y, r = side * face.eye_gap, face.eye_y, face.eye_size * scale
        pen.ellipse(x, y, r, r * 1.1, fill="#ffffff", outline=face.eye_ink, width=1.1)
        pen.ellipse(x, y, r * pupil, r * pupil, fill=face.eye_ink)


def _brows(pen: Pen, face: Face, inner_dy: float, outer_dy: float, lift: float, width: float = 1.2) -> None:
    """Brow lines above the eyes; inner_dy > 0 lowers the inner end (anger), < 0 raises it (sadness)."""
    for side in (-1, 1):
        x = side * face.eye_gap
        y = face.eye_y - face.eye_size * 1.9 - lift
        pen.line([(x + side * 0.15, y + outer_dy), (x - side * 0.13, y + inner_dy)], fill=face.ink, width=width)


def _cheeks(pen: Pen, face: Face, colour: str, size: float = 1.0) -> None:
    for side in (-1, 1):
        pen.ellipse(side * (face.eye_gap + 0.16), face.eye_y + 0.22, 0.15 * size, 0.08 * size, fill=colour)


def _face_happiness(pen: Pen, face: Face, rng: random.Random) -> None:
    for side in (-1, 1):
        pen.arc(side * face.eye_gap, face.eye_y + face.eye_size * 0.5, face.eye_size * 1.05, face.eye_size * 0.95,
                200, 340, fill=face.eye_ink, width=1.5)
    _cheeks(pen, face, "#ff9eb5")
    w, y = face.mouth_width, face.mouth_y
    if rng.random() < 0.65:
        pen.polygon(_ellipse_points(0, y - 0.04, w, w * 0.9, 24, 0, 180), fill="#b23a48", outline="ink", width=1.0)
        pen.polygon(_ellipse_points(0, y + w * 0.45, w * 0.5, w * 0.35, 16, 180, 360)
                    + _ellipse_points(0, y + w * 0.45, w * 0.5, w * 0.3, 16, 0, 180), fill="#ff8a9a")
    else:
        pen.arc(0, y - 0.06, w, w * 0.75, 20, 160, width=1.5)
    for _ in range(rng.randint(2, 3)):
        side = rng.choice((-1, 1))
        _sparkle(pen, side * rng.uniform(1.0, 1.25), rng.uniform(-1.1, -0.2), rng.uniform(0.16, 0.24))
    if rng.random() < 0.35:
        _sparkle(pen, rng.uniform(-0.4, 0.4), -1.25, 0.1, "#ff9eb5")


def _face_sadness(pen: Pen, face: Face, rng: random.Random) -> None:
    _brows(pen, face, inner_dy=-0.12, outer_dy=0.06, lift=0.0)
    if rng.random() < 0.5:
        _glossy_eyes(pen, face, 1.05)
    else:
        for side in (-1, 1):
            pen.arc(side * face.eye_gap, face.eye_y - face.eye_size * 0.3, face.eye_size * 0.95, face.eye_size * 0.8,
                    20, 160, fill=face.eye_ink, width=1.4)
    for side in (-1, 1):
        x = side * face.eye_gap
        if rng.random() < 0.6:
            pen.polygon([(x - 0.07, face.eye_y + face.eye_size * 0.7), (x + 0.07, face.eye_y + face.eye_size * 0.7),
                         (x + 0.05, face.eye_y + 0.55), (x - 0.05, face.eye_y + 0.55)], fill="#8fd3ff")
        else:
            _drop(pen, x + side * 0.05, face.eye_y + 0.3, 0.07)
    w, y = face.mouth_width * 0.8, face.mouth_y
    pen.arc(0, y + 0.08, w, w * 0.6, 205, 335, width=1.4)
    if rng.random() < 0.45:  # a small rain cloud over the head
        x = rng.uniform(0.7, 1.0) * rng.choice((-1, 1))
        for dx, r in ((-0.13, 0.13), (0.0, 0.17), (0.14, 0.13)):
            pen.ellipse(x + dx, -1.2, r, r * 0.85, fill="#90a4ae", outline="ink", width=0.5)
        for dx in (-0.1, 0.05):
            pen.line([(x + dx, -1.0), (x + dx - 0.04, -0.88)], fill="#4fc3f7", width=1.0)


def _face_anger(pen: Pen, face: Face, rng: random.Random) -> None:
    _brows(pen, face, inner_dy=0.12, outer_dy=-0.08, lift=-0.04, width=1.8)
    for side in (-1, 1):
        x, y, r = side * face.eye_gap, face.eye_y + 0.02, face.eye_size
        pen.polygon([(x - side * r * 0.9, y - r * 0.35), (x + side * r * 0.9, y + r * 0.1), (x, y + r * 0.8)],
                    fill=face.eye_ink)
    w, y = face.mouth_width * 1.1, face.mouth_y + 0.03
    pen.rounded_rect(-w, y - w * 0.42, w, y + w * 0.42, 0.06, fill="#ffffff", outline="ink", width=1.0)
    pen.line([(-w, y), (w, y)], width=0.5)
    for i in range(1, 4):
        x = -w + 2 * w * i / 4
        pen.line([(x, y - w * 0.42), (x, y + w * 0.42)], width=0.5)
    _cheeks(pen, face, "#ff5252", 1.15)
    if rng.random() < 0.8:
        _vein(pen, rng.uniform(0.45, 0.7) * rng.choice((-1, 1)), -0.6, 0.14)
    if rng.random() < 0.75:
        for side in (-1, 1):
            _puff(pen, side * rng.uniform(0.95, 1.15), rng.uniform(-1.05, -0.85), 0.11)


def _face_surprise(pen: Pen, face: Face, rng: random.Random) -> None:
    _wide_eyes(pen, face, 1.25, 0.38)
    for side in (-1, 1):
        pen.arc(side * face.eye_gap, face.eye_y - face.eye_size * 1.6, 0.13, 0.08, 200, 340, fill=face.ink, width=1.2)
    w, y = face.mouth_width * 0.55, face.mouth_y + 0.02
    pen.ellipse(0, y, w, w * 1.25, fill="#5d2a2a", outline="ink", width=1.0)
    side = rng.choice((-1, 1))
    _exclamation(pen, side * rng.uniform(1.05, 1.25), rng.uniform(-1.0, -0.7), 0.6, "#ffca28")
    if rng.random() < 0.5:
        _exclamation(pen, side * rng.uniform(0.75, 0.85), rng.uniform(-1.25, -1.1), 0.45, "#ffca28")
    for angle in (-150, -120, -60, -30):
        a = math.radians(angle + rng.uniform(-6, 6))
        pen.line([(1.05 * math.cos(a), 1.05 * math.sin(a)), (1.25 * math.cos(a), 1.25 * math.sin(a))], width=0.9)


def _face_fear(pen: Pen, face: Face, rng: random.Random) -> None:
    _brows(pen, face, inner_dy=-0.1, outer_dy=0.05, lift=0.02, width=1.0)
    _wide_eyes(pen, face, 1.1, 0.22)
    w, y = face.mouth_width, face.mouth_y
    wave = [(-w + 2 * w * i / 16, y + 0.05 * math.sin(i * math.pi / 2)) for i in range(17)]
    pen.line(wave, width=1.2)
    for _ in range(rng.randint(1, 3)):
        side = rng.choice((-1, 1))
        _drop(pen, side * rng.uniform(0.8, 1.05), rng.uniform(-0.75, -0.35), 0.09, angle=side * 20)
    for x in (-0.25, -0.08, 0.08, 0.25):
        pen.line([(x, -0.82), (x, -0.58 + rng.uniform(-0.04, 0.04))], fill="#3f51b5", width=0.8)
    for side in (-1, 1):
        for k in range(2):
            r = 1.12 + 0.13 * k
            pen.arc(0, 0.05, r, r * 0.85, (-25 if side > 0 else 155), (25 if side > 0 else 205),
                    width=0.8)


def _face_disgust(pen: Pen, face: Face, rng: random.Random) -> None:
    look = face.eye_size * 0.5 * rng.choice((-1, 1))
    for side in (-1, 1):
        x, y, r = side * face.eye_gap, face.eye_y, face.eye_size
        pen.line([(x - r * 1.05, y - r * 0.1), (x + r * 1.05, y - r * 0.1)], fill=face.eye_ink, width=1.3)
        pen.polygon(_ellipse_points(x + look, y - r * 0.1, r * 0.55, r * 0.65, 16, 0, 180), fill=face.eye_ink)
    _brows(pen, face, inner_dy=0.04, outer_dy=0.02, lift=-0.06, width=1.1)
    for dy in (-0.05, 0.02, 0.09):
        pen.arc(0, face.eye_y + dy, 0.07, 0.035, 200, 340, width=0.6)
    w, y = face.mouth_width, face.mouth_y
    wave = [(-w + 2 * w * i / 12, y + 0.03 * math.sin(i * math.pi / 3)) for i in range(13)]
    tongue_x = rng.uniform(-0.3, 0.3) * w
    pen.polygon(_ellipse_points(tongue_x, y, w * 0.38, w * 0.7, 16, 0, 180), fill="#ff7a8f", outline="ink",
                width=0.8)
    pen.line([(tongue_x, y + 0.02), (tongue_x, y + w * 0.4)], fill="#d64b63", width=0.6)
    pen.line(wave, width=1.2)
    for _ in range(rng.randint(1, 2)):
        x = rng.choice((-1, 1)) * rng.uniform(0.95, 1.2)
        wiggle = [(x + 0.05 * math.sin(i * math.pi / 2), -0.3 - 0.08 * i) for i in range(6)]
        pen.line(wiggle, fill="#7cb342", width=1.0)


def _face_neutral(pen: Pen, face: Face, rng: random.Random) -> None:
    _dot_eyes(pen, face, 0.9)
    w = face.mouth_width * 0.6
    pen.line([(-w, face.mouth_y), (w, face.mouth_y)], width=1.2)
    if rng.random() < 0.35:
        for i in range(3):
            pen.ellipse(0.85 + 0.15 * i, -0.95, 0.035, 0.035, fill="ink")


_FACES: dict[str, Callable[[Pen, Face, random.Random], None]] = {
    "happiness": _face_happiness, "sadness": _face_sadness, "anger": _face_anger, "surprise": _face_surprise,
    "fear": _face_fear, "disgust": _face_disgust, "neutral": _face_neutral,
}

# A translucent colour over part of the body (clipped to the silhouette): (colour, alpha, full_y, zero_y).
_TINTS: dict[str, tuple[str, int, float, float]] = {
    "fear": ("#3f6fd8", 125, -0.9, 0.0),
    "disgust": ("#4caf50", 140, 0.9, 0.0),
    "anger": ("#ff3b30", 105, -1.0, -0.3),
}


# ---------------------------------------------------------------------------------------------------------
# Variants: hands and props.

def _hand(pen: Pen, c: Character, x: float, y: float, r: float = 0.17) -> None:
    pen.ellipse(x, y, r, r * 0.92, fill=c.fill, outline="ink", width=0.9)


def _rest_hands(pen: Pen, c: Character, sides: Sequence[int] = (-1, 1)) -> None:
    for side in sides:
        _hand(pen, c, side * 0.86, 0.45)


def _variant_wave(pen: Pen, c: Character, rng: random.Random) -> None:
    side = rng.choice((-1, 1))
    _rest_hands(pen, c, (-side,))
    _hand(pen, c, side * 1.02, -0.36, 0.23)
    for k in range(2):
        pen.arc(side * 1.02, -0.36, 0.36 + 0.13 * k, 0.36 + 0.13 * k, (-80 if side > 0 else 200),
                (-20 if side > 0 else 260), width=1.0)


def _heart(pen: Pen, x: float, y: float, r: float, colour: str = "#ff5c7a") -> None:
    points = []
    for i in range(48):
        t = 2 * math.pi * i / 48
        hx = 16 * math.sin(t) ** 3
        hy = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((x + hx / 16 * r, y - hy / 16 * r))
    pen.polygon(points, fill=colour, outline="ink", width=0.9)


def _variant_heart_hands(pen: Pen, c: Character, rng: random.Random) -> None:
    _heart(pen, 0, 0.72, 0.46)
    _hand(pen, c, -0.46, 0.66, 0.2)
    _hand(pen, c, 0.46, 0.66, 0.2)
    for _ in range(rng.randint(1, 2)):
        _heart(pen, rng.choice((-1, 1)) * rng.uniform(1.05, 1.2), rng.uniform(-0.95, -0.5), 0.16)


def _variant_clap(pen: Pen, c: Character, rng: random.Random) -> None:
    _hand(pen, c, -0.1, 0.74, 0.23)
    _hand(pen, c, 0.12, 0.7, 0.23)
    for angle in (150, 180, 210, -30, 0, 30):
        a = math.radians(angle)
        pen.line([(0.01 + 0.36 * math.cos(a), 0.72 + 0.36 * math.sin(a)),
                  (0.01 + 0.56 * math.cos(a), 0.72 + 0.56 * math.sin(a))], width=1.0)


def _variant_thumbs_up(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    pen.rounded_rect(0.93, -0.22, 1.11, 0.2, 0.09, fill=c.fill, outline="ink", width=1.0)
    pen.rounded_rect(0.8, 0.08, 1.26, 0.52, 0.16, fill=c.fill, outline="ink", width=1.0)
    for y in (0.22, 0.33, 0.44):
        pen.line([(0.82, y), (0.98, y)], width=0.6)
    _sparkle(pen, 1.28, -0.3, 0.12)


def _variant_phone(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    body = _rotated([(0.76, -0.2), (1.2, -0.2), (1.2, 0.62), (0.76, 0.62)], 12, (0.98, 0.21))
    pen.polygon(chaikin(body, 1), fill="#37474f", outline="ink", width=1.0)
    screen = _rotated([(0.82, -0.11), (1.14, -0.11), (1.14, 0.5), (0.82, 0.5)], 12, (0.98, 0.21))
    pen.polygon(screen, fill="#81d4fa")
    for k in range(3):
        line = _rotated([(0.88, 0.0 + 0.12 * k), (1.08 - 0.06 * k, 0.0 + 0.12 * k)], 12, (0.98, 0.21))
        pen.line(line, fill="#ffffff", width=0.9)
    _hand(pen, c, 0.86, 0.5, 0.2)


def _variant_bubble_tea(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    pen.polygon([(0.7, -0.18), (1.32, -0.18), (1.24, 0.78), (0.78, 0.78)], fill="#e8c39e", outline="ink",
                width=1.0)
    pen.rounded_rect(0.66, -0.28, 1.36, -0.15, 0.04, fill="#ffffff", outline="ink", width=0.9)
    pen.line([(1.08, -0.28), (1.2, -0.72)], fill="#ef5350", width=2.2)
    for x, y in ((0.88, 0.66), (1.02, 0.64), (1.16, 0.66), (0.95, 0.52), (1.1, 0.51)):
        pen.ellipse(x, y, 0.055, 0.055, fill="#3e2723")
    _hand(pen, c, 0.74, 0.36, 0.19)


def _variant_blanket(pen: Pen, c: Character, rng: random.Random) -> None:
    points = [(-1.25, 0.25), (-0.6, 0.12), (0.0, 0.2), (0.6, 0.12), (1.25, 0.25), (1.2, 1.08), (-1.2, 1.08)]
    colour = rng.choice(("#90caf9", "#ce93d8", "#a5d6a7", "#ffcc80"))
    pen.polygon(chaikin(points, 2), fill=colour, outline="ink", width=1.0)
    for x in (-0.6, 0.0, 0.6):
        pen.line([(x, 0.3), (x + 0.05, 1.0)], fill="#ffffff", width=1.0)
    for y in (0.55, 0.82):
        pen.line([(-1.08, y), (1.08, y)], fill="#ffffff", width=1.0)
    _hand(pen, c, -0.3, 0.22, 0.17)
    _hand(pen, c, 0.34, 0.24, 0.17)


def _variant_umbrella(pen: Pen, c: Character, rng: random.Random) -> None:
    colour = rng.choice(("#ef5350", "#42a5f5", "#ffb300", "#ab47bc"))
    top = (0.5, -1.05)
    canopy = _ellipse_points(top[0], top[1], 1.15, 0.6, 32, 180, 360)
    scallops = []
    for i in range(4):
        x0 = top[0] + 1.15 - 2.3 * i / 4
        scallops += _ellipse_points(x0 - 0.2875, top[1], 0.2875, 0.14, 8, 0, 180)
    pen.polygon(_rotated(canopy + scallops, 12, top), fill=colour, outline="ink", width=1.0)
    pen.line([top, (0.95, 0.42), (1.05, 0.52)], fill="#5d4037", width=1.4)
    _hand(pen, c, 0.93, 0.38, 0.18)
    _rest_hands(pen, c, (-1,))
    for _ in range(4):
        x = rng.uniform(-1.3, 1.4)
        y = rng.uniform(-1.55, -1.35) if x > -0.6 else rng.uniform(-1.0, 0.4)
        pen.line([(x, y), (x - 0.04, y + 0.14)], fill="#4fc3f7", width=1.0)


def _variant_book(pen: Pen, c: Character, rng: random.Random) -> None:
    colour = rng.choice(("#e57373", "#64b5f6", "#81c784"))
    pen.polygon([(-0.78, 0.34), (0.0, 0.46), (0.0, 1.06), (-0.78, 0.94)], fill="#ffffff", outline="ink",
                width=1.0)
    pen.polygon([(0.78, 0.34), (0.0, 0.46), (0.0, 1.06), (0.78, 0.94)], fill="#ffffff", outline="ink", width=1.0)
    pen.line([(-0.8, 0.96), (0.0, 1.08), (0.8, 0.96)], fill=colour, width=2.2)
    for k in range(4):
        y = 0.54 + 0.11 * k
        pen.line([(-0.66, y - 0.07), (-0.12, y + 0.02)], width=0.6)
        pen.line([(0.12, y + 0.02), (0.66, y - 0.07)], width=0.6)
    _hand(pen, c, -0.84, 0.66, 0.19)
    _hand(pen, c, 0.84, 0.66, 0.19)


def _variant_gift(pen: Pen, c: Character, rng: random.Random) -> None:
    box, ribbon = rng.choice((("#ef5350", "#ffd54f"), ("#42a5f5", "#f48fb1"), ("#66bb6a", "#ef5350")))
    pen.rounded_rect(0.56, 0.14, 1.34, 0.9, 0.05, fill=box, outline="ink", width=1.0)
    pen.rounded_rect(0.5, 0.0, 1.4, 0.22, 0.04, fill=box, outline="ink", width=1.0)
    pen.rounded_rect(0.88, 0.0, 1.02, 0.9, 0.0, fill=ribbon)
    for side in (-1, 1):
        pen.polygon([(0.95, 0.0), (0.95 + side * 0.3, -0.22), (0.95 + side * 0.26, 0.04)], fill=ribbon,
                    outline="ink", width=0.8)
    _hand(pen, c, 0.56, 0.6, 0.19)
    _rest_hands(pen, c, (-1,))


def _variant_coffee(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    pen.rounded_rect(0.68, 0.0, 1.2, 0.66, 0.08, fill="#ffffff", outline="ink", width=1.0)
    pen.rounded_rect(0.68, 0.22, 1.2, 0.4, 0.0, fill=rng.choice(("#8d6e63", "#4db6ac", "#f06292")))
    pen.rounded_rect(0.68, 0.0, 1.2, 0.66, 0.08, outline="ink", width=1.0)
    pen.arc(1.22, 0.32, 0.13, 0.16, -90, 90, width=1.1)
    pen.ellipse(0.94, 0.04, 0.24, 0.05, fill="#6d4c41")
    for dx in (-0.1, 0.1):
        wiggle = [(0.94 + dx + 0.05 * math.sin(i * 1.6), -0.08 - 0.09 * i) for i in range(5)]
        pen.line(wiggle, fill="#9e9e9e", width=1.0)
    _hand(pen, c, 0.7, 0.5, 0.19)


def _variant_flower(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    pen.line([(0.92, 0.5), (1.06, -0.3)], fill="#43a047", width=1.6)
    pen.polygon(_rotated(_ellipse_points(1.2, 0.1, 0.16, 0.07), -30, (1.04, 0.1)), fill="#66bb6a", outline="ink",
                width=0.6)
    _flower(pen, 1.07, -0.48, 0.2, rng.choice(("#f48fb1", "#ffb74d", "#ce93d8")))
    _hand(pen, c, 0.92, 0.48, 0.19)


def _variant_balloon(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    colour = rng.choice(("#ef5350", "#42a5f5", "#ffca28", "#ab47bc"))
    pen.line([(0.95, 0.4), (1.05, 0.0), (0.98, -0.4), (1.08, -0.62)], fill="#616161", width=0.7)
    pen.ellipse(1.08, -0.98, 0.34, 0.4, fill=colour, outline="ink", width=1.0)
    pen.polygon([(1.08, -0.6), (1.02, -0.52), (1.14, -0.52)], fill=colour, outline="ink", width=0.7)
    pen.ellipse(0.98, -1.12, 0.07, 0.11, fill="#ffffff")
    _hand(pen, c, 0.92, 0.45, 0.19)


def _variant_ice_cream(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    pen.polygon([(0.74, -0.05), (1.26, -0.05), (1.0, 0.72)], fill="#e0b27a", outline="ink", width=1.0)
    for k in range(3):
        pen.line([(0.84 + 0.14 * k, -0.02), (0.95 + 0.1 * k, 0.3)], fill="#b3834f", width=0.6)
    flavour = rng.choice(("#f8bbd0", "#fff3e0", "#c5e1a5"))
    pen.ellipse(1.0, -0.2, 0.28, 0.24, fill=flavour, outline="ink", width=1.0)
    pen.ellipse(1.0, -0.45, 0.06, 0.06, fill="#e53935")
    _hand(pen, c, 0.92, 0.5, 0.19)


def _variant_game(pen: Pen, c: Character, rng: random.Random) -> None:
    pen.rounded_rect(-0.72, 0.42, 0.72, 0.98, 0.26, fill="#5c6bc0", outline="ink", width=1.0)
    pen.line([(-0.5, 0.7), (-0.22, 0.7)], fill="#ffffff", width=1.6)
    pen.line([(-0.36, 0.56), (-0.36, 0.84)], fill="#ffffff", width=1.6)
    pen.ellipse(0.28, 0.62, 0.075, 0.075, fill="#ffca28")
    pen.ellipse(0.46, 0.76, 0.075, 0.075, fill="#ef5350")
    _hand(pen, c, -0.74, 0.72, 0.19)
    _hand(pen, c, 0.74, 0.72, 0.19)


def _variant_mic(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    pen.line([(0.78, 0.58), (0.56, 0.24)], fill="#424242", width=3.0)
    pen.ellipse(0.5, 0.12, 0.17, 0.17, fill="#9e9e9e", outline="ink", width=1.0)
    for k in (-1, 1):
        pen.line([(0.5 + 0.1 * k, 0.0), (0.5 + 0.1 * k, 0.24)], fill="#616161", width=0.5)
    _hand(pen, c, 0.78, 0.56, 0.19)
    for k in range(2):
        x, y = 1.08 + 0.16 * k, -0.55 - 0.3 * k
        pen.ellipse(x, y, 0.08, 0.06, fill="ink")
        pen.line([(x + 0.07, y - 0.01), (x + 0.07, y - 0.3)], width=0.9)


def _variant_cake(pen: Pen, c: Character, rng: random.Random) -> None:
    pen.rounded_rect(-0.6, 0.46, 0.6, 1.0, 0.06, fill="#fff3e0")
    pen.rounded_rect(-0.6, 0.46, 0.6, 0.64, 0.06, fill="#f48fb1")
    pen.rounded_rect(-0.6, 0.46, 0.6, 1.0, 0.06, outline="ink", width=1.0)
    for x in (-0.3, 0.0):
        pen.ellipse(x, 0.55, 0.06, 0.06, fill="#e53935")
    pen.rounded_rect(0.27, 0.2, 0.35, 0.46, 0.0, fill="#64b5f6", outline="ink", width=0.5)
    pen.polygon(_ellipse_points(0.31, 0.12, 0.05, 0.09), fill="#ffb300")
    _hand(pen, c, -0.66, 0.76, 0.19)
    _hand(pen, c, 0.66, 0.76, 0.19)


def _variant_headphones(pen: Pen, c: Character, rng: random.Random) -> None:
    colour = rng.choice(("#ef5350", "#26a69a", "#7e57c2"))
    pen.arc(0, -0.1, 1.0, 1.0, 190, 350, fill="#424242", width=2.2)
    for side in (-1, 1):
        pen.rounded_rect(side * 1.0 - 0.16, -0.4, side * 1.0 + 0.16, 0.1, 0.1, fill=colour, outline="ink",
                         width=1.0)
    _rest_hands(pen, c)
    for k in range(2):
        x, y = 1.12 + 0.16 * k, -0.72 - 0.28 * k
        pen.ellipse(x, y, 0.07, 0.055, fill="ink")
        pen.line([(x + 0.06, y - 0.01), (x + 0.06, y - 0.26)], width=0.9)


def _variant_laptop(pen: Pen, c: Character, rng: random.Random) -> None:
    pen.polygon([(-0.66, 0.3), (0.66, 0.3), (0.58, 0.8), (-0.58, 0.8)], fill="#b0bec5", outline="ink", width=1.0)
    pen.ellipse(0, 0.55, 0.07, 0.07, fill="#ffffff")
    pen.rounded_rect(-0.8, 0.8, 0.8, 0.94, 0.04, fill="#90a4ae", outline="ink", width=1.0)
    _hand(pen, c, -0.78, 0.78, 0.19)
    _hand(pen, c, 0.78, 0.78, 0.19)


def _variant_pencil(pen: Pen, c: Character, rng: random.Random) -> None:
    _rest_hands(pen, c, (-1,))
    centre = (0.98, 0.1)
    body = _rotated([(0.89, -0.5), (1.07, -0.5), (1.07, 0.52), (0.89, 0.52)], 22, centre)
    pen.polygon(body, fill="#ffca28", outline="ink", width=0.9)
    eraser = _rotated([(0.89, -0.64), (1.07, -0.64), (1.07, -0.5), (0.89, -0.5)], 22, centre)
    pen.polygon(eraser, fill="#f48fb1", outline="ink", width=0.9)
    tip = _rotated([(0.89, 0.52), (1.07, 0.52), (0.98, 0.74)], 22, centre)
    pen.polygon(tip, fill="#ffe0b2", outline="ink", width=0.9)
    _hand(pen, c, 0.94, 0.2, 0.19)


def _variant_suitcase(pen: Pen, c: Character, rng: random.Random) -> None:
    colour = rng.choice(("#ff7043", "#5c6bc0", "#26a69a"))
    pen.line([(0.86, 0.22), (0.86, -0.12), (1.2, -0.12), (1.2, 0.22)], width=1.4)
    pen.rounded_rect(0.66, 0.2, 1.38, 1.02, 0.1, fill=colour, outline="ink", width=1.0)
    for x in (0.86, 1.18):
        pen.line([(x, 0.28), (x, 0.94)], fill="#ffffff", width=0.9)
    _hand(pen, c, 0.86, -0.02, 0.18)
    _rest_hands(pen, c, (-1,))


def _variant_camera(pen: Pen, c: Character, rng: random.Random) -> None:
    pen.rounded_rect(-0.66, 0.38, 0.66, 0.98, 0.1, fill="#455a64", outline="ink", width=1.0)
    pen.rounded_rect(-0.24, 0.28, 0.16, 0.4, 0.03, fill="#455a64", outline="ink", width=0.9)
    pen.ellipse(0, 0.68, 0.24, 0.24, fill="#90caf9", outline="ink", width=1.0)
    pen.ellipse(0, 0.68, 0.11, 0.11, fill="#37474f")
    pen.ellipse(0.42, 0.5, 0.06, 0.045, fill="#ffeb3b")
    _hand(pen, c, -0.7, 0.7, 0.19)
    _hand(pen, c, 0.7, 0.7, 0.19)


_VARIANTS: dict[str, Callable[[Pen, Character, random.Random], None]] = {
    "wave": _variant_wave, "heart_hands": _variant_heart_hands, "clap": _variant_clap,
    "thumbs_up": _variant_thumbs_up, "phone": _variant_phone, "bubble_tea": _variant_bubble_tea,
    "blanket": _variant_blanket, "umbrella": _variant_umbrella, "book": _variant_book, "gift": _variant_gift,
    "coffee": _variant_coffee, "flower": _variant_flower, "balloon": _variant_balloon,
    "ice_cream": _variant_ice_cream, "game": _variant_game, "mic": _variant_mic, "cake": _variant_cake,
    "headphones": _variant_headphones, "laptop": _variant_laptop, "pencil": _variant_pencil,
    "suitcase": _variant_suitcase, "camera": _variant_camera,
}
# Gestures and props a sticker can show; the dialogue grammar has phrases for each of them.
VARIANTS: tuple[str, ...] = tuple(_VARIANTS)


# ---------------------------------------------------------------------------------------------------------
# Composition.

# Blurred alpha -> outline alpha: a steep ramp just outside the silhouette gives an even, smooth outline.
_OUTLINE_RAMP = [0 if v < 6 else (255 if v > 22 else (v - 6) * 255 // 16) for v in range(256)]


def _outline(body: Image.Image, ink: RGBA, width_px: float) -> Image.Image:
    """A layer of `ink` around the body's silhouette: its alpha dilated by about `width_px` pixels."""
    alpha = body.getchannel("A")
    sigma = max(0.6, width_px / 1.7)
    ramp = alpha.filter(ImageFilter.GaussianBlur(sigma)).point(_OUTLINE_RAMP)
    layer = Image.new("RGBA", body.size, ink)
    layer.putalpha(ramp)
    return layer


def _tint(body_alpha: Image.Image, pen: Pen, colour: str, strength: int, full_y: float, zero_y: float) -> Image.Image:
    """`colour` over the body, full at height `full_y` and fading out towards `zero_y` (body units)."""
    size = body_alpha.size
    ramp = np.clip((pen.body_y(size) - zero_y) / (full_y - zero_y), 0.0, 1.0)
    mask = np.asarray(body_alpha, dtype=np.float32) / 255.0 * ramp * strength
    layer = Image.new("RGBA", size, hex_rgba(colour))
    layer.putalpha(Image.fromarray(mask.astype(np.uint8), "L"))
    return layer


# Props held in front of the body, by the height of their top edge: they move down below the mouth.
_FRONT_PROP_TOP = {"heart_hands": 0.37, "clap": 0.47, "book": 0.34, "game": 0.42, "cake": 0.46, "laptop": 0.3,
                   "camera": 0.28, "blanket": 0.15}

# Variants whose prop reaches far to the right or up: the character moves left and shrinks a little.
_ROOMY_VARIANTS = {"umbrella", "balloon", "suitcase", "gift", "bubble_tea", "phone", "coffee", "ice_cream", "flower",
                   "thumbs_up", "pencil"}


@dataclass(frozen=True)
class Pose:
    """Per-sticker placement: centre, scale, rotation and line width, drawn from a seeded RNG."""

    dx: float
    dy: float
    scale: float
    rotation: float
    line_factor: float

    @staticmethod
    def draw(rng: random.Random, variant: str | None) -> "Pose":
        roomy = variant in _ROOMY_VARIANTS
        return Pose(dx=rng.uniform(-0.04, 0.04) - (0.05 if roomy else 0.0), dy=rng.uniform(-0.03, 0.03),
                    scale=rng.uniform(0.84, 1.02) * (0.9 if roomy else 1.0), rotation=rng.uniform(-11, 11),
                    line_factor=rng.uniform(0.8, 1.25))


def draw_sticker(character: Character, emotion: str, variant: str | None, rng: random.Random,
                 size: int = 128) -> Image.Image:
    """One sticker as an RGB image: `character` showing `emotion`, with gesture/prop `variant` (or resting hands)."""
    if emotion not in _FACES:
        raise ValueError(f"unknown emotion {emotion!r}")
    if variant is not None and variant not in _VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    canvas = size * SUPERSAMPLE
    pose = Pose.draw(rng, variant)
    radius = 0.3 * canvas * pose.scale
    centre = (canvas * (0.5 + pose.dx), canvas * (0.57 + pose.dy))
    line_px = character.line * SUPERSAMPLE * pose.line_factor * (canvas / (128 * SUPERSAMPLE)) * pose.scale

    ink = hex_rgba(character.ink)

    body = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    body_pen = Pen(body, centre, radius, line_px, ink, pose.rotation)
    for name in character.details:
        if name in _SILHOUETTE_DETAILS:
            _SILHOUETTE_DETAILS[name](body_pen, character)
    _EARS[character.ears](body_pen, character)
    _BODIES[character.body](body_pen, character)
    _inner_ears(body_pen, character)
    body_alpha = body.getchannel("A")

    clipped = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    clipped_pen = body_pen.on(clipped)
    for name in character.details:
        if name in _CLIPPED_DETAILS:
            _DETAILS[name](clipped_pen, character)
    clipped_alpha = np.minimum(np.asarray(clipped.getchannel("A")), np.asarray(body_alpha))
    clipped.putalpha(Image.fromarray(clipped_alpha, "L"))
    body.alpha_composite(clipped)

    image = _outline(body, ink, line_px)
    image.alpha_composite(body)
    pen = body_pen.on(image)
    for name in character.details:
        if name in _DETAILS and name not in _CLIPPED_DETAILS and name not in _AFTER_FACE_DETAILS:
            _DETAILS[name](pen, character)
    if emotion in _TINTS:
        colour, strength, full_y, zero_y = _TINTS[emotion]
        image.alpha_composite(_tint(body_alpha, pen, colour, round(strength * rng.uniform(0.75, 1.15)),
                                    full_y, zero_y))

    face = Face(eye_y=character.eye_y + rng.uniform(-0.03, 0.03),
                eye_gap=character.eye_gap * rng.uniform(0.92, 1.08),
                eye_size=0.14 * rng.uniform(0.88, 1.12),
                mouth_y=character.mouth_y + rng.uniform(-0.02, 0.03),
                mouth_width=0.22 * rng.uniform(0.85, 1.15),
                eye_ink=hex_rgba(character.eye_ink) if character.eye_ink else ink, ink=ink)
    _FACES[emotion](pen, face, rng)
    for name in character.details:
        if name in _AFTER_FACE_DETAILS:
            _DETAILS[name](pen, character)
    if variant is None:
        _rest_hands(pen, character)
    else:
        drop = max(0.0, face.mouth_y + 0.17 - _FRONT_PROP_TOP.get(variant, 2.0))
        _VARIANTS[variant](pen.shifted(0.0, drop) if drop else pen, character, rng)

    image = image.resize((size, size), Image.Resampling.LANCZOS)
    background = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    background.alpha_composite(image)
    return background.convert("RGB")
