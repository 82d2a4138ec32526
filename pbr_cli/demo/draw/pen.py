"""The pen: colours, smooth outlines and the shapes every part of a sticker is drawn with."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]
RGBA = tuple[int, int, int, int]

SUPERSAMPLE = 2  # drawn at twice the output size, then downsampled: smooth edges without per-shape antialiasing


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


def _ellipse_points(
    x: float, y: float, rx: float, ry: float, steps: int = 48, start: float = 0.0, end: float = 360.0
) -> list[Point]:
    return [
        (
            x + rx * math.cos(math.radians(start + (end - start) * i / steps)),
            y + ry * math.sin(math.radians(start + (end - start) * i / steps)),
        )
        for i in range(steps + 1)
    ]


class Pen:
    """Draws in body units: (0, 0) is the body centre, 1 is the body radius, y grows downward.

    The whole frame is turned by `angle` degrees, so a sticker is drawn rotated rather than resampled.
    """

    def __init__(self, image: Image.Image, centre: Point, radius: float, line: float, ink: RGBA, angle: float = 0.0):
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

    def rounded_rect(
        self, x0: float, y0: float, x1: float, y1: float, radius: float, fill=None, outline=None, width: float = 1.0
    ) -> None:
        radius = min(radius, (x1 - x0) / 2, (y1 - y0) / 2)
        corners = (
            (x1 - radius, y1 - radius, 0),
            (x0 + radius, y1 - radius, 90),
            (x0 + radius, y0 + radius, 180),
            (x1 - radius, y0 + radius, 270),
        )
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

    def arc(
        self, x: float, y: float, rx: float, ry: float, start: float, end: float, fill="ink", width: float = 1.0
    ) -> None:
        self.line(_ellipse_points(x, y, rx, ry, 24, start, end), fill=fill, width=width)
