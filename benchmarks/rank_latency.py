"""Per-dialogue ranking latency of `pbr rank`'s scheme (ITC over the index, ITM re-ranking of the top k).

    python benchmarks/rank_latency.py                         # tiny model, CPU: 10 candidates, 1k and 10k index
    python benchmarks/rank_latency.py --config paper --sizes 1000 10000 100000 --device cuda

Random weights and random stickers are fine for latency. Prints one JSON object: per index size,
the median and 90th-percentile milliseconds per dialogue after warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time


def main() -> None:
    import torch

    from pbr_cli.data.tokenize import CharTokenizer
    from pbr_cli.index import StickerSet, rank_stickers
    from pbr_cli.model.config import load_run_config
    from pbr_cli.model.pbr import PBRModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--rerank", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    config = load_run_config(args.config).model
    tokenizer = CharTokenizer()
    config.vocab_size = len(tokenizer)
    torch.manual_seed(0)
    model = PBRModel(config).to(device).eval()
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    with torch.no_grad():
        probe = torch.zeros(1, 3, config.img_size, config.img_size, device=device)
        tokens_per_sticker = model.encode_image(probe).tokens
    length, width = tokens_per_sticker.shape[1:]
    dialogue = ["今天考试终于过了！", "真的吗？太好了", "晚上一起去吃火锅庆祝一下吧", "好呀好呀"]
    results = []
    for size in args.sizes:
        embeddings = torch.nn.functional.normalize(torch.randn(size, config.embed_dim, device=device), dim=-1)
        tokens = torch.randn(size, length, width, device=device, dtype=dtype)
        stickers = StickerSet([str(i) for i in range(size)], [""] * size, embeddings, tokens)
        timings = []
        for repeat in range(args.repeats + 5):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                rank_stickers(model, tokenizer, dialogue, stickers, device, args.rerank)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if repeat >= 5:
                timings.append(1000 * (time.perf_counter() - start))
        timings.sort()
        results.append(
            {
                "stickers": size,
                "reranked": min(size, args.rerank),
                "median_ms": round(statistics.median(timings), 2),
                "p90_ms": round(timings[int(0.9 * (len(timings) - 1))], 2),
            }
        )
    print(
        json.dumps(
            {
                "benchmark": "rank_latency",
                "config": args.config,
                "device": str(device),
                "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()),
                "threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
