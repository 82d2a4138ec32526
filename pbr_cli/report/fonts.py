"""A font that can draw Chinese for the PNG sheets: $PBR_CJK_FONT, well-known paths, then fontconfig."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

FONT_ENV = "PBR_CJK_FONT"
FONT_PACKAGES = "fonts-noto-cjk or fonts-wqy-zenhei"  # Debian / Ubuntu packages with a CJK font

# Where Linux distributions, macOS and Windows install fonts that cover Chinese.
KNOWN_CJK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


def _fontconfig_cjk_font() -> Path | None:
    """The first font file fontconfig lists for Chinese (`fc-list :lang=zh file`), if fc-list exists."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        listing = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())
    return next((Path(name) for name in files if Path(name).is_file()), None)


@lru_cache(maxsize=1)
def find_cjk_font() -> Path | None:
    """A font file that covers Chinese: $PBR_CJK_FONT when it names a file, else a known path or fontconfig's."""
    chosen = os.environ.get(FONT_ENV)
    if chosen and Path(chosen).is_file():
        return Path(chosen)
    known = next((Path(path) for path in KNOWN_CJK_FONTS if Path(path).is_file()), None)
    return known or _fontconfig_cjk_font()


def load_font(size: int, font_file: Path | None):
    """A PIL font of `size` pixels from `font_file`, or Pillow's built-in font (Latin only) without one."""
    from PIL import ImageFont

    if font_file is not None:
        try:
            return ImageFont.truetype(str(font_file), size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def needs_cjk(texts: list[str]) -> bool:
    """True when some text has characters beyond Latin-1, which Pillow's built-in font draws as boxes."""
    return any(ord(char) > 0xFF for text in texts for char in text)


def missing_font_message() -> str:
    return (
        f"no font with Chinese characters found, so the sheet's text shows boxes; install {FONT_PACKAGES} "
        f"(e.g. apt-get install fonts-noto-cjk) or set {FONT_ENV}=/path/to/font.ttc; the --html page is unaffected"
    )
