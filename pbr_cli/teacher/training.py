"""Training the emotion teacher (paper §3.2, `pbr teacher-train`): augmentation, class balance, the best epoch
on val, and the accuracy report.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..averaging import WeightAverage, batchnorm_layers, recomputing_batchnorm
from ..data.types import EmotionImageSet, LabelledImage
from ..errors import DataError, TrainingError
from ..runtime import autocast, uses_bf16
from .model import Teacher, TeacherConfig, _standardise, build_classifier, load_init_weights

EVAL_SPLITS: tuple[str, ...] = ("val", "test")
StageProgress = Callable[[str, int, int], None]  # (stage, units just done, stage total)


def classification_report(
    labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str], majority_class: int
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, per-class accuracy, confusion matrix (rows: truth) and the majority baseline."""
    n_classes = len(class_names)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    support = confusion.sum(axis=1)
    per_class = {
        name: (float(confusion[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)
    }
    present = [value for value in per_class.values() if value is not None]
    total = int(support.sum())
    return {
        "n": total,
        "accuracy": float(np.trace(confusion) / total) if total else None,
        "balanced_accuracy": float(np.mean(present)) if present else None,
        "majority_baseline": float(support[majority_class] / total) if total else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def split_holdout(items: Sequence[LabelledImage], fraction: float, seed: int) -> tuple[list, list]:
    """Stratified (train, val) split of `items`: `fraction` of each class with at least 2 images goes to val."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_class.setdefault(item.label, []).append(index)
    held: set[int] = set()
    for indices in by_class.values():
        if len(indices) >= 2:
            count = max(1, round(len(indices) * fraction))
            held.update(rng.permutation(indices)[:count].tolist())
    return (
        [item for i, item in enumerate(items) if i not in held],
        [item for i, item in enumerate(items) if i in held],
    )


def _warn_of_copies(train_items, train_pixels, items, pixels, split: str, size: int) -> None:
    """Warn when images of an evaluation split are training images again (equal pixels at `size`)."""
    import hashlib

    from .. import console

    def digests(array: torch.Tensor) -> list[bytes]:
        return [hashlib.blake2b(image.numpy().tobytes(), digest_size=16).digest() for image in array.cpu()]

    seen = dict(zip(digests(train_pixels), train_items))
    copies = [(item, seen[digest]) for item, digest in zip(items, digests(pixels)) if digest in seen]
    if copies:
        item, original = copies[0]
        console.warn(
            f"{len(copies)} of the {len(items)} {split} images are training images again at {size} px "
            f"(e.g. {item.path} and {original.path}): {split} accuracy will flatter the teacher"
        )


def _decode_labelled(
    items: Sequence[LabelledImage], size: int, stage: str, on_progress: StageProgress | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixels (N, 3, S, S) uint8, labels (N,) int64) on CPU; an unreadable image is a DataError."""
    from ..data.cache import decode_stickers

    done = (lambda n: on_progress(stage, n, len(items))) if on_progress else None
    pixels, _ = decode_stickers(items, size, skip_bad=False, progress=done)
    return torch.from_numpy(pixels), torch.tensor([item.label for item in items], dtype=torch.int64)


@torch.no_grad()
def _logits(
    model: nn.Module, config: TeacherConfig, pixels: torch.Tensor, batch_size: int, device: torch.device
) -> torch.Tensor:
    """(N, classes) float32 logits of each (N, 3, S, S) uint8 image on CPU, the model in eval mode."""
    model.eval()
    logits = []
    for start in range(0, len(pixels), batch_size):
        inputs = _standardise(pixels[start : start + batch_size].to(device).float(), config)
        with autocast(device):
            logits.append(model(inputs).float().cpu())
    return torch.cat(logits) if logits else torch.zeros(0, 0)


def _predict(
    model: nn.Module, config: TeacherConfig, pixels: torch.Tensor, batch_size: int, device: torch.device
) -> np.ndarray:
    """(N,) predicted class of each (N, 3, S, S) uint8 image, the model in eval mode."""
    if len(pixels) == 0:
        return np.zeros(0, np.int64)
    return _logits(model, config, pixels, batch_size, device).argmax(dim=-1).numpy()


@torch.no_grad()
def _recompute_batchnorm(
    model: nn.Module, config: TeacherConfig, pixels: torch.Tensor, batch_size: int, device: torch.device
) -> None:
    """Recompute the BatchNorm running statistics of `model` as plain means over batches of `pixels` (the
    unaugmented (N, 3, S, S) uint8 training images, in order); leaves the model in eval mode."""
    if not batchnorm_layers(model):
        return
    size = max(2, batch_size)
    with recomputing_batchnorm(model):
        for start in range(0, len(pixels), size):
            chunk = pixels[start : start + size]
            if len(chunk) < 2 and start:  # BatchNorm in training mode needs two values per channel
                break
            with autocast(device):
                model(_standardise(chunk.to(device).float(), config))


def _class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, scaled so that their mean over the training images is 1 (absent classes get 0)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


BATCHNORM_IMAGES = 512  # training images (in decoding order) that recompute the moving average's BatchNorm statistics
MIN_TEACHER_STEPS = 1500  # with --epochs left at its default, small sets get at least this many optimiser steps


def default_epochs(n_train: int, batch_size: int, min_epochs: int = 10, min_steps: int = MIN_TEACHER_STEPS) -> int:
    """Epochs when the user gives none: 10 passes, or as many as `min_steps` optimiser steps need on a small set."""
    steps_per_epoch = max(1, n_train // batch_size)
    return max(min_epochs, math.ceil(min_steps / steps_per_epoch))


def train_teacher(
    image_set: EmotionImageSet,
    arch: str = "resnet50",
    img_size: int = 128,
    epochs: int | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    init: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    holdout: float = 0.1,
    hue: float = 0.5,
    precision: str = "auto",
    ema: float = 0.0,
    on_progress: StageProgress | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Teacher, dict[str, Any]]:
    """Train a timm emotion classifier; return the frozen teacher (best epoch on val) and its report.

    Augmentation: random resized crop, flip, colour jitter and a hue rotation of up to ±`hue`·180° (on
    tensors, on `device`); `precision` as `train.precision` (auto: bf16 where the device computes it
    natively); class balance: an inverse-frequency weighted cross-entropy. A set without a val split gets a
    stratified `holdout` of train as val. Without `epochs`, training runs 10 epochs or, on a
    small set, as many as `MIN_TEACHER_STEPS` optimiser steps need. The best epoch is chosen on val (never on
    test): the highest val accuracy, and among epochs level on it (a small val split saturates) the lowest val
    cross-entropy. With `ema` > 0 the weights validated and kept are an exponential moving average of the
    trained ones (decay `ema` per step), with BatchNorm statistics recomputed on the unaugmented training
    images before each validation. The report has accuracy, balanced accuracy, per-class accuracy, confusion
    matrix and majority-class baseline per eval split.
    """
    from ..data.augment import train_view
    from ..engine import cosine_lr
    from ..runtime import seed_everything

    started = time.perf_counter()
    device = torch.device(device)
    class_names = tuple(image_set.class_names)
    train_items = list(image_set.splits.get("train", []))
    eval_items = {name: list(image_set.splits[name]) for name in EVAL_SPLITS if image_set.splits.get(name)}
    val_from_train = "val" not in eval_items  # the epoch is chosen on val, never on test
    if val_from_train:
        train_items, eval_items["val"] = split_holdout(train_items, holdout, seed)
        if not eval_items["val"]:
            del eval_items["val"]
        elif "test" in eval_items:  # a set with a test split but no val: say where val came from
            from .. import console

            console.notice(
                f"{image_set.root}: no val split; {len(eval_items['val'])} training images held out as val to choose "
                "the epoch"
            )
    if len(train_items) < 2:
        raise DataError(f"needs at least 2 training images, found {len(train_items)}", image_set.root)

    seed_everything(seed)
    model, config = build_classifier(arch, img_size, class_names)
    init_info = load_init_weights(model, init) if init is not None else None
    model.to(device)

    train_pixels, train_labels = _decode_labelled(train_items, img_size, "decoding train images", on_progress)
    train_pixels, train_labels = train_pixels.to(device), train_labels.to(device)  # (N, 3, S, S) uint8, (N,)
    eval_data = {
        name: _decode_labelled(items, img_size, f"decoding {name} images", on_progress)
        for name, items in eval_items.items()
    }
    for name, (pixels, _) in eval_data.items():
        _warn_of_copies(train_items, train_pixels, eval_items[name], pixels, name, img_size)
    label_counts = np.bincount(train_labels.cpu().numpy(), minlength=len(class_names))
    majority_class = int(label_counts.argmax())
    loss_weights = _class_weights(train_labels.cpu().numpy(), len(class_names)).to(device)

    n_train = len(train_items)
    steps_per_epoch = max(1, n_train // batch_size)  # full batches only (BatchNorm needs >= 2 images)
    epochs_given = epochs is not None
    if epochs is None:
        epochs = default_epochs(n_train, batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total_steps = epochs * steps_per_epoch
    warmup = max(1, min(100, total_steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, total_steps, 1.0, 0.0, warmup))
    average = WeightAverage(model, ema) if ema > 0 else None
    generator = torch.Generator(device=device).manual_seed(seed)
    order_generator = torch.Generator().manual_seed(seed)

    history: list[dict[str, Any]] = []
    best: tuple[tuple[float, float], int, Any] = ((-1.0, 0.0), 0, None)  # ((val accuracy, -val loss), epoch, state)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=order_generator)
        batches = [order[i * batch_size : (i + 1) * batch_size] for i in range(steps_per_epoch)]
        losses = []
        for rows in batches:
            rows = rows.to(device)
            views = train_view(train_pixels[rows], img_size, generator=generator, jitter=True, hue=hue)  # (B, 3, S, S)
            with autocast(device, precision, img_size):
                logits = model(_standardise(views, config))  # (B, 7)
            loss = F.cross_entropy(logits.float(), train_labels[rows], weight=loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if average is not None:
                average.update(model)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise TrainingError(
                    f"the teacher's loss became {losses[-1]} in epoch {epoch}; training stopped and "
                    "no teacher was written (try a lower --lr)"
                )
            if on_progress:
                on_progress(f"epoch {epoch}/{epochs}", 1, len(batches))
        record: dict[str, Any] = {"epoch": epoch, "epochs": epochs, "loss": float(np.mean(losses))}
        kept = model
        if average is not None:
            kept = average.model
            _recompute_batchnorm(kept, config, train_pixels[:BATCHNORM_IMAGES], batch_size * 2, device)
        if "val" in eval_data:
            val_pixels, val_labels = eval_data["val"]
            logits = _logits(kept, config, val_pixels, batch_size * 2, device)
            record["val_accuracy"] = float((logits.argmax(dim=-1) == val_labels).float().mean())
            record["val_loss"] = float(F.cross_entropy(logits, val_labels))
            if not math.isfinite(record["val_loss"]):
                raise TrainingError(
                    f"the teacher's val loss became {record['val_loss']} in epoch {epoch}; training diverged and "
                    "no teacher was written (try a lower --lr)"
                )
        history.append(record)
        # the best val accuracy; on a tie (a small val split saturates) the lower val loss; without val: the last
        score = (record["val_accuracy"], -record["val_loss"]) if "val" in eval_data else (float(epoch), 0.0)
        if score > best[0]:
            best = (score, epoch, {k: v.detach().clone() for k, v in kept.state_dict().items()})
        if on_epoch:
            on_epoch(record)

    model.load_state_dict(best[2])
    broken = [name for name, value in best[2].items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise TrainingError(
            f"the teacher's weights became non-finite ({broken[0]}, epoch {best[1]}); no teacher was "
            "written (try a lower --lr)"
        )
    splits_report = {}
    for name, (pixels, labels) in eval_data.items():
        predictions = _predict(model, config, pixels, batch_size * 2, device)
        splits_report[name] = classification_report(labels.numpy(), predictions, class_names, majority_class)
    report: dict[str, Any] = {
        "arch": config.arch,
        "img_size": img_size,
        "hue": hue,
        "precision": "bf16" if uses_bf16(device, precision, img_size) else "fp32",
        "feature_dim": config.feature_dim,
        "class_names": list(class_names),
        "data": str(Path(image_set.root).resolve()),
        "data_format": image_set.format,
        "init": init_info or "random",
        "epochs": epochs,
        "ema": ema,
        "epochs_from": "--epochs" if epochs_given else f"default (10, or at least {MIN_TEACHER_STEPS} steps)",
        "best_epoch": best[1],
        "selected_on": "val accuracy, ties by val loss" if "val" in eval_data else "last epoch",
        "val_from_train": val_from_train and "val" in eval_data,
        "train_counts": {name: int(count) for name, count in zip(class_names, label_counts)},
        "splits": splits_report,
        "history": history,
        "trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2),
    }
    teacher = Teacher(model, config, device, info=report)
    report["teacher_hash"] = teacher.hash
    return teacher, report
