"""`pbr demo`: build the synthetic demo dataset (if needed) and show what it holds."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..demo.build import SIZES
from .common import json_option

if TYPE_CHECKING:
    from ..demo.build import DemoSummary


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Dataset folder (default: the cache, $PBR_CACHE_DIR or ~/.cache/pbr, under demo/). A demo dataset of "
    "another seed or size there is replaced (said so); a folder that also holds other files is refused.",
)
@click.option(
    "--size",
    type=click.Choice(list(SIZES)),
    default="small",
    show_default=True,
    help="tiny: 4 topics, 200 dialogues (tests); small: 24 topics, 4000 dialogues; medium: 28 topics, 20000 dialogues.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("pbr-demo"),
    show_default=True,
    help="Folder for the pipeline's files: teacher, anchors, runs, results, plots, "
    "sheets. It must be new, empty or an earlier demo report (marked by a "
    ".pbr-demo-report file): the demo replaces the files in it.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=1200,
    show_default=True,
    help="Training steps of each model (Base and PBR).",
)
@click.option(
    "--teacher-epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Epochs of the emotion teacher (default: teacher-train's, scaled to the emotion set's size).",
)
@click.option(
    "--parallel/--sequential",
    default=None,
    help="Train Base in a second process beside the teacher and PBR, half the threads each, or run the steps "
    "one after another. Default: parallel on a CPU with 2 or more threads (two one-thread trainings do ~1.4x "
    "the work of one two-thread training); sequential on a GPU.",
)
@click.option("--dataset-only", is_flag=True, help="Only build the dataset and show what it holds.")
@json_option("Print the summary as one JSON object.")
@click.pass_context
def demo(
    ctx: click.Context,
    out_dir: Path | None,
    size: str,
    report_dir: Path,
    steps: int,
    teacher_epochs: int,
    parallel: bool | None,
    dataset_only: bool,
    as_json: bool,
) -> None:
    """Run the whole pipeline on the synthetic demo dataset: Base against full PBR.

    Builds the dataset (or reuses it), trains the emotion teacher, builds the anchors, embeds the
    sticker library with the teacher, scores the dialogues' sentiment, trains the tiny Base model
    and the tiny PBR model (EKD + TSCL + PHSM) for the same number of steps, evaluates both on the
    test split and writes a report folder (results, plots, ranked sticker sheets). On a CPU, Base
    trains in a second process beside the teacher and PBR (its output in logs/base.log).

    Cartoon sticker characters (topics) drawn with 7 emotions and several gestures or props each,
    Chinese dialogues whose last turns usually carry the emotion of the sticker sent after them,
    and an emotion-labelled set of other characters in SER30K layout for the teacher. The data and
    every random draw follow from the global --seed (an existing dataset of the same seed and size
    is reused). Every step runs with deterministic kernels (as `pbr --deterministic`) and PBR takes
    Base's threads at a fixed step (half-way, waiting for Base if need be), so a demo run twice on one
    machine gives the same numbers; another CPU or GPU, or another torch, gives others.
    """
    from .. import console
    from ..demo.build import build_demo, default_demo_dir, demo_is_current, read_demo_summary
    from ..errors import TrainingInterrupted

    seed = ctx.obj.seed if ctx.obj is not None else 0
    root = out_dir if out_dir is not None else default_demo_dir(seed, size)
    if not dataset_only:
        from ..demo.pipeline import check_report_folder

        check_report_folder(report_dir)  # before any work: the report folder must be the demo's own
    if demo_is_current(root, seed, size):
        console.info(f"using the demo dataset in {root}")
        summary = read_demo_summary(root)
    else:
        from ..demo.build import check_replaceable, describe_existing

        check_replaceable(Path(root))  # before a word of replacing it
        replaced = describe_existing(root)
        if replaced:
            console.notice(f"{root} holds {replaced}: it is replaced by the {size} demo dataset of seed {seed}")
        console.info(f"building the {size} demo dataset (seed {seed}) in {root} ...")
        summary = build_demo(root, seed, size)
        console.info(f"built in {summary.build_seconds:.1f} s")
    if dataset_only:
        if as_json:
            console.print_json(summary.to_json())
        else:
            print_summary(summary)
        return
    if not as_json:
        print_summary(summary)
    from ..demo.pipeline import DemoPlan, print_results, run_pipeline

    device = ctx.obj.device if ctx.obj is not None else "auto"
    plan = DemoPlan(
        data=Path(root),
        report=report_dir,
        seed=seed,
        steps=steps,
        teacher_epochs=teacher_epochs,
        device=device,
        parallel=parallel,
    )
    # with --json each step's report goes to stderr: stdout is the one JSON object
    with console.results_to_stderr() if as_json else contextlib.nullcontext():
        try:
            result = run_pipeline(plan)
        except TrainingInterrupted as stopped:  # the demo starts its trainings anew: resuming one makes no report
            stopped.args = (
                f"{stopped.message.split(':')[0]}: the demo stopped during a training; run the same `pbr demo` "
                f"command again to start over (the dataset in {root} is kept)",
            )
            raise
    if as_json:
        console.print_json(result)
    else:
        print_results(result)


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def print_summary(summary: "DemoSummary") -> None:
    """Tables of the dataset's splits, topics and emotions, and two example dialogues, on stdout."""
    from ..console import out, print_table
    from ..emotions import EMOTIONS

    total = summary.dialogues
    out.print(
        f"Demo dataset {summary.root}  (size {summary.size}, seed {summary.seed}, "
        f"generator v{summary.generator_version})",
        markup=False,
    )
    emotion_set = summary.emotion_set
    print_table(
        "Splits",
        ["split", "dialogues", "emotion-set images"],
        [[name, summary.splits[name], emotion_set["splits"].get(name, 0)] for name in summary.splits]
        + [["total", total, sum(emotion_set["splits"].values())]],
    )

    per_row = 2
    topics = list(summary.topics.items())
    rows = []
    for start in range(0, len(topics), per_row):
        row: list[object] = []
        for topic, counts in topics[start : start + per_row]:
            row += [topic, counts["stickers"], counts["dialogues"]]
        rows.append(row + [""] * (3 * per_row - len(row)))
    columns = ["topic", "stickers", "dialogues"] * min(per_row, len(topics))
    print_table(
        f"Topics ({len(topics)} in the library, {summary.stickers} stickers)",
        columns,
        [row[: len(columns)] for row in rows],
    )

    set_total = sum(emotion_set["emotions"].values())
    print_table(
        f"Emotions (emotion set: {len(emotion_set['characters'])} other characters)",
        ["emotion", "dialogues", "share", "emotion-set images", "set share"],
        [
            [
                emotion,
                summary.emotions.get(emotion, 0),
                _percent(summary.emotions.get(emotion, 0), total),
                emotion_set["emotions"].get(emotion, 0),
                _percent(emotion_set["emotions"].get(emotion, 0), set_total),
            ]
            for emotion in EMOTIONS
        ],
    )

    agreement = summary.agreement
    out.print(
        "Text and sticker: "
        + ", ".join(f"{kind} {_percent(count, total)}" for kind, count in agreement.items())
        + f"; the sticker's gesture or prop is named in {_percent(summary.variant_mentioned, total)}"
        " of the dialogues."
    )
    for example in summary.examples:
        out.print(f"\nExample {example['id']} (test):", style="bold")
        for turn in example["context"]:
            out.print(f"  {turn}", markup=False)
        out.print(f"  -> {example['sticker']}  ({example['emotion']}, {example['variant']})", markup=False)
        out.print(f"     {example['path']}", markup=False)
