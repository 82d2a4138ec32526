"""`pbr train`: train a ranker (Base ITC+ITM, CLIP-style ITC, or PBR with its components) into a run folder."""

from __future__ import annotations

import click

from ..model.config import choices
from .common import (
    given_options,
    guard_outputs,
    json_option,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_interval,
)

INPUT_FILE = click.Path(exists=True, dir_okay=False)


@click.command()
@click.option(
    "--data",
    type=click.Path(exists=True),
    default=None,
    help="Dataset folder (any supported format). Default: the demo dataset.",
)
@click.option("--config", default="tiny", show_default=True, help="tiny, paper, or a YAML/JSON file.")
@click.option("--img", default=None, help="Image tower: vit, resnet, inception or any timm model name.")
@click.option("--txt", type=click.Choice(choices("model.txt")), default=None, help="Text tower.")
@click.option(
    "-o",
    "--out",
    type=click.Path(),
    default=None,
    help="Run folder to create (absent or empty; it appears once the first checkpoint is saved, and "
    "one process at a time writes it). Default: runs/<config>-<loss>[-N].",
)
@click.option(
    "--loss",
    type=click.Choice(choices("train.loss")),
    default=None,
    help="itm: ITC + ITM with hard negatives (ALBEF / PBR Base); itc: CLIP-style dual encoder.",
)
@click.option("--batch-size", "-K", type=int, default=None, callback=positive_int, help="Dialogues per step.")
@click.option("--steps", type=int, default=None, callback=positive_int, help="Optimiser steps.")
@click.option("--epochs", type=float, default=None, callback=positive_float, help="Epochs (when --steps is not given).")
@click.option("--lr", type=float, default=None, callback=positive_float, help="Peak learning rate (cosine decay).")
@click.option("--min-lr", type=float, default=None, callback=non_negative_float, help="Final learning rate.")
@click.option("--weight-decay", type=float, default=None, callback=non_negative_float)
@click.option(
    "--ema",
    type=float,
    default=None,
    callback=unit_interval,
    help="Decay of the moving average of the weights that is validated and saved (0 = off; tiny: 0.99).",
)
@click.option("--img-size", type=int, default=None, callback=positive_int, help="Input resolution.")
@click.option("--val-every", type=int, default=None, callback=positive_int, help="Validate every N steps.")
@click.option(
    "--val-limit",
    type=int,
    default=None,
    callback=non_negative_int,
    help="Validate on at most N val dialogues (0 = all).",
)
@click.option("--temp", type=float, default=None, callback=positive_float, help="ITC temperature (initial value).")
@click.option("--fixed-temp", is_flag=True, help="Keep the ITC temperature fixed instead of learning it.")
@click.option(
    "--img-weights", type=click.Path(exists=True), default=None, help="timm or ALBEF checkpoint for the image tower."
)
@click.option(
    "--txt-model", type=click.Path(exists=True), default=None, help="Hugging Face BERT folder (e.g. bert-base-chinese)."
)
@click.option("--word-vectors", type=INPUT_FILE, default=None, help="word2vec text file for lstm/gru/transformer.")
@click.option(
    "--teacher",
    type=INPUT_FILE,
    default=None,
    help="Teacher checkpoint; its features of the sticker library are computed once and cached. With "
    "--teacher-features, it must be the teacher that made them.",
)
@click.option(
    "--teacher-features",
    type=INPUT_FILE,
    default=None,
    help="Teacher features of the sticker library (`pbr embed DATA --teacher T`).",
)
@click.option("--anchors", type=INPUT_FILE, default=None, help="Emotion anchors (`pbr build-anchors`).")
@click.option(
    "--ekd",
    type=click.Choice(choices("train.ekd")),
    default=None,
    help="Emotion knowledge distillation (default: anchors when --anchors is given, else off).",
)
@click.option(
    "--ekd-weight", type=float, default=None, callback=non_negative_float, help="alpha (default: tiny 3.0, paper 0.5)."
)
@click.option(
    "--ekd-tau",
    type=float,
    default=None,
    callback=positive_float,
    help="Temperature of the pseudo-labels softmax(V^e E / tau) (default 1, the paper).",
)
@click.option(
    "--ekd-similarity",
    type=click.Choice(choices("train.ekd_similarity")),
    default=None,
    help="Pseudo-labels from the dot product v.e (the paper) or the distance -|v-e|^2/2 to each anchor.",
)
@click.option(
    "--text-mask",
    type=float,
    default=None,
    callback=non_negative_float,
    help="Share of the dialogue tokens replaced by [MASK] in each training batch (default 0, off).",
)
@click.option(
    "--sentiment",
    type=INPUT_FILE,
    default=None,
    help="Dialogue sentiment (`pbr score-sentiment`), for --negatives phsm.",
)
@click.option(
    "--negatives",
    type=click.Choice(choices("train.negatives")),
    default=None,
    help="ITM negatives (default: phsm when --sentiment and teacher emotion are given, else semantic).",
)
@click.option(
    "--itm-negatives",
    type=int,
    default=None,
    callback=positive_int,
    help="Negative stickers per dialogue in the ITM pairs, drawn by --negatives (default 1, the paper).",
)
@click.option(
    "--itm-list-weight",
    type=float,
    default=None,
    callback=non_negative_float,
    help="Weight of the listwise ITM term: each positive ranked against its dialogue's ITM negatives (0 = off).",
)
@click.option(
    "--phsm-emotion",
    type=click.Choice(choices("train.phsm_emotion")),
    default=None,
    help="Sticker polarity for PHSM: teacher pseudo-labels or the student's EKD head (default teacher).",
)
@click.option("--intra/--no-intra", default=None, help="Intra-topic contrastive learning (TSCL, eq. 7).")
@click.option("--inter/--no-inter", default=None, help="Inter-topic contrastive learning (TSCL, eq. 8).")
@click.option("--intra-weight", type=float, default=None, callback=non_negative_float, help="beta (default 0.5).")
@click.option("--inter-weight", type=float, default=None, callback=non_negative_float, help="gamma (default 0.5).")
@click.option("--tscl-temp", type=float, default=None, callback=positive_float, help="TSCL temperature (default 0.1).")
@click.option(
    "--skip-bad-images",
    is_flag=True,
    help="Train past unreadable stickers and stickers whose file is gone (blank images, reported), instead of "
    "stopping.",
)
@click.option(
    "--compile/--no-compile",
    "compile",
    default=None,
    help="torch.compile the towers and fusion (default: on with CUDA, off on the CPU).",
)
@click.option("--log-every", type=int, default=None, callback=positive_int, help="Log the losses every N steps.")
@click.option(
    "--save-every",
    type=int,
    default=None,
    callback=positive_int,
    help="Save a resumable checkpoint every N steps (default: at every validation).",
)
@click.option(
    "--resume",
    type=click.Path(),
    default=None,
    help="Continue an interrupted run folder from its last checkpoint with the options it was started with "
    "(any other train option given with it is refused).",
)
@json_option("Print the result as one JSON object.")
@click.pass_obj
@guard_outputs(folders=("out",))
def train(settings, resume, as_json, **options):
    """Train a sticker ranker on a dataset and write a run folder.

    The run folder holds config.json (the resolved configuration), run.json (the command's options),
    tokenizer.json, best.safetensors (chosen on val MAP), last.safetensors, train_state.pt (for
    --resume), metrics.jsonl and learning_curves.png. Validation never looks at the test split.

    \b
    Examples:
      pbr train                                   # tiny Base model on the demo data
      pbr train --loss itc -o runs/clip           # CLIP-style dual-encoder baseline
      pbr train --teacher-features stickers_teacher.h5 --anchors anchors.h5 \\
                --sentiment sentiment.h5 --intra --inter -o runs/pbr   # full PBR
      pbr train --data stickerchat/ --config paper --img-weights albef.pth --txt-model bert-base-chinese/
    """
    from .. import console
    from ..summaries import print_training
    from ..training import TrainOptions, run_training

    if resume:
        refuse_options_with_resume(click.get_current_context(), options)
    compile_mode = options.pop("compile")  # the flag's True / False / None is the config's on / off / auto
    options = TrainOptions(**options, compile=None if compile_mode is None else ("on" if compile_mode else "off"))
    result = run_training(options, settings, resume)
    if result is None:
        return  # under torchrun, process 0 reports
    if as_json:
        console.print_json(result)
    else:
        print_training(result)


def refuse_options_with_resume(ctx: click.Context, options: dict) -> None:
    """ConfigError for a train option given on the command line together with --resume: a resumed run continues
    with the options it was started with, and none is silently ignored."""
    from ..errors import ConfigError

    given = given_options(ctx, options)
    if given:
        raise ConfigError(
            f"{given[0]} is not read with --resume: a resumed run continues with the options it was started "
            "with (its config.json and run.json); leave it out"
        )
