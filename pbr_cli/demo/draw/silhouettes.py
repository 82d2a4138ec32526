"""Silhouette parts (bodies, ears, silhouette details): drawn in their fill colours onto the body layer, outlined
together afterwards."""

from __future__ import annotations

import math
from typing import Callable, Sequence

from .characters import Character
from .pen import Pen, Point, _ellipse_points, _rotated, chaikin


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
    for x, y, r in (
        (-0.62, 0.15, 0.55),
        (0.62, 0.15, 0.55),
        (-0.3, -0.35, 0.58),
        (0.32, -0.4, 0.6),
        (0, 0.3, 0.62),
        (-0.8, 0.45, 0.4),
        (0.8, 0.45, 0.4),
    ):
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
    "round": _body_round,
    "wide": _body_wide,
    "tall": _body_tall,
    "egg": _body_egg,
    "square": _body_square,
    "capsule": _body_capsule,
    "ghost": _body_ghost,
    "triangle": _body_triangle,
    "star": _body_star,
    "cloud": _body_cloud,
    "drop": _body_drop,
    "dome": _body_dome,
    "mushroom": _body_mushroom,
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
        pen.polygon(
            _rotated(_ellipse_points(side * 0.36, -1.3, 0.2, 0.62), side * 10, (side * 0.36, -0.8)), fill=c.fill
        )


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
        pen.polygon(
            _rotated(_ellipse_points(side * 0.92, 0.42, 0.14, 0.34), side * -35, (side * 0.92, 0.42)), fill=c.fill
        )


def _ears_tentacles(pen: Pen, c: Character) -> None:
    for i in range(5):
        pen.ellipse(-0.8 + 0.4 * i, 0.88, 0.2, 0.22, fill=c.fill)


def _ears_spikes(pen: Pen, c: Character) -> None:
    for angle in (-140, -112, -90, -68, -40):
        a = math.radians(angle)
        base = (0.86 * math.cos(a), 0.05 + 0.96 * math.sin(a))
        tip = (1.22 * math.cos(a), 0.05 + 1.3 * math.sin(a))
        perp = (-math.sin(a) * 0.16, math.cos(a) * 0.16)
        pen.polygon(
            [(base[0] + perp[0], base[1] + perp[1]), tip, (base[0] - perp[0], base[1] - perp[1])], fill=c.accent
        )


def _ears_cactus_arms(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.rounded_rect(min(side * 0.5, side * 1.2), 0.08, max(side * 0.5, side * 1.2), 0.34, 0.13, fill=c.fill)
        pen.rounded_rect(side * 1.07 - 0.14, -0.55, side * 1.07 + 0.14, 0.34, 0.14, fill=c.fill)


def _ears_whale_tail(pen: Pen, c: Character) -> None:
    pen.polygon(chaikin([(0.9, 0.15), (1.35, -0.35), (1.3, 0.05), (1.5, 0.3), (1.0, 0.45)], 2), fill=c.fill)


def _ears_bee_wings(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.polygon(
            _rotated(_ellipse_points(side * 0.72, -0.95, 0.24, 0.38), side * 35, (side * 0.72, -0.95)), fill=c.light
        )


def _ears_bat(pen: Pen, c: Character) -> None:
    _pointed_ears(pen, c)
    _pair(
        pen,
        [(-0.8, 0.1), (-1.42, -0.3), (-1.3, 0.0), (-1.48, 0.2), (-1.25, 0.35), (-1.3, 0.6), (-0.8, 0.5)],
        fill=c.fill,
    )


def _tail(pen: Pen, c: Character, thickness: float) -> None:
    points = [(0.6, 0.75), (1.0, 0.85), (1.3, 0.72), (1.38, 0.48), (1.25, 0.36)]
    pen.line(points, fill=c.fill, width=thickness)


_EARS: dict[str, Callable[[Pen, Character], None]] = {
    "none": lambda pen, c: None,
    **{name: _pointed_ears for name in _POINTED_EARS},
    **{name: _round_ears for name in _ROUND_EARS},
    "rabbit": _ears_rabbit,
    "frog": _ears_frog,
    "tuft": _ears_tuft,
    "wool": _ears_wool,
    "flippers": _ears_flippers,
    "tentacles": _ears_tentacles,
    "spikes": _ears_spikes,
    "cactus_arms": _ears_cactus_arms,
    "whale_tail": _ears_whale_tail,
    "bee_wings": _ears_bee_wings,
    "bat": _ears_bat,
}

# Details that belong to the silhouette (outlined with it), drawn before the body.
_SILHOUETTE_DETAILS: dict[str, Callable[[Pen, Character], None]] = {
    "tail": lambda pen, c: _tail(pen, c, 3.5),
    "tail_thin": lambda pen, c: _tail(pen, c, 2.2),
    "tail_fox": lambda pen, c: pen.polygon(
        chaikin([(0.6, 0.7), (1.2, 0.75), (1.45, 0.2), (1.3, -0.25), (1.05, 0.25), (0.7, 0.35)], 2), fill=c.fill
    ),
}
