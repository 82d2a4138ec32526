"""Write a pbr dataset folder (by default the demo) in StickerChat's layout, to train on it as on StickerChat.

    python examples/demo_as_stickerchat.py demo_stickerchat/             # the demo ("small")
    python examples/demo_as_stickerchat.py out/ --data my_dataset/       # any pbr-readable dataset
    pbr train --data demo_stickerchat/ -o runs/base_sc                  # the same defaults, another reader

StickerChat keeps each sticker as a NumPy array (npy_stickers/<sticker set>/<sticker id>.npy, here
RGB uint8 (H, W, 3)) and each split as JSON lines (release_<split>.json) of
{"context": [{"text": ...}], "current": {"sticker_set_id", "sticker_id"}}; the sticker set is the
sticker's topic. Only what StickerChat has is written: no emotions, no fixed candidate sets (the
StickerChat reader draws 9 stickers of the gold sticker's set per dialogue, as the paper does).
The output folder must not exist yet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path


def safe_name(value: str) -> str:
    """A sticker set or sticker id as one path component (StickerChat ids are digits; the demo's are words)."""
    if not value or value in {".", ".."} or "/" in value or "\\" in value:
        raise ValueError(f"'{value}' cannot be a StickerChat file name")
    return value


def convert(dataset, output: Path) -> dict[str, int]:
    """Write `dataset` (a StickerDataset) under `output` in StickerChat's layout; counts of what was written."""
    import numpy as np

    from pbr_cli.data.stickerchat import RELEASE_PREFIX, STICKER_FOLDER

    names = {}
    for sticker in dataset.stickers.values():
        set_id, sticker_id = safe_name(sticker.topic), safe_name(sticker.id)
        names[sticker.id] = (set_id, sticker_id)
        target = output / STICKER_FOLDER / set_id / f"{sticker_id}.npy"
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, np.ascontiguousarray(sticker.image(), dtype=np.uint8))
    counts = {"stickers": len(names)}
    for split, dialogues in dataset.splits.items():
        with open(output / f"{RELEASE_PREFIX}{split}.json", "w", encoding="utf-8") as handle:
            for dialogue in dialogues:
                set_id, sticker_id = names[dialogue.sticker]
                record = {
                    "context": [{"text": text} for text in dialogue.context],
                    "current": {"sticker_set_id": set_id, "sticker_id": sticker_id},
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        counts[split] = len(dialogues)
    return counts


def main() -> None:
    from pbr_cli.datasets import load_dataset
    from pbr_cli.errors import DataError
    from pbr_cli.io import current_umask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="folder to write (must not exist)")
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (default: the demo dataset)")
    args = parser.parse_args()
    if args.output.exists():
        parser.error(f"{args.output} already exists: give a new folder")
    try:
        dataset = load_dataset(args.data)
    except DataError as exc:
        sys.exit(f"error: {exc}")
    # written into a hidden folder beside OUTPUT and renamed into place: a failure leaves nothing behind
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{args.output.name}.", suffix=".partial", dir=args.output.parent))
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; the dataset gets the usual permissions
    except OSError as exc:
        sys.exit(f"error: {args.output}: cannot write ({exc.strerror or exc})")
    try:
        counts = convert(dataset, staging)
        staging.rename(args.output)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, DataError):  # an unreadable sticker: the message names its file
            sys.exit(f"error: {exc}")
        if isinstance(exc, ValueError):
            sys.exit(f"error: {dataset.root}: {exc}")
        if isinstance(exc, OSError):
            sys.exit(f"error: {args.output}: cannot write ({exc.strerror or exc})")
        raise
    print(json.dumps({"output": str(args.output), **counts}))


if __name__ == "__main__":
    main()
