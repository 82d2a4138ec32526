"""Teacher feature throughput (`pbr embed --teacher`'s model step): images per second for a timm teacher.

    python benchmarks/embed_throughput.py                         # ResNet-50 at 128 px on the current device
    python benchmarks/embed_throughput.py --arch tiny --device cpu --batches 3

Random weights and random uint8 images already decoded at the teacher's resolution (decoding is
measured separately by the sticker cache); the batches go through `Teacher.encode`, bf16 autocast on
CUDA. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    import torch

    from pbr_cli.teacher import Teacher, build_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--img-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    model, config = build_classifier(args.arch, args.img_size)
    teacher = Teacher(model, config, device)
    images = torch.randint(0, 256, (args.batch_size, 3, args.img_size, args.img_size), dtype=torch.uint8).to(device)
    teacher.encode(images)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.batches):
        features, _ = teacher.encode(images)
    features.sum().item()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "embed_throughput",
                "arch": config.arch,
                "img_size": args.img_size,
                "device": str(device),
                "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "images": args.batch_size * args.batches,
                "seconds": round(seconds, 3),
                "images_per_s": round(args.batch_size * args.batches / seconds, 1),
                "feature_dim": int(features.shape[1]),
            }
        )
    )


if __name__ == "__main__":
    main()
