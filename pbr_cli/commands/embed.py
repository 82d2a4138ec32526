"""`pbr embed`: features of every image of a folder — the teacher's V^e and emotion probabilities (--teacher)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import DataError

TEACHER_OUTPUTS = {True: "ser_teacher.h5", False: "stickers_teacher.h5"}  # emotion-labelled set? -> default name


def is_emotion_image_set(path: Path) -> bool:
    """True for a SER30K folder or an ImageFolder of emotions (root/<emotion>/*, root/{train,val,test}/<emotion>/*)."""
    from ..data.pbrfolder import is_pbr_folder
    from ..data.records import normalise_split_name
    from ..data.ser30k import is_ser30k_folder
    from ..data.types import EMOTIONS

    if is_ser30k_folder(path):
        return True
    if is_pbr_folder(path):
        return False
    names = {normalise_split_name(p.name) for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return bool(names) and (names <= set(EMOTIONS) or names <= {"train", "val", "test"})


def image_records(path: Path):
    """(records, emotion-labelled?) for IMAGES: an emotion set keeps its splits, anything else is a sticker library."""
    from ..data import open_emotion_images, open_sticker_library
    from ..teacher import records_from_emotion_set, records_from_stickers

    if is_emotion_image_set(path):
        return records_from_emotion_set(open_emotion_images(path)), True
    return records_from_stickers(open_sticker_library(path)), False


@click.command("embed")
@click.argument("images", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--teacher", "teacher_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Teacher checkpoint from `pbr teacher-train`: write its pooled features V^e and 7-class "
                   "emotion probabilities.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Features file to write (default: ser_teacher.h5 for emotion-labelled images, "
                   "stickers_teacher.h5 otherwise).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per forward pass.")
@click.option("--skip-bad-images", is_flag=True,
              help="Leave out unreadable images and report how many; without it the first one is an error.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def embed(settings, images: Path, teacher_path: Path | None, output: Path | None, batch_size: int,
          skip_bad_images: bool, as_json: bool) -> None:
    """Embed every image of IMAGES with a model.

    IMAGES is a SER30K folder, an ImageFolder root/<emotion>/*, a dataset folder (its sticker
    library) or any folder of images. With --teacher, the file (kind teacher_features) holds each
    image's id, the teacher's pooled feature V^e and its 7-class probabilities, plus labels,
    topics and paths where IMAGES has them; rows of an emotion-labelled set come split by split,
    and the file records the train rows for build-anchors.
    """
    if teacher_path is None:
        raise click.UsageError("name the model to embed with: --teacher FILE")
    embed_with_teacher(settings, images, teacher_path, output, batch_size, skip_bad_images, as_json)


def embed_with_teacher(settings, images: Path, teacher_path: Path, output: Path | None, batch_size: int,
                       skip_bad_images: bool, as_json: bool) -> None:
    from .. import console
    from ..io import check_output_path
    from ..teacher import embed_records, load_teacher, write_teacher_features

    started = time.perf_counter()
    teacher = load_teacher(teacher_path, settings.torch_device())
    records, labelled_set = image_records(images)
    output = output if output is not None else Path(TEACHER_OUTPUTS[labelled_set])
    check_output_path(output)
    bar = console.progress(total=len(records), desc="embedding", unit="img")
    try:
        embedding = embed_records(teacher, records, batch_size, skip_bad_images, on_progress=bar.update)
    finally:
        bar.close()
    if not embedding.records:
        raise DataError(f"none of the {len(records)} images could be read; nothing was written", images)
    write_teacher_features(output, embedding, teacher, {"source": str(images), "teacher": str(teacher_path)})
    seconds = time.perf_counter() - started
    if embedding.skipped:
        first = embedding.skipped[0]
        console.warn(f"skipped {len(embedding.skipped)} unreadable image(s), e.g. {first.path or first.id}")
    summary = {
        "output": str(output),
        "input": str(images),
        "teacher": str(teacher_path),
        "teacher_hash": teacher.hash,
        "images": len(embedding.records),
        "skipped": len(embedding.skipped),
        "labelled": sum(record.label >= 0 for record in embedding.records),
        "dim": teacher.dim,
        "splits": embedding.split_rows(),
        "seconds": round(seconds, 3),
    }
    if as_json:
        console.print_json(summary)
        return
    console.out.print(f"{output}: {summary['images']:,} images x {teacher.dim} teacher features "
                      f"({summary['labelled']:,} labelled, {summary['skipped']} skipped), {seconds:.1f} s",
                      markup=False, highlight=False)
