"""`pbr teacher-train`: train the emotion teacher (paper §3.2) on emotion-labelled images and report its accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import guard_outputs

DEFAULT_OUTPUT = "teacher.pt"


class StageBars:
    """Progress bars for a library's `on_progress(stage, done, total)`: one bar per stage, closed when the next
    starts."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from .. import console

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = console.progress(total=total, desc=stage)
        self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.stage, self.bar = None, None


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def print_report(report: dict[str, Any], output: Path) -> None:
    """The human summary: per-class accuracy per split, overall accuracy vs the majority class, a confusion matrix."""
    from .. import console

    class_names = report["class_names"]
    splits = report["splits"]
    rows = [[name, report["train_counts"][name], *(_percent(splits[s]["per_class"][name]) for s in splits)]
            for name in class_names]
    for label, key in (("accuracy", "accuracy"), ("balanced accuracy", "balanced_accuracy"),
                       ("majority class", "majority_baseline")):
        rows.append([label, "", *(_percent(splits[s][key]) for s in splits)])
    title = (f"teacher {report['arch']} at {report['img_size']} px: epoch {report['best_epoch']}/{report['epochs']} "
             f"(selected on {report['selected_on']})")
    console.print_table(title, ["emotion", "train images", *splits], rows)
    if splits:
        shown = "test" if "test" in splits else next(iter(splits))
        confusion = splits[shown]["confusion"]
        console.print_table(f"confusion matrix on {shown} (rows: truth, columns: prediction)",
                            ["truth", *(name[:5] for name in class_names)],
                            [[name, *counts] for name, counts in zip(class_names, confusion)])
    console.out.print(f"wrote {output} (teacher {report['teacher_hash']}, feature size {report['feature_dim']}, "
                      f"{report['seconds']:.1f} s)", markup=False, highlight=False)


@click.command("teacher-train")
@click.argument("data", metavar="[DATA]", required=False,
                type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--arch", default="resnet50", show_default=True,
              help="timm model name of the teacher; 'tiny' is timm's test_resnet (CPU demos and tests).")
@click.option("--img-size", type=click.IntRange(min=16), default=128, show_default=True,
              help="Input side in pixels (images are padded to a white square and resized).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Passes over the train split. Default: 10, or on a small set as many as 1500 optimiser steps need.")
@click.option("--batch-size", type=click.IntRange(min=2), default=32, show_default=True, help="Images per step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="AdamW learning rate (cosine schedule with warm-up).")
@click.option("--hue", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Largest random hue rotation of the training views, as a share of 180° (0: none): a "
                   "sticker's emotion does not depend on its character's colours.")
@click.option("--init", "init_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="timm / ImageNet checkpoint (.safetensors, or a torch file of tensors) to start from; "
                   "its classifier is dropped. Default: random weights. Nothing is ever downloaded.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_OUTPUT,
              show_default=True, help="Teacher checkpoint to write (safetensors with its config in the header).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object (fractions in 0..1).")
@click.pass_obj
@guard_outputs("output")
def teacher_train(settings, data: Path | None, arch: str, img_size: int, epochs: int, batch_size: int, lr: float,
                  hue: float, init_path: Path | None, output: Path, as_json: bool) -> None:
    """Train the emotion teacher: a timm classifier over the 7 SER30K emotions.

    DATA is a SER30K folder (Annotations/image-level/{train,val,test}.json + Images/) or an
    ImageFolder root/<emotion>/* (or root/{train,val,test}/<emotion>/*); without DATA the demo's
    emotion set is used. Training augments (random resized crop, flip, colour jitter, hue rotation) and weights
    the loss by inverse class frequency. The epoch kept is the best on val (a tenth of train when
    the data has no val or test split). Without --epochs it trains 10 epochs, or on a small set as
    many as 1,500 optimiser steps need, so a set of tens of images per class is not left untrained.
    The report gives accuracy, per-class accuracy, the confusion matrix and the majority-class
    baseline on val and test.
    """
    from .. import console
    from ..datasets import open_teacher_data
    from ..io import check_output_path
    from ..teacher import train_teacher

    check_output_path(output)
    image_set = open_teacher_data(data)
    if init_path is None:
        console.notice("no --init: the teacher starts from random weights (nothing is downloaded)")
    bars = StageBars()

    def on_epoch(record: dict[str, Any]) -> None:
        bars.close()
        line = f"epoch {record['epoch']}/{record['epochs']}: loss {record['loss']:.4f}"
        if "val_accuracy" in record:
            line += f", val accuracy {_percent(record['val_accuracy'])}"
        console.info(line)

    try:
        teacher, report = train_teacher(image_set, arch=arch, img_size=img_size, epochs=epochs, batch_size=batch_size,
                                        lr=lr, hue=hue, init=init_path, device=settings.torch_device(),
                                        seed=settings.seed,
                                        on_progress=bars, on_epoch=on_epoch)
    finally:
        bars.close()
    if isinstance(report["init"], dict) and report["init"]["missing"]:
        console.warn(f"{report['init']['missing']} tensor(s) of {report['arch']} were not in {init_path} "
                     "and started from random weights")
    teacher.save(output)
    report = {"output": str(output), **report}
    if as_json:
        console.print_json(report)
    else:
        print_report(report, output)
