"""`pbr build-anchors`: per-emotion K-Means of teacher features into the 7·M emotion anchors (paper §3.2)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError
from .common import guard_outputs, json_option, output_option

DEFAULT_TEACHER = "teacher.pt"
DEFAULT_OUTPUT = "anchors.h5"


def teacher_or_default(teacher_path: Path | None) -> Path:
    """The teacher that embeds the images: --teacher, else teacher.pt in the working folder."""
    return teacher_path if teacher_path is not None else Path(DEFAULT_TEACHER)


def implied_inputs(kwargs):
    """Without --features: the teacher (default teacher.pt) and the images it embeds (--data, else the teacher's
    own training data, else the demo's emotion set)."""
    if kwargs["features_path"] is not None:
        return  # the features file is named; the teacher, when named, only checks it
    from ..knowledge import anchor_images_path
    from ..teacher.model import teacher_info

    teacher_path = teacher_or_default(kwargs["teacher_path"])
    yield teacher_path
    yield anchor_images_path(kwargs["data"], teacher_info(teacher_path), build=False)


@click.command("build-anchors")
@click.option(
    "--teacher",
    "teacher_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Teacher checkpoint (default: teacher.pt in the working folder). With --features it is "
    "optional and, when given, must be the teacher that made them.",
)
@click.option(
    "-M",
    "--M",
    "clusters",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Anchors (K-Means clusters) per emotion; the paper's best is 60 (Table 4).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Emotion-labelled images to embed, train split (SER30K or root/<emotion>/*); "
    "default: the teacher's own training data, else the demo's emotion set.",
)
@click.option(
    "--features",
    "features_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Teacher features from `pbr embed --teacher` instead of embedding: its labelled rows "
    "(the train split when the file records one).",
)
@output_option(DEFAULT_OUTPUT, "Anchors file to write (HDF5, kind 'anchors').")
@click.option(
    "--on-small-class",
    type=click.Choice(["error", "shrink"]),
    default="error",
    show_default=True,
    help="An emotion with fewer than M images: error, or shrink (one centroid per image, repeated "
    "cyclically to M rows so the file keeps 7·M anchors; the distinct count is stored).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images per teacher forward pass when embedding.",
)
@json_option("Print the summary as one JSON object.")
@click.pass_obj
@guard_outputs("output", implied=implied_inputs)
def build_anchors(
    settings,
    teacher_path: Path | None,
    clusters: int,
    data: Path | None,
    features_path: Path | None,
    output: Path,
    on_small_class: str,
    batch_size: int,
    as_json: bool,
) -> None:
    """Cluster each emotion's teacher features into M centroids: the 7·M emotion anchors E.

    The anchors are stored emotion-major (emotion 0's M centroids first, SER30K order: surprise,
    happiness, disgust, fear, sadness, anger, neutral) with each anchor's emotion, M, the feature
    size and the teacher's hash. Without --features, the teacher embeds the train split of its
    data once; the features are cached under $PBR_CACHE_DIR (default ~/.cache/pbr), keyed by the
    teacher's hash and the images.
    """
    from .. import console
    from ..io import check_output_path
    from ..knowledge import anchors_file
    from ..summaries import print_anchors

    if data is not None and features_path is not None:
        raise click.UsageError("--data and --features exclude each other: give one")
    check_output_path(output)
    if features_path is None:
        teacher_path = teacher_or_default(teacher_path)
        if not teacher_path.exists():
            raise ConfigError(
                f"no teacher: {teacher_path} not found; pass --teacher FILE or train one with `pbr teacher-train`"
            )
    _, summary = anchors_file(
        output,
        clusters,
        on_small_class,
        settings.seed,
        teacher_path,
        data,
        features_path,
        batch_size,
        settings.torch_device(),
    )
    if as_json:
        console.print_json(summary)
    else:
        print_anchors(summary)
