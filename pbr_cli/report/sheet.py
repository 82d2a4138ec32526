"""A ranked sticker sheet as one PNG (the paper's Fig. 6): the dialogue, then the top stickers with rank, score and
a sentiment bar (blue negative, red positive)."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_path
from .fonts import FONT_ENV, find_cjk_font, load_font, needs_cjk
from .ranked import RankedSticker, Ranking, thumbnail

MAX_COLUMNS = 5
MARGIN = 20
IMAGE = 128  # sticker thumbnail side, pixels
CELL_WIDTH = IMAGE + 32
LINE = 20  # height of a caption line in a cell
BAR_HEIGHT = 10
CELL_HEIGHT = IMAGE + 8 + LINE + BAR_HEIGHT + 6 + LINE + 14
MIN_WIDTH = 600
BUBBLE_PAD = 8

INK = (40, 40, 40)
MUTED = (110, 110, 110)
RULE = (220, 220, 220)
NEGATIVE = (31, 95, 191)  # blue, as in the paper's Fig. 6
POSITIVE = (214, 39, 40)  # red
SPEAKER_FILLS = ((238, 241, 246), (225, 245, 228))
WORD = re.compile(r"[A-Za-z0-9_'.,:;!?%()\-]+|\s+|.")


@dataclass
class SheetFile:
    """A written sheet: path, pixel size, sticker grid shape, and whether its text could draw Chinese."""

    path: Path
    width: int
    height: int
    rows: int
    columns: int
    font: str | None  # the CJK font file used, None for Pillow's built-in font
    text_as_boxes: bool  # True when the text has Chinese but no CJK font was found

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "width": self.width,
            "height": self.height,
            "rows": self.rows,
            "columns": self.columns,
            "font": self.font,
            "text_as_boxes": self.text_as_boxes,
        }


def wrap_text(text: str, font, width: float) -> list[str]:
    """Lines of `text` no wider than `width`: Latin words stay whole where they fit, CJK breaks anywhere."""
    lines: list[str] = []
    line = ""
    for piece in WORD.findall(text):
        parts = [piece] if font.getlength(piece) <= width else list(piece)  # an over-long word breaks anywhere
        for part in parts:
            if font.getlength(line + part) <= width:
                line += part
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = "" if part.isspace() else part
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def fit_text(text: str, font, width: float) -> str:
    """`text`, shortened with an ellipsis to fit `width`."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def grid_shape(n_stickers: int) -> tuple[int, int]:
    """(rows, columns) of the sticker grid: up to MAX_COLUMNS per row."""
    columns = max(1, min(n_stickers, MAX_COLUMNS))
    return math.ceil(n_stickers / columns) if n_stickers else 0, columns


def _caption(sticker: RankedSticker) -> str:
    if sticker.emotion:
        return f"{sticker.emotion} · {sticker.sticker_id}"
    if sticker.polarity is not None:
        return f"pos {sticker.polarity:.2f} · {sticker.sticker_id}"
    return sticker.sticker_id


def draw_sentiment_bar(draw, left: int, top: int, width: int, polarity: float) -> None:
    """A 100% bar: the negative share (1 - polarity) in blue from the left, the positive share in red."""
    split = left + round(width * (1.0 - polarity))
    if split > left:
        draw.rectangle([left, top, split - 1, top + BAR_HEIGHT - 1], fill=NEGATIVE)
    if split < left + width:
        draw.rectangle([split, top, left + width - 1, top + BAR_HEIGHT - 1], fill=POSITIVE)
    draw.rectangle([left, top, left + width - 1, top + BAR_HEIGHT - 1], outline=(60, 60, 60))
    middle = left + width // 2
    draw.line([middle, top - 2, middle, top + BAR_HEIGHT + 1], fill=(60, 60, 60))


def render_sheet(ranking: Ranking):
    """(PIL image, SheetFile fields but the path) for a ranking."""
    from PIL import Image, ImageDraw

    font_file = find_cjk_font()
    title_font, text_font, small_font = (load_font(size, font_file) for size in (20, 16, 13))
    rows, columns = grid_shape(len(ranking.stickers))
    width = max(MIN_WIDTH, 2 * MARGIN + columns * CELL_WIDTH)
    text_width = width - 2 * MARGIN - 36 - 2 * BUBBLE_PAD
    text_line = round(text_font.size * 1.35) if hasattr(text_font, "size") else 18
    wrapped = [wrap_text(utterance, text_font, text_width) for utterance in ranking.context]
    dialogue_height = sum(len(lines) * text_line + 2 * BUBBLE_PAD + 8 for lines in wrapped)
    header = MARGIN + 30 + 22
    grid_top = header + dialogue_height + 20
    legend_top = grid_top + rows * CELL_HEIGHT
    height = legend_top + 24 + MARGIN

    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    title = f"Top {len(ranking.stickers)} of {ranking.library_size} stickers · {ranking.score_name} score"
    draw.text((MARGIN, MARGIN), title, fill=INK, font=title_font)
    boxes = font_file is None and needs_cjk(ranking.context + [s.sticker_id for s in ranking.stickers])
    subtitle = "dialogue, oldest first"
    if boxes:
        subtitle += f" · no CJK font: install fonts-noto-cjk or set {FONT_ENV}"
    draw.text((MARGIN, MARGIN + 30), fit_text(subtitle, small_font, width - 2 * MARGIN), fill=MUTED, font=small_font)
    y = header
    for turn, lines in enumerate(wrapped):
        speaker = "AB"[turn % 2]
        bubble_height = len(lines) * text_line + 2 * BUBBLE_PAD
        draw.ellipse([MARGIN, y + 2, MARGIN + 24, y + 26], fill=SPEAKER_FILLS[turn % 2], outline=RULE)
        draw.text((MARGIN + 12, y + 14), speaker, fill=MUTED, font=small_font, anchor="mm")
        bubble_right = MARGIN + 36 + 2 * BUBBLE_PAD + max(text_font.getlength(line) for line in lines)
        draw.rounded_rectangle(
            [MARGIN + 36, y, bubble_right, y + bubble_height], radius=8, fill=SPEAKER_FILLS[turn % 2]
        )
        for number, line in enumerate(lines):
            draw.text((MARGIN + 36 + BUBBLE_PAD, y + BUBBLE_PAD + number * text_line), line, fill=INK, font=text_font)
        y += bubble_height + 8
    draw.line([MARGIN, grid_top - 10, width - MARGIN, grid_top - 10], fill=RULE, width=1)
    for index, sticker in enumerate(ranking.stickers):
        row, column = divmod(index, columns)
        left = MARGIN + column * CELL_WIDTH + (CELL_WIDTH - IMAGE) // 2
        top = grid_top + row * CELL_HEIGHT
        sheet.paste(thumbnail(sticker.path, IMAGE), (left, top))
        draw.rectangle([left - 1, top - 1, left + IMAGE, top + IMAGE], outline=RULE)
        caption_top = top + IMAGE + 6
        draw.text((left, caption_top), f"#{sticker.rank}", fill=INK, font=text_font)
        draw.text((left + IMAGE, caption_top), f"{sticker.score:.4f}", fill=INK, font=text_font, anchor="ra")
        bar_top = caption_top + LINE + 2
        if sticker.polarity is not None:
            draw_sentiment_bar(draw, left, bar_top, IMAGE, sticker.polarity)
        else:
            draw.text((left, bar_top - 3), "sentiment unknown", fill=MUTED, font=small_font)
        draw.text(
            (left, bar_top + BAR_HEIGHT + 6),
            fit_text(_caption(sticker), small_font, IMAGE),
            fill=MUTED,
            font=small_font,
        )
    if ranking.polarity_source:
        draw_sentiment_bar(draw, MARGIN, legend_top + 4, 40, 0.5)
        legend = f"sentiment: blue negative, red positive (from {ranking.polarity_source})"
        draw.text((MARGIN + 50, legend_top), legend, fill=MUTED, font=small_font)
    else:
        draw.text(
            (MARGIN, legend_top),
            "sentiment unknown: no emotion labels or teacher features",
            fill=MUTED,
            font=small_font,
        )
    fields = {
        "width": width,
        "height": height,
        "rows": rows,
        "columns": columns,
        "font": None if font_file is None else str(font_file),
        "text_as_boxes": boxes,
    }
    return sheet, fields


def write_sheet(path: str | os.PathLike, ranking: Ranking) -> SheetFile:
    """Draw the ranking and write it atomically as a PNG."""
    sheet, fields = render_sheet(ranking)
    with atomic_path(path, suffix=".png") as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    return SheetFile(Path(path), **fields)
