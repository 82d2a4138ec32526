"""The human form of each step's summary, on stdout: what a command prints without --json, and the demo too."""

from __future__ import annotations

from typing import Any

from . import console


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; a dash for a missing value."""
    return "–" if value is None else f"{100 * value:.1f}%"


def print_teacher_report(report: dict[str, Any]) -> None:
    """`pbr teacher-train`: per-class accuracy per split, overall accuracy vs the majority class, a confusion
    matrix."""
    class_names = report["class_names"]
    splits = report["splits"]
    rows = [
        [name, report["train_counts"][name], *(percent(splits[s]["per_class"][name]) for s in splits)]
        for name in class_names
    ]
    for label, key in (
        ("accuracy", "accuracy"),
        ("balanced accuracy", "balanced_accuracy"),
        ("majority class", "majority_baseline"),
    ):
        rows.append([label, "", *(percent(splits[s][key]) for s in splits)])
    title = (
        f"teacher {report['arch']} at {report['img_size']} px: epoch {report['best_epoch']}/{report['epochs']} "
        f"(selected on {report['selected_on']})"
    )
    console.print_table(title, ["emotion", "train images", *splits], rows)
    if splits:
        shown = "test" if "test" in splits else next(iter(splits))
        confusion = splits[shown]["confusion"]
        console.print_table(
            f"confusion matrix on {shown} (rows: truth, columns: prediction)",
            ["truth", *(name[:5] for name in class_names)],
            [[name, *counts] for name, counts in zip(class_names, confusion)],
        )
    console.result(
        f"wrote {report['output']} (teacher {report['teacher_hash']}, feature size "
        f"{report['feature_dim']}, {report['seconds']:.1f} s)"
    )


def print_teacher_features(summary: dict[str, Any]) -> None:
    """`pbr embed --teacher`: the file, its rows and the feature size."""
    console.result(
        f"{summary['output']}: {summary['images']:,} images x {summary['dim']} teacher features "
        f"({summary['labelled']:,} labelled, {summary['skipped']} skipped), {summary['seconds']:.1f} s"
    )


def print_sticker_index(summary: dict[str, Any], store_tokens: bool) -> None:
    """`pbr embed --model`: the index, its stickers and what it stores."""
    console.result(
        f"{summary['output']}: {summary['stickers']:,} stickers indexed ({summary['skipped']} skipped), "
        f"{summary['dim']}-d embeddings{' + image tokens' if store_tokens else ''}, "
        f"{summary['seconds']:.1f} s"
    )


def print_anchors(summary: dict[str, Any]) -> None:
    """`pbr build-anchors`: images and distinct anchors per emotion, then the file."""
    clusters = summary["M"]
    console.print_table(
        f"emotion anchors from {summary['source']}",
        ["emotion", "images", "distinct anchors"],
        [
            [name, images, f"{summary['clusters_per_emotion'][name]}/{clusters}"]
            for name, images in summary["images_per_emotion"].items()
        ],
    )
    agreement = summary["pseudo_label_agreement"]
    console.info(
        f"EKD pseudo-labels favour an image's own emotion for {100 * agreement['dot']:.1f}% of these images by "
        f"dot product (the paper's), {100 * agreement['distance']:.1f}% by distance (`pbr train --ekd-similarity "
        "distance`)"
    )
    console.result(
        f"wrote {summary['output']}: {summary['anchors']} anchors x {summary['dim']} (M={clusters}, "
        f"teacher {summary['teacher_hash']}), {summary['seconds']:.1f} s"
        f"{' (cached teacher features)' if summary['cached'] else ''}"
    )


def print_sentiment(summary: dict[str, Any]) -> None:
    """`pbr score-sentiment`: dialogues, distinct utterances, the share with a sentiment word, the rate."""
    seconds, dialogues = summary["seconds"], summary["dialogues"]
    rate = dialogues / seconds if seconds > 0 else float("inf")
    console.result(
        f"{summary['output']}: {dialogues:,} dialogues, {summary['distinct_utterances']:,} distinct utterances, "
        f"{100 * summary['with_sentiment']:.1f}% with sentiment, {seconds:.2f} s ({rate:,.0f} dialogues/s)"
    )


def print_training(result: dict[str, Any]) -> None:
    """`pbr train`: the run folder, its steps and its last validation."""
    console.result(f"run: {result['run']}")
    steps, resumed = result["steps"], result.get("resumed_from")
    if resumed is None:
        console.result(f"steps: {steps} in {result['seconds']} s")
    elif resumed >= steps:
        console.result(f"steps: {steps}, all trained before (nothing to resume)")
    else:  # the time is this process's part alone
        console.result(f"steps: {resumed + 1}-{steps} of {steps} in {result['seconds']} s (resumed at step {resumed})")
    if result.get("last_val"):
        val = result["last_val"]
        n = val["candidates"]
        console.result(
            f"val: MAP {100 * val['map']:.2f}  R{n}@1 {100 * val[f'r{n}@1']:.2f}  "
            f"(best val MAP {100 * result['best_val_map']:.2f})"
        )
