"""Training throughput: the authors' style of step against pbr's default, in one run on one device.

    python benchmarks/train_throughput.py                        # paper configuration on the current device
    python benchmarks/train_throughput.py --config tiny --steps 5 --device cpu   # a quick smoke run

Both settings train ViT + BERT + fusion with ITC + ITM + the EKD head + inter-topic TSCL on generated
data at the configuration's resolution (10 candidates per dialogue, random tokens):

- reference: fp32, eager, K = 4, and the frozen ResNet-50 teacher run inside every step on all
  candidate images (as the authors' code does);
- pbr: K = 32 (--k), bf16 autocast on CUDA, teacher features looked up from a table.

Prints one JSON object: dialogues/s, ms/step, FLOPs per step (torch's FLOP counter), MFU against
--peak-tflops, peak device memory, and the throughput ratio pbr / reference.
"""

from __future__ import annotations

import argparse
import json
import time


def synthetic_trainer(config_name: str, k: int, device, seed: int = 0, dtype_bf16: bool = True):
    import numpy as np
    import torch

    from pbr_cli.data.batches import SplitTable
    from pbr_cli.data.tokenize import CharTokenizer
    from pbr_cli.engine import TrainData, Trainer
    from pbr_cli.losses.objective import Objective
    from pbr_cli.model.config import load_run_config
    from pbr_cli.model.pbr import PBRModel

    config = load_run_config(config_name)
    config.train.batch_size = k
    m = 60
    config.model.ekd_dim, config.model.tscl_dim = 7 * m, 128
    tokenizer = CharTokenizer()
    config.model.vocab_size = len(tokenizer)
    rng = np.random.default_rng(seed)
    n_stickers, n_dialogues, n = 2048, max(4 * k, 64), 10
    size = config.model.img_size
    images = rng.integers(0, 256, (n_stickers, 3, size, size), dtype=np.uint8)
    length = min(config.model.max_len, 256)
    tokens = [[tokenizer.cls_id] + rng.integers(5, len(tokenizer), length - 1).tolist() for _ in range(n_dialogues)]
    table = SplitTable(
        [str(i) for i in range(n_dialogues)],
        tokens,
        rng.integers(0, n_stickers, (n_dialogues, n)),
        rng.integers(0, n, n_dialogues),
    )
    targets = rng.dirichlet(np.ones(7 * m), n_stickers).astype(np.float32)
    data = TrainData([str(i) for i in range(n_stickers)], images, table, None, ekd_target=targets)
    torch.manual_seed(seed)
    model = PBRModel(config.model).to(device)
    objective = Objective("itm", ekd="anchors", ekd_m=m, inter_weight=0.5)
    trainer = Trainer(model, config, data, tokenizer, None, device, seed=seed, objective=objective)
    if not dtype_bf16:
        trainer._autocast = lambda: torch.autocast(device.type, enabled=False)
    return trainer, n_dialogues


def measure(trainer, n_dialogues: int, k: int, steps: int, warmup: int, teacher=None) -> dict:
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = trainer.device
    rows_for = lambda i: np.arange(i * k, (i + 1) * k) % n_dialogues  # noqa: E731

    def one(i):
        if teacher is not None:  # the reference recomputes teacher features of every candidate each step
            with torch.no_grad():
                pixels = torch.from_numpy(trainer.data.images[trainer.data.train.candidates[rows_for(i)].reshape(-1)])
                teacher(pixels.to(device).float() / 255)
        loss, _ = trainer.step(rows_for(i), 1e-4)
        return loss

    for i in range(warmup):
        one(i)
    with FlopCounterMode(display=False) as counter:
        one(warmup)
    flops = counter.get_total_flops()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(steps):
        loss = one(warmup + 1 + i)
    float(loss.detach())
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {
        "k": k,
        "dialogues_per_s": round(k * steps / seconds, 2),
        "ms_per_step": round(1000 * seconds / steps, 2),
        "flops_per_step": flops,
        "tflops_per_s": round(flops * steps / seconds / 1e12, 2),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
    }


def main() -> None:
    import timm
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper")
    parser.add_argument("--k", type=int, default=32, help="pbr's dialogues per step")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=790.0, help="the device's dense bf16 ceiling")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    reference, n_ref = synthetic_trainer(args.config, 4, device, dtype_bf16=False)
    teacher = timm.create_model("resnet50", pretrained=False, num_classes=0).to(device).eval()
    result_ref = measure(reference, n_ref, 4, args.steps, args.warmup, teacher)
    del reference
    pbr, n_pbr = synthetic_trainer(args.config, args.k, device, dtype_bf16=True)
    result_pbr = measure(pbr, n_pbr, args.k, args.steps, args.warmup)
    for result in (result_ref, result_pbr):
        result["mfu"] = round(result["tflops_per_s"] / args.peak_tflops, 4)
    print(
        json.dumps(
            {
                "benchmark": "train_throughput",
                "config": args.config,
                "device": str(device),
                "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "torch": torch.__version__,
                "reference": result_ref,
                "pbr": result_pbr,
                "ratio": round(result_pbr["dialogues_per_s"] / result_ref["dialogues_per_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
