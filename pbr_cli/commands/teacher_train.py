"""`pbr teacher-train`: train the emotion teacher (paper §3.2) on emotion-labelled images and report its accuracy."""

from __future__ import annotations

from pathlib import Path

import click

from ..model.config import MAX_IMG_SIZE
from .common import FiniteFloatRange, guard_outputs, json_option, output_option

DEFAULT_OUTPUT = "teacher.pt"


def implied_inputs(kwargs):
    """Without DATA: the demo's emotion set (where it is or will be built)."""
    from ..datasets import teacher_data_path

    yield teacher_data_path(kwargs["data"], build=False)


@click.command("teacher-train")
@click.argument("data", metavar="[DATA]", required=False, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--arch",
    default="resnet50",
    show_default=True,
    help="timm model name of the teacher; 'tiny' is timm's test_resnet (CPU demos and tests).",
)
@click.option(
    "--img-size",
    type=click.IntRange(16, MAX_IMG_SIZE),
    default=128,
    show_default=True,
    help="Input side in pixels (images are padded to a white square and resized).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Passes over the train split. Default: 10, or on a small set as many as 1500 optimiser steps need.",
)
@click.option("--batch-size", type=click.IntRange(min=2), default=32, show_default=True, help="Images per step.")
@click.option(
    "--lr",
    type=FiniteFloatRange(min=0, min_open=True),
    default=1e-3,
    show_default=True,
    help="AdamW learning rate (cosine schedule with warm-up).",
)
@click.option(
    "--hue",
    type=FiniteFloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Largest random hue rotation of the training views, as a share of 180° (0: none): a "
    "sticker's emotion does not depend on its character's colours.",
)
@click.option(
    "--ema",
    type=FiniteFloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Decay per step of a moving average of the weights, which is then validated and kept (its "
    "BatchNorm statistics recomputed on the training images); 0: the trained weights themselves.",
)
@click.option(
    "--init",
    "init_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="timm / ImageNet checkpoint (.safetensors, or a torch file of tensors) to start from; "
    "its classifier is dropped. Default: random weights. Nothing is ever downloaded.",
)
@output_option(DEFAULT_OUTPUT, "Teacher checkpoint to write (safetensors with its config in the header).")
@json_option("Print the report as one JSON object (fractions in 0..1).")
@click.pass_obj
@guard_outputs("output", implied=implied_inputs)
def teacher_train(
    settings,
    data: Path | None,
    arch: str,
    img_size: int,
    epochs: int,
    batch_size: int,
    lr: float,
    hue: float,
    ema: float,
    init_path: Path | None,
    output: Path,
    as_json: bool,
) -> None:
    """Train the emotion teacher: a timm classifier over the 7 SER30K emotions.

    DATA is a SER30K folder (Annotations/image-level/{train,val,test}.json + Images/) or an
    ImageFolder root/<emotion>/* (or root/{train,val,test}/<emotion>/*); without DATA the demo's
    emotion set is used. Training augments (random resized crop, flip, colour jitter, hue rotation) and weights
    the loss by inverse class frequency. The epoch kept has the best val accuracy and, among epochs
    level on it, the lowest val loss (val: a tenth of train when the data has no val split).
    Without --epochs it trains 10 epochs, or on a small set as many as 1,500 optimiser steps need, so a
    set of tens of images per class is not left untrained. The report gives accuracy, per-class
    accuracy, the confusion matrix and the majority-class baseline on val and test.
    """
    from .. import console
    from ..errors import ConfigError
    from ..summaries import print_teacher_report
    from ..teacher import train_teacher_file
    from ..teacher.model import resolve_arch

    try:
        resolve_arch(arch)  # before any work or notice
    except ConfigError as exc:
        raise click.BadParameter(exc.message, param_hint="--arch") from None
    report = train_teacher_file(
        output,
        data,
        arch=arch,
        img_size=img_size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        hue=hue,
        ema=ema,
        init=init_path,
        device=settings.torch_device(),
        seed=settings.seed,
    )
    if as_json:
        console.print_json(report)
    else:
        print_teacher_report(report)
