"""Decorations drawn over the body (no silhouette outline)."""

from __future__ import annotations

import math
from typing import Callable

from .characters import Character
from .pen import Pen, _ellipse_points, _mix, _rotated, chaikin
from .silhouettes import _POINTED_EARS, _ROUND_EARS, _pair


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
            pen.polygon(
                _rotated(_ellipse_points(side * 0.36, -1.28, 0.09, 0.42), side * 10, (side * 0.36, -0.8)), fill=c.accent
            )


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
        pen.polygon(
            _rotated(
                _ellipse_points(side * c.eye_gap, c.eye_y + 0.03, 0.2, 0.16), side * -25, (side * c.eye_gap, c.eye_y)
            ),
            fill=c.accent,
        )
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
        pen.polygon(
            chaikin([(side * 0.05, c.mouth_y - 0.1), (side * 0.98, -0.05), (side * 0.7, 0.65), (side * 0.05, 0.6)], 2),
            fill=c.light,
        )
    pen.ellipse(0, c.mouth_y - 0.12, 0.07, 0.05, fill="ink")


def _detail_pouches(pen: Pen, c: Character) -> None:
    for side in (-1, 1):
        pen.ellipse(side * 0.66, 0.22, 0.3, 0.24, fill=c.light)
    pen.ellipse(0, c.mouth_y - 0.12, 0.06, 0.045, fill=c.accent)


def _detail_spots(pen: Pen, c: Character) -> None:
    spots = (
        ((-0.55, -0.45, 0.14), (0.5, -0.55, 0.12), (0.05, -0.78, 0.1), (0.78, -0.15, 0.08), (-0.82, -0.05, 0.08))
        if c.body != "mushroom"
        else ((-0.65, -0.5, 0.16), (0.55, -0.6, 0.14), (0.0, -0.82, 0.12), (0.95, -0.15, 0.1))
    )
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
        pen.ellipse(x + r * math.cos(a), y + r * math.sin(a), r * 0.75, r * 0.75, fill=petal, outline="ink", width=0.6)
    pen.ellipse(x, y, r * 0.6, r * 0.6, fill=centre, outline="ink", width=0.6)


def _detail_flower_top(pen: Pen, c: Character) -> None:
    _flower(pen, 0.15, -1.05, 0.12, c.accent)


def _detail_leaf(pen: Pen, c: Character) -> None:
    pen.line([(0, -0.9), (0.05, -1.12)], width=1.2)
    pen.polygon(
        _rotated(_ellipse_points(0.28, -1.1, 0.24, 0.1), -20, (0.05, -1.1)), fill="#7cb342", outline="ink", width=0.8
    )


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
    "belly": _detail_belly,
    "muzzle": _detail_muzzle,
    "snout": _detail_snout,
    "beak": _detail_beak,
    "bill": _detail_bill,
    "wings": _detail_wings,
    "stripes": _detail_stripes,
    "tiger_stripes": _detail_tiger_stripes,
    "whiskers": _detail_whiskers,
    "muzzle_dots": _detail_muzzle_dots,
    "patches": _detail_patches,
    "face_patch": _detail_face_patch,
    "eye_discs": _detail_eye_discs,
    "cheek_fur": _detail_cheek_fur,
    "fox_cheeks": _detail_fox_cheeks,
    "pouches": _detail_pouches,
    "spots": _detail_spots,
    "nori": _detail_nori,
    "shell": _detail_shell,
    "pleats": _detail_pleats,
    "sheen": _detail_sheen,
    "belly_feathers": _detail_belly_feathers,
    "spines": _detail_spines,
    "flower_top": _detail_flower_top,
    "leaf": _detail_leaf,
    "cleft": _detail_cleft,
    "caramel": _detail_caramel,
    "antenna": _detail_antenna,
    "antenna_pair": _detail_antenna_pair,
    "bolts": _detail_bolts,
    "spout": _detail_spout,
    "bee_stripes": _detail_bee_stripes,
    "big_nose": _detail_big_nose,
    "hat": _detail_hat,
    "carrot": _detail_carrot,
}
_CLIPPED_DETAILS = {
    "eye_discs",
    "nori",
    "caramel",
    "bee_stripes",
    "belly",
    "face_patch",
    "cheek_fur",
    "fox_cheeks",
    "pouches",
    "spots",
    "belly_feathers",
    "tiger_stripes",
}
_AFTER_FACE_DETAILS = {"shell"}  # drawn after the face, because they cover the lower body
