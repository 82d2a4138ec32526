"""Time `pbr evaluate --scores` on a label-less JSON-lines scores file matched to a dataset's split.

A synthetic pbr dataset folder with `--dialogues` test dialogues of 10 candidates each (StickerChat's test
split has ~10,000) and a scores file without labels, so every row is matched to its dialogue by id.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def write_dataset(root: Path, dialogues: int, stickers: int, seed: int) -> Path:
    """A pbr dataset folder with only a test split; the images are 8 x 8 PNGs (evaluating scores opens none)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    ids = [f"s{i:05d}" for i in range(stickers)]
    (root / "img").mkdir(parents=True)
    for sticker_id in ids:
        Image.new("RGB", (8, 8), tuple(int(v) for v in rng.integers(0, 256, 3))).save(
            root / "img" / f"{sticker_id}.png"
        )
    with open(root / "stickers.jsonl", "w", encoding="utf-8") as out:
        for sticker_id in ids:
            out.write(json.dumps({"id": sticker_id, "path": f"img/{sticker_id}.png", "topic": "t0"}) + "\n")
    with open(root / "test.jsonl", "w", encoding="utf-8") as out:
        for i in range(dialogues):
            candidates = [ids[j] for j in rng.choice(stickers, 10, replace=False)]
            record = {
                "id": f"d{i:06d}",
                "context": ["你好", "在吗"],
                "sticker": candidates[0],
                "candidates": candidates,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dialogues", type=int, default=10_000)
    parser.add_argument("--stickers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from pbr_cli.run_evaluation import evaluate_scores_file

    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(Path(tmp) / "data", args.dialogues, args.stickers, args.seed)
        scores = Path(tmp) / "scores.jsonl"
        with open(scores, "w", encoding="utf-8") as out:
            for i in range(args.dialogues):
                out.write(json.dumps({"id": f"d{i:06d}", "scores": rng.random(10).round(4).tolist()}) + "\n")
        started = time.perf_counter()
        result = evaluate_scores_file(str(scores), str(data), "test")
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "benchmark": "evaluate_scores",
                "dialogues": args.dialogues,
                "candidates": 10,
                "r10@1": round(result["r10@1"], 4),
                "seconds": round(seconds, 3),
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
