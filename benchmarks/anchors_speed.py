"""Time `build_anchors` at SER30K scale: 30,000 teacher features of 2048 dimensions, M = 60 per emotion."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

# SER30K-like class shares (surprise, happiness, disgust, fear, sadness, anger, neutral): disgust and fear rare.
CLASS_SHARES = np.array([0.12, 0.28, 0.05, 0.05, 0.16, 0.11, 0.23])


def synthetic_features(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative, clustered features like a ResNet's pooled output: (n, dim) float32 and (n,) labels."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(CLASS_SHARES), size=n, p=CLASS_SHARES / CLASS_SHARES.sum())
    styles = rng.gamma(2.0, 0.5, size=(len(CLASS_SHARES), 80, dim)).astype(np.float32)  # 80 styles per emotion
    style = rng.integers(0, 80, size=n)
    noise = rng.gamma(1.0, 0.3, size=(n, dim)).astype(np.float32)
    return styles[labels, style] + noise, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--M", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import sklearn

    from pbr_cli.anchors import build_anchors

    features, labels = synthetic_features(args.n, args.dim, args.seed)
    started = time.perf_counter()
    anchors = build_anchors(features, labels, M=args.M, seed=args.seed)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "benchmark": "build_anchors",
                "n": args.n,
                "dim": args.dim,
                "M": args.M,
                "anchors_shape": list(anchors.anchors.shape),
                "seconds": round(seconds, 2),
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "sklearn": sklearn.__version__,
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
