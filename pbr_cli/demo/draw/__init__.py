"""Cartoon sticker drawing for the demo dataset: characters, emotion faces and gesture/prop variants.

One module per part of a sticker: `characters` (the topics), `pen` (shapes and colours), `silhouettes`
(bodies and ears), `details` (decorations), `faces` (one per emotion), `props` (gestures and props) and
`compose`, which draws one sticker from them.
"""

from .characters import LIBRARY_CHARACTERS, TEACHER_CHARACTERS, Character
from .compose import draw_sticker
from .props import VARIANTS

__all__ = ["LIBRARY_CHARACTERS", "TEACHER_CHARACTERS", "VARIANTS", "Character", "draw_sticker"]
