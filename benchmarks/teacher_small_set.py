"""The emotion teacher on a small emotion set, judged on characters it never saw.

    python benchmarks/teacher_small_set.py                    # 2 training characters, 3 seeds
    python benchmarks/teacher_small_set.py --train-characters 1 --seeds 0

From the demo's emotion set (data seed --data-seed) the images of --train-characters characters, tens per
emotion, are the training set, a stratified --val share of them the val split, and every image of the other
characters (another art style each) the test split. `train_teacher` runs with teacher-train's defaults (the
epochs scaled to the set's size, hue rotation, class weights, the epoch kept on val) but --arch and
--img-size, which default to the demo's CPU teacher. Prints one JSON object: per seed the test accuracy, its
balanced accuracy and the majority-class baseline (the share of the training set's most frequent emotion
among the test images), epochs and seconds; and their means.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def small_set(data_seed: int, train_characters: int, val_share: float, seed: int, size: str = "small"):
    """(EmotionImageSet, training characters, held-out characters) from the demo's emotion set."""
    from pbr_cli.data import open_emotion_images
    from pbr_cli.data.types import EmotionImageSet
    from pbr_cli.demo.build import ensure_demo
    from pbr_cli.teacher.training import split_holdout

    source = open_emotion_images(ensure_demo(seed=data_seed, size=size) / "emotion")
    items = [item for split in source.splits.values() for item in split]
    characters = sorted({item.topic for item in items})
    if not 1 <= train_characters < len(characters):
        raise SystemExit(f"--train-characters must be 1..{len(characters) - 1} (the set has {len(characters)})")
    order = np.random.default_rng(seed).permutation(len(characters))
    chosen = sorted(characters[i] for i in order[:train_characters])
    held_out = sorted(set(characters) - set(chosen))
    train = sorted((item for item in items if item.topic in chosen), key=lambda item: item.id)
    train, val = split_holdout(train, val_share, seed)
    splits = {
        "train": train,
        "val": val,
        "test": sorted((item for item in items if item.topic in held_out), key=lambda item: item.id),
    }
    return EmotionImageSet(source.root, source.format, splits), chosen, held_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--size", choices=("tiny", "small"), default="small", help="the demo's size")
    parser.add_argument("--train-characters", type=int, default=2)
    parser.add_argument("--val", type=float, default=0.15, help="share of each emotion's training images for val")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arch", default="tiny")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=None, help="default: teacher-train's (scaled to the set)")
    args = parser.parse_args()

    import torch

    from pbr_cli.teacher import train_teacher

    runs = []
    for seed in args.seeds:
        image_set, chosen, held_out = small_set(args.data_seed, args.train_characters, args.val, seed, args.size)
        started = time.perf_counter()
        _, report = train_teacher(
            image_set, arch=args.arch, img_size=args.img_size, epochs=args.epochs, device="cpu", seed=seed
        )
        test = report["splits"]["test"]
        runs.append(
            {
                "seed": seed,
                "train_characters": chosen,
                "test_characters": len(held_out),
                "train_images": len(image_set.splits["train"]),
                "train_images_per_emotion": report["train_counts"],
                "val_images": len(image_set.splits["val"]),
                "test_images": test["n"],
                "epochs": report["epochs"],
                "best_epoch": report["best_epoch"],
                "test_accuracy": round(test["accuracy"], 4),
                "test_balanced_accuracy": round(test["balanced_accuracy"], 4),
                "majority_baseline": round(test["majority_baseline"], 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    summary = {
        name: round(float(np.mean([run[name] for run in runs])), 4)
        for name in ("test_accuracy", "test_balanced_accuracy", "majority_baseline")
    }
    print(
        json.dumps(
            {
                "benchmark": "teacher_small_set",
                "data_seed": args.data_seed,
                "size": args.size,
                "arch": args.arch,
                "img_size": args.img_size,
                "threads": torch.get_num_threads(),
                "machine": platform.processor() or platform.machine(),
                "mean": summary,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
