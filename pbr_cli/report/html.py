"""A ranked sticker sheet as one self-contained HTML page: inline CSS, stickers as base64 PNG data URIs."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

from ..io import write_text_atomic
from .ranked import RankedSticker, Ranking, thumbnail

IMAGE = 160  # sticker thumbnail side in the page, pixels

STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
       "WenQuanYi Zen Hei", sans-serif; color: #282828; margin: 24px; max-width: 980px; }
h1 { font-size: 20px; font-weight: 600; margin: 0 0 4px; }
.muted { color: #6e6e6e; font-size: 13px; }
.dialogue { margin: 12px 0 20px; padding: 0; list-style: none; }
.turn { display: flex; align-items: flex-start; gap: 10px; margin: 6px 0; }
.who { flex: none; width: 24px; height: 24px; border-radius: 50%; background: #eef1f6; color: #6e6e6e;
       font-size: 12px; display: flex; align-items: center; justify-content: center; }
.turn.b .who, .turn.b .text { background: #e1f5e4; }
.text { background: #eef1f6; border-radius: 8px; padding: 6px 10px; font-size: 16px; line-height: 1.4;
        white-space: pre-wrap; }
.stickers { display: grid; grid-template-columns: repeat(auto-fill, minmax(176px, 1fr)); gap: 16px;
            border-top: 1px solid #dcdcdc; padding-top: 16px; }
.sticker { margin: 0; }
.sticker img { width: 160px; height: 160px; border: 1px solid #dcdcdc; image-rendering: pixelated; display: block; }
.line { display: flex; justify-content: space-between; width: 160px; font-size: 15px; margin-top: 4px; }
.bar { display: flex; width: 160px; height: 10px; border: 1px solid #3c3c3c; margin: 4px 0; }
.neg { background: #1f5fbf; }
.pos { background: #d62728; }
.caption { width: 160px; font-size: 12px; color: #6e6e6e; overflow: hidden; text-overflow: ellipsis;
           white-space: nowrap; }
footer { margin-top: 16px; }
"""


def png_data_uri(image) -> str:
    """A PIL image as a data:image/png;base64 URI."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar(sticker: RankedSticker) -> str:
    if sticker.polarity is None:
        return '<div class="muted">sentiment unknown</div>'
    positive = round(100 * sticker.polarity, 1)
    return (
        f'<div class="bar" title="positive {positive:g}%, negative {100 - positive:g}%">'
        f'<div class="neg" style="width:{100 - positive:g}%"></div>'
        f'<div class="pos" style="width:{positive:g}%"></div></div>'
    )


def _sticker_card(sticker: RankedSticker) -> str:
    label = " · ".join(part for part in (sticker.emotion, sticker.sticker_id) if part)
    return (
        f'<figure class="sticker"><img alt="{html.escape(sticker.sticker_id)}" '
        f'src="{png_data_uri(thumbnail(sticker.path, IMAGE))}">'
        f'<div class="line"><b>#{sticker.rank}</b><span>{sticker.score:.4f}</span></div>'
        f'{_bar(sticker)}<figcaption class="caption" title="{html.escape(label)}">{html.escape(label)}'
        f"</figcaption></figure>"
    )


def render_html(ranking: Ranking) -> str:
    """The page as a string; it loads nothing from outside itself."""
    title = f"Top {len(ranking.stickers)} of {ranking.library_size} stickers · {ranking.score_name} score"
    turns = "".join(
        f'<li class="turn {"ab"[turn % 2]}"><span class="who">{"AB"[turn % 2]}</span>'
        f'<span class="text">{html.escape(utterance)}</span></li>'
        for turn, utterance in enumerate(ranking.context)
    )
    cards = "".join(_sticker_card(sticker) for sticker in ranking.stickers)
    legend = (
        f"sentiment bar: blue negative, red positive (from {html.escape(ranking.polarity_source)})"
        if ranking.polarity_source
        else "sentiment unknown: no emotion labels or teacher features"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><div class="muted">dialogue, oldest first</div>'
        f'<ol class="dialogue">{turns}</ol><section class="stickers">{cards}</section>'
        f'<footer class="muted">{legend}</footer></body></html>\n'
    )


def write_html(path: str | os.PathLike, ranking: Ranking) -> Path:
    """Render the ranking and write the page atomically (UTF-8)."""
    write_text_atomic(path, render_html(ranking))
    return Path(path)
