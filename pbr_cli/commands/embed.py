"""`pbr embed`: features of every image of a folder — the teacher's V^e and emotion probabilities (--teacher)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import DataError
from .common import guard_outputs

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
@click.option("--model", "run", type=click.Path(path_type=Path),
              help="Run folder from `pbr train`: write a sticker ranking index for `pbr rank`.")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="With --model: which checkpoint of the run.")
@click.option("--no-tokens", is_flag=True,
              help="With --model: store only ITC embeddings (smaller index; rank re-decodes the top k images).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Features file to write (default: ser_teacher.h5 for emotion-labelled images, "
                   "stickers_teacher.h5 otherwise).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per forward pass.")
@click.option("--skip-bad-images", is_flag=True,
              help="Leave out unreadable images and report how many; without it the first one is an error.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
@guard_outputs("output")
def embed(settings, images: Path, teacher_path: Path | None, run: Path | None, which: str, no_tokens: bool,
          output: Path | None, batch_size: int, skip_bad_images: bool, as_json: bool) -> None:
    """Embed every image of IMAGES with a model.

    IMAGES is a SER30K folder, an ImageFolder root/<emotion>/*, a dataset folder (its sticker
    library) or any folder of images. With --teacher, the file (kind teacher_features) holds each
    image's id, the teacher's pooled feature V^e and its 7-class probabilities, plus labels,
    topics and paths where IMAGES has them; rows of an emotion-labelled set come split by split,
    and the file records the train rows for build-anchors.

    With --model, the file (kind sticker_index, default sticker_index.h5) holds each sticker's id,
    path, L2-normalised ITC embedding (fp16), the image-tower tokens that ITM re-ranking needs, and
    the model's hash, so that `pbr rank` can rank without re-reading the images.
    """
    if (teacher_path is None) == (run is None):
        raise click.UsageError("name exactly one model to embed with: --teacher FILE or --model RUN")
    if teacher_path is not None:
        embed_with_teacher(settings, images, teacher_path, output, batch_size, skip_bad_images, as_json)
    else:
        embed_with_model(settings, images, run, which, not no_tokens, output, batch_size, skip_bad_images, as_json)


def embed_with_model(settings, images: Path, run: Path, which: str, store_tokens: bool, output: Path | None,
                     batch_size: int, skip_bad_images: bool, as_json: bool) -> None:
    from .. import console
    from ..index import build_index, library_from_folder
    from ..io import check_output_path
    from ..model.checkpoint import load_run

    started = time.perf_counter()
    output = output if output is not None else Path("sticker_index.h5")
    check_output_path(output)
    device = settings.torch_device()
    model, config, _, model_hash = load_run(run, which, device)
    stickers = library_from_folder(images)
    with console.progress(total=len(stickers), desc="indexing", unit="img") as bar:
        summary = build_index(model, stickers, config.model.img_size, device, model_hash, output, store_tokens,
                              skip_bad_images, bar.update, batch_size, source=images)
    if summary.get("rank") == -1:
        return                         # under torchrun, process 0 merges the shards and reports
    if summary["skipped"]:
        console.warn(f"skipped {summary['skipped']} unreadable image(s)")
    summary.update({"input": str(images), "model": str(run), "model_hash": model_hash,
                    "seconds": round(time.perf_counter() - started, 3)})
    if as_json:
        console.print_json(summary)
        return
    console.out.print(f"{output}: {summary['stickers']:,} stickers indexed ({summary['skipped']} skipped), "
                      f"{summary['dim']}-d embeddings{' + image tokens' if store_tokens else ''}, "
                      f"{summary['seconds']:.1f} s", markup=False, highlight=False)


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
