"""`pbr teacher-train` as one library call: emotion-labelled images in, a teacher checkpoint file and its report out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..data.types import EmotionImageSet
from ..summaries import percent
from .training import train_teacher


def classes_without_images(image_set: EmotionImageSet, split: str = "train") -> list[str]:
    """The class names (emotions) of which `split` holds no image, in class order."""
    present = {item.label for item in image_set.splits.get(split, [])}
    return [name for label, name in enumerate(image_set.class_names) if label not in present]


def train_teacher_file(
    output: str | os.PathLike,
    data: str | os.PathLike | None = None,
    init: str | os.PathLike | None = None,
    **training: Any,
) -> dict[str, Any]:
    """Train the teacher on the images at `data` (default: the demo's emotion set) and save it to `output`.

    `training` are `train_teacher`'s options (arch, img_size, epochs, batch_size, lr, hue, device, seed, ...).
    Progress and each epoch's loss go to the console; returns the report of `train_teacher` with "output" first.
    """
    from .. import console
    from ..datasets import open_teacher_data
    from ..io import check_output_path

    check_output_path(output)
    image_set = open_teacher_data(data)
    missing = classes_without_images(image_set)
    if missing and image_set.splits.get("train"):  # no train images at all: train_teacher refuses
        console.warn(
            f"{image_set.root}: no training images for {', '.join(missing)}; the teacher cannot learn "
            f"{'this emotion' if len(missing) == 1 else 'these emotions'}"
        )
    if init is None:
        console.notice("no --init: the teacher starts from random weights (nothing is downloaded)")
    bars = console.StageBars()

    def on_epoch(record: dict[str, Any]) -> None:
        bars.close()
        line = f"epoch {record['epoch']}/{record['epochs']}: loss {record['loss']:.4f}"
        if "val_accuracy" in record:
            line += f", val accuracy {percent(record['val_accuracy'])}, val loss {record['val_loss']:.4f}"
        console.info(line)

    try:
        teacher, report = train_teacher(image_set, init=init, on_progress=bars, on_epoch=on_epoch, **training)
    finally:
        bars.close()
    if isinstance(report["init"], dict) and report["init"]["missing"]:
        console.warn(
            f"{report['init']['missing']} tensor(s) of {report['arch']} were not in {init} "
            "and started from random weights"
        )
    teacher.save(Path(output))
    return {"output": str(output), **report}
