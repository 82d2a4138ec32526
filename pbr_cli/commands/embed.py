"""`pbr embed`: features of every image of a folder — the teacher's V^e and emotion probabilities (--teacher)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import given_options, guard_outputs, json_option, output_option, which_option


def implied_inputs(kwargs):
    """With --model: the run folder, also when --model names its .safetensors file."""
    if kwargs["run"] is not None:
        from ..model.run import resolve_run

        yield resolve_run(kwargs["run"])


def default_output(kwargs) -> Path | None:
    """The file `pbr embed` writes: -o, else sticker_index.h5 with --model, else by the kind of IMAGES with
    --teacher (ser_teacher.h5 for an emotion-labelled set, stickers_teacher.h5 otherwise)."""
    if kwargs.get("output") is not None:
        return kwargs["output"]
    if kwargs.get("run") is not None:
        return Path("sticker_index.h5")
    if kwargs.get("teacher_path") is not None:
        from ..teacher.embedding import TEACHER_OUTPUTS, is_emotion_image_set

        try:
            return Path(TEACHER_OUTPUTS[is_emotion_image_set(Path(kwargs["images"]))])
        except OSError:  # IMAGES unreadable: the command says so in its place
            return None
    return None


@click.command("embed")
@click.argument("images", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--teacher",
    "teacher_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Teacher checkpoint from `pbr teacher-train`: write its pooled features V^e and 7-class "
    "emotion probabilities.",
)
@click.option(
    "--model",
    "run",
    type=click.Path(path_type=Path),
    help="Run folder from `pbr train`: write a sticker ranking index for `pbr rank`.",
)
@which_option("With --model: which checkpoint of the run.")
@click.option(
    "--no-tokens",
    is_flag=True,
    help="With --model: store only ITC embeddings (smaller index; rank re-decodes the top k images).",
)
@output_option(
    None,
    "File to write (default: with --model sticker_index.h5; with --teacher ser_teacher.h5 for emotion-labelled "
    "images, stickers_teacher.h5 otherwise).",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Images per forward pass."
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    help="Leave out unreadable images (and a dataset's images whose file is gone) and report how many; without "
    "it the first one is an error.",
)
@json_option("Print the summary as one JSON object.")
@click.pass_obj
@guard_outputs("output", implied=implied_inputs, defaults=lambda kwargs: {"output": default_output(kwargs)})
def embed(
    settings,
    images: Path,
    teacher_path: Path | None,
    run: Path | None,
    which: str,
    no_tokens: bool,
    output: Path | None,
    batch_size: int,
    skip_bad_images: bool,
    as_json: bool,
) -> None:
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
    output = default_output({"output": output, "run": run, "teacher_path": teacher_path, "images": images})
    if teacher_path is not None:
        given = given_options(click.get_current_context(), ("which", "no_tokens"))
        if given:
            raise click.UsageError(
                f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to --model only; "
                "a teacher has neither checkpoints nor tokens"
            )
        embed_with_teacher(settings, images, teacher_path, output, batch_size, skip_bad_images, as_json)
    else:
        embed_with_model(settings, images, run, which, not no_tokens, output, batch_size, skip_bad_images, as_json)


def embed_with_model(
    settings,
    images: Path,
    run: Path,
    which: str,
    store_tokens: bool,
    output: Path | None,
    batch_size: int,
    skip_bad_images: bool,
    as_json: bool,
) -> None:
    from .. import console
    from ..index import index_folder
    from ..io import check_output_path
    from ..summaries import print_sticker_index

    check_output_path(output)
    summary = index_folder(
        images, run, which, store_tokens, output, batch_size, skip_bad_images, settings.torch_device()
    )
    if summary is None:
        return  # under torchrun, process 0 merges the shards and reports
    if as_json:
        console.print_json(summary)
    else:
        print_sticker_index(summary, store_tokens)


def embed_with_teacher(
    settings,
    images: Path,
    teacher_path: Path,
    output: Path | None,
    batch_size: int,
    skip_bad_images: bool,
    as_json: bool,
) -> None:
    from .. import console
    from ..summaries import print_teacher_features
    from ..teacher import embed_folder

    summary = embed_folder(images, teacher_path, output, batch_size, skip_bad_images, settings.torch_device())
    if as_json:
        console.print_json(summary)
    else:
        print_teacher_features(summary)
