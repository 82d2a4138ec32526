"""Composition: one sticker from a character, an emotion and a variant, posed by a seeded RNG."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .characters import Character
from .details import _AFTER_FACE_DETAILS, _CLIPPED_DETAILS, _DETAILS, _inner_ears
from .faces import _FACES, _TINTS, Face
from .pen import RGBA, SUPERSAMPLE, Pen, hex_rgba
from .props import _VARIANTS, _rest_hands
from .silhouettes import _BODIES, _EARS, _SILHOUETTE_DETAILS

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
_FRONT_PROP_TOP = {
    "heart_hands": 0.37,
    "clap": 0.47,
    "book": 0.34,
    "game": 0.42,
    "cake": 0.46,
    "laptop": 0.3,
    "camera": 0.28,
    "blanket": 0.15,
}

# Variants whose prop reaches far to the right or up: the character moves left and shrinks a little.
_ROOMY_VARIANTS = {
    "umbrella",
    "balloon",
    "suitcase",
    "gift",
    "bubble_tea",
    "phone",
    "coffee",
    "ice_cream",
    "flower",
    "thumbs_up",
    "pencil",
}


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
        return Pose(
            dx=rng.uniform(-0.04, 0.04) - (0.05 if roomy else 0.0),
            dy=rng.uniform(-0.03, 0.03),
            scale=rng.uniform(0.84, 1.02) * (0.9 if roomy else 1.0),
            rotation=rng.uniform(-11, 11),
            line_factor=rng.uniform(0.8, 1.25),
        )


def draw_sticker(
    character: Character, emotion: str, variant: str | None, rng: random.Random, size: int = 128
) -> Image.Image:
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
        image.alpha_composite(_tint(body_alpha, pen, colour, round(strength * rng.uniform(0.75, 1.15)), full_y, zero_y))

    face = Face(
        eye_y=character.eye_y + rng.uniform(-0.03, 0.03),
        eye_gap=character.eye_gap * rng.uniform(0.92, 1.08),
        eye_size=0.14 * rng.uniform(0.88, 1.12),
        mouth_y=character.mouth_y + rng.uniform(-0.02, 0.03),
        mouth_width=0.22 * rng.uniform(0.85, 1.15),
        eye_ink=hex_rgba(character.eye_ink) if character.eye_ink else ink,
        ink=ink,
    )
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
