"""Draw a contact sheet of the demo dataset: library topics x 7 emotions, then emotion-set images per emotion.

python examples/make_contact_sheet.py                      # examples/demo_stickers.png, small demo, seed 0
python examples/make_contact_sheet.py --topics 8 --out sheet.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pbr_cli.demo.build import ensure_demo
from pbr_cli.emotions import EMOTIONS

CELL = 128
LABEL_WIDTH = 96
HEADER_HEIGHT = 28
SECTION_GAP = 16


def _library_rows(root: Path, topics: int) -> list[tuple[str, list[Path]]]:
    """For each of the first `topics` topics: one sticker per emotion (its first variant)."""
    by_topic: dict[str, dict[str, Path]] = {}
    with open(root / "stickers.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            by_topic.setdefault(record["topic"], {}).setdefault(record["emotion"], root / record["path"])
    return [(topic, [stickers[e] for e in EMOTIONS]) for topic, stickers in list(by_topic.items())[:topics]]


def _emotion_set_rows(root: Path, rows: int) -> list[tuple[str, list[Path | None]]]:
    """`rows` rows of emotion-set training images, one column per emotion (empty where a class runs out)."""
    emotion_root = root / "emotion"
    annotations = json.loads((emotion_root / "Annotations" / "image-level" / "train.json").read_text("utf-8"))
    by_emotion: dict[str, list[Path]] = {e: [] for e in EMOTIONS}
    for item in annotations["annotations"]:
        by_emotion[EMOTIONS[item["anno"] - 1]].append(emotion_root / "Images" / item["topic"] / item["file_name"])
    for paths in by_emotion.values():  # alternate characters rather than showing one character's images
        paths.sort(key=lambda path: (int(path.stem.rsplit("_", 1)[1]), path.parent.name))
    return [
        (f"set #{r + 1}", [by_emotion[e][r] if r < len(by_emotion[e]) else None for e in EMOTIONS]) for r in range(rows)
    ]


def make_sheet(root: Path, topics: int, emotion_rows: int) -> Image.Image:
    library = _library_rows(root, topics)
    emotion_set = _emotion_set_rows(root, emotion_rows)
    width = LABEL_WIDTH + CELL * len(EMOTIONS)
    height = 4 * HEADER_HEIGHT + CELL * (len(library) + len(emotion_set)) + SECTION_GAP
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(14)
    y = 0
    for title, rows in (("sticker library (topics)", library), ("emotion set (other characters)", emotion_set)):
        draw.rectangle([0, y, width, y + 2 * HEADER_HEIGHT - 1], fill="#f1f3f5")
        draw.text((6, y + 6), title, fill="#333333", font=font)
        for column, emotion in enumerate(EMOTIONS):
            left = LABEL_WIDTH + CELL * column + (CELL - draw.textlength(emotion, font=font)) / 2
            draw.text((left, y + HEADER_HEIGHT + 6), emotion, fill="#333333", font=font)
        y += 2 * HEADER_HEIGHT
        for label, paths in rows:
            draw.text((6, y + CELL // 2 - 8), label, fill="#333333", font=font)
            for column, path in enumerate(paths):
                if path is not None:
                    with Image.open(path) as image:
                        sheet.paste(image.convert("RGB"), (LABEL_WIDTH + CELL * column, y))
            y += CELL
        y += SECTION_GAP
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="small", choices=("tiny", "small", "medium"))
    parser.add_argument("--topics", type=int, default=6, help="library topics to show (rows)")
    parser.add_argument("--emotion-rows", type=int, default=3, help="rows of emotion-set images")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("demo_stickers.png"))
    args = parser.parse_args()
    root = ensure_demo(seed=args.seed, size=args.size)
    sheet = make_sheet(root, args.topics, args.emotion_rows)
    sheet.save(args.out, optimize=True)
    print(f"{args.out} ({args.out.stat().st_size // 1024} KB) from {root}")


if __name__ == "__main__":
    main()
