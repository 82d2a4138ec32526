"""How many ITC best stickers ITM must re-rank: whole-library retrieval of each dialogue's gold sticker.

    python benchmarks/rerank_quality.py --model runs/pbr                      # the run's dataset, val split
    python benchmarks/rerank_quality.py --model runs/pbr --data my_data/ --rerank 8 16 32 64 128 --limit 1000

Every sticker of the dataset's library is a candidate (not the dialogue's 10): the sticker set
`pbr rank` and `pbr serve` rank. For each `--rerank` K the dialogues are ranked as they do (ITC over
the library, ITM over its top K) and the gold sticker's R@1 / R@5 / R@10 are printed as one JSON
object, with the ranking time per dialogue (image tokens computed once, as an index stores them).
Choose `--rerank` on val: the smallest K whose recall equals the largest's.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="run folder")
    parser.add_argument("--data", default=None, help="dataset (default: the one the run was trained on)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--rerank", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--limit", type=int, default=None, help="first N dialogues of the split")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from pbr_cli.datasets import load_dataset
    from pbr_cli.index import encode_sticker_set, rank_dialogues
    from pbr_cli.model.run import load_run
    from pbr_cli.run_evaluation import run_info

    data = args.data or run_info(args.model).get("data")
    dataset = load_dataset(data, splits=(args.split,))
    dialogues = dataset.split(args.split)[: args.limit]
    device = torch.device("cpu")
    model, config, tokenizer, _ = load_run(args.model, "best", device)
    library, pixels, _ = encode_sticker_set(
        model, list(dataset.stickers.values()), config.model.img_size, device, False, dataset.root, keep_tokens=True
    )
    requests = [(dialogue.context, None) for dialogue in dialogues]
    results = {}
    for k in sorted(set(args.rerank)):
        started = time.perf_counter()
        ranked = rank_dialogues(
            model, tokenizer, requests, library, device, k, "itm", lambda rows: pixels[rows], args.batch_size
        )
        seconds = time.perf_counter() - started
        ranks = []
        for dialogue, rows in zip(dialogues, ranked):
            ids = [library.ids[row] for row, _ in rows]
            ranks.append(ids.index(dialogue.sticker) + 1 if dialogue.sticker in ids else None)
        found = [r for r in ranks if r is not None]
        results[str(k)] = {
            **{f"r@{n}": round(sum(r <= n for r in found) / len(ranks), 4) for n in (1, 5, 10)},
            "ms_per_dialogue": round(1000 * seconds / len(ranks), 2),
        }
    print(
        json.dumps(
            {
                "benchmark": "rerank_quality",
                "run": str(args.model),
                "data": str(dataset.root),
                "split": args.split,
                "dialogues": len(dialogues),
                "library": len(library.ids),
                "threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
