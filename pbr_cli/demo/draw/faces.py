"""Faces: one function per emotion, drawing eyes, brows, mouth and the marks around the head."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

from .pen import RGBA, Pen, _ellipse_points, _rotated


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
    pen.polygon(
        [
            (x - 0.09 * size, y - 0.5 * size),
            (x + 0.09 * size, y - 0.5 * size),
            (x + 0.035 * size, y + 0.12 * size),
            (x - 0.035 * size, y + 0.12 * size),
        ],
        fill=colour,
        outline="ink",
        width=0.7,
    )
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
        pen.ellipse(
            side * face.eye_gap + look,
            face.eye_y,
            face.eye_size * 0.55 * scale,
            face.eye_size * 0.7 * scale,
            fill=face.eye_ink,
        )


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
        pen.arc(
            side * face.eye_gap,
            face.eye_y + face.eye_size * 0.5,
            face.eye_size * 1.05,
            face.eye_size * 0.95,
            200,
            340,
            fill=face.eye_ink,
            width=1.5,
        )
    _cheeks(pen, face, "#ff9eb5")
    w, y = face.mouth_width, face.mouth_y
    if rng.random() < 0.65:
        pen.polygon(_ellipse_points(0, y - 0.04, w, w * 0.9, 24, 0, 180), fill="#b23a48", outline="ink", width=1.0)
        pen.polygon(
            _ellipse_points(0, y + w * 0.45, w * 0.5, w * 0.35, 16, 180, 360)
            + _ellipse_points(0, y + w * 0.45, w * 0.5, w * 0.3, 16, 0, 180),
            fill="#ff8a9a",
        )
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
            pen.arc(
                side * face.eye_gap,
                face.eye_y - face.eye_size * 0.3,
                face.eye_size * 0.95,
                face.eye_size * 0.8,
                20,
                160,
                fill=face.eye_ink,
                width=1.4,
            )
    for side in (-1, 1):
        x = side * face.eye_gap
        if rng.random() < 0.6:
            pen.polygon(
                [
                    (x - 0.07, face.eye_y + face.eye_size * 0.7),
                    (x + 0.07, face.eye_y + face.eye_size * 0.7),
                    (x + 0.05, face.eye_y + 0.55),
                    (x - 0.05, face.eye_y + 0.55),
                ],
                fill="#8fd3ff",
            )
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
        pen.polygon(
            [(x - side * r * 0.9, y - r * 0.35), (x + side * r * 0.9, y + r * 0.1), (x, y + r * 0.8)], fill=face.eye_ink
        )
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
            pen.arc(0, 0.05, r, r * 0.85, (-25 if side > 0 else 155), (25 if side > 0 else 205), width=0.8)


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
    pen.polygon(_ellipse_points(tongue_x, y, w * 0.38, w * 0.7, 16, 0, 180), fill="#ff7a8f", outline="ink", width=0.8)
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
    "happiness": _face_happiness,
    "sadness": _face_sadness,
    "anger": _face_anger,
    "surprise": _face_surprise,
    "fear": _face_fear,
    "disgust": _face_disgust,
    "neutral": _face_neutral,
}

# A translucent colour over part of the body (clipped to the silhouette): (colour, alpha, full_y, zero_y).
_TINTS: dict[str, tuple[str, int, float, float]] = {
    "fear": ("#3f6fd8", 125, -0.9, 0.0),
    "disgust": ("#4caf50", 140, 0.9, 0.0),
    "anger": ("#ff3b30", 105, -1.0, -0.3),
}
