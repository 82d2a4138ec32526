"""Variants: the hands, gestures and props a sticker can show."""

from __future__ import annotations

import math
import random
from typing import Callable, Sequence

from .characters import Character
from .details import _flower
from .faces import _sparkle
from .pen import Pen, _ellipse_points, _rotated, chaikin


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
        pen.arc(
            side * 1.02,
            -0.36,
            0.36 + 0.13 * k,
            0.36 + 0.13 * k,
            (-80 if side > 0 else 200),
            (-20 if side > 0 else 260),
            width=1.0,
        )


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
        pen.line(
            [
                (0.01 + 0.36 * math.cos(a), 0.72 + 0.36 * math.sin(a)),
                (0.01 + 0.56 * math.cos(a), 0.72 + 0.56 * math.sin(a)),
            ],
            width=1.0,
        )


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
    pen.polygon([(0.7, -0.18), (1.32, -0.18), (1.24, 0.78), (0.78, 0.78)], fill="#e8c39e", outline="ink", width=1.0)
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
    pen.polygon([(-0.78, 0.34), (0.0, 0.46), (0.0, 1.06), (-0.78, 0.94)], fill="#ffffff", outline="ink", width=1.0)
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
        pen.polygon(
            [(0.95, 0.0), (0.95 + side * 0.3, -0.22), (0.95 + side * 0.26, 0.04)], fill=ribbon, outline="ink", width=0.8
        )
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
    pen.polygon(
        _rotated(_ellipse_points(1.2, 0.1, 0.16, 0.07), -30, (1.04, 0.1)), fill="#66bb6a", outline="ink", width=0.6
    )
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
        pen.rounded_rect(side * 1.0 - 0.16, -0.4, side * 1.0 + 0.16, 0.1, 0.1, fill=colour, outline="ink", width=1.0)
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
    "wave": _variant_wave,
    "heart_hands": _variant_heart_hands,
    "clap": _variant_clap,
    "thumbs_up": _variant_thumbs_up,
    "phone": _variant_phone,
    "bubble_tea": _variant_bubble_tea,
    "blanket": _variant_blanket,
    "umbrella": _variant_umbrella,
    "book": _variant_book,
    "gift": _variant_gift,
    "coffee": _variant_coffee,
    "flower": _variant_flower,
    "balloon": _variant_balloon,
    "ice_cream": _variant_ice_cream,
    "game": _variant_game,
    "mic": _variant_mic,
    "cake": _variant_cake,
    "headphones": _variant_headphones,
    "laptop": _variant_laptop,
    "pencil": _variant_pencil,
    "suitcase": _variant_suitcase,
    "camera": _variant_camera,
}
# Gestures and props a sticker can show; the dialogue grammar has phrases for each of them.
VARIANTS: tuple[str, ...] = tuple(_VARIANTS)
