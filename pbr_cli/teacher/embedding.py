"""Images to embed with the teacher: records of emotion sets and sticker libraries, the teacher's features of
them, and the teacher_features file (`pbr embed --teacher`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from ..data.types import EmotionImageSet, LabelledImage, Sticker
from ..emotions import EMOTIONS
from ..errors import DataError
from ..strict_json import dumps
from .model import Teacher, load_teacher

DECODE_CHUNK = 2048  # images decoded at a time while embedding, bounding memory on large libraries
CountProgress = Callable[[int], None]  # (images just done)


@dataclass(frozen=True)
class ImageRecord:
    """One image to embed: its source item (anything with `.image()`) and what its dataset says about it."""

    id: str
    source: LabelledImage | Sticker
    label: int = -1  # index into EMOTIONS; -1 unknown
    topic: str = ""
    path: str = ""
    split: str = ""  # train / val / test for emotion-labelled sets; "" otherwise

    def image(self) -> np.ndarray:
        return self.source.image()


def records_from_emotion_set(image_set: EmotionImageSet, splits: Sequence[str] | None = None) -> list[ImageRecord]:
    """Records of an emotion-labelled set, split by split (train, val, test order), labels kept."""
    names = [name for name in ("train", "val", "test") if name in image_set.splits] if splits is None else splits
    return [
        ImageRecord(item.id, item, item.label, item.topic, str(item.path), name)
        for name in names
        for item in image_set.splits.get(name, [])
    ]


def records_from_stickers(stickers: Sequence[Sticker]) -> list[ImageRecord]:
    """Records of a sticker library; a sticker's emotion becomes its label when the data has one."""
    return [
        ImageRecord(
            sticker.id,
            sticker,
            EMOTIONS.index(sticker.emotion) if sticker.emotion in EMOTIONS else -1,
            sticker.topic,
            "" if sticker.path is None else str(sticker.path),
        )
        for sticker in stickers
    ]


@dataclass
class TeacherEmbedding:
    """The teacher's outputs for the images that could be read, in input order."""

    records: list[ImageRecord]
    features: np.ndarray  # (N, C_S) float32 V^e
    probs: np.ndarray  # (N, 7) float32
    skipped: list[ImageRecord] = field(default_factory=list)  # unreadable images (with skip_bad_images)

    def split_rows(self) -> dict[str, list[int]]:
        """{split: [start, stop)} row ranges, when the records come split by split; {} otherwise."""
        ranges: dict[str, list[int]] = {}
        for row, record in enumerate(self.records):
            if not record.split:
                return {}
            if record.split not in ranges:
                ranges[record.split] = [row, row + 1]
            elif ranges[record.split][1] == row:
                ranges[record.split][1] = row + 1
            else:
                return {}
        return ranges


def embed_records(
    teacher: Teacher,
    records: Sequence[ImageRecord],
    batch_size: int = 64,
    skip_bad_images: bool = False,
    on_progress: CountProgress | None = None,
) -> TeacherEmbedding:
    """Run the teacher over `records`; an unreadable image is a DataError unless `skip_bad_images`."""
    from ..data.cache import decode_stickers

    kept: list[ImageRecord] = []
    skipped: list[ImageRecord] = []
    feature_rows: list[np.ndarray] = []
    prob_rows: list[np.ndarray] = []
    for chunk_start in range(0, len(records), DECODE_CHUNK):
        chunk = list(records[chunk_start : chunk_start + DECODE_CHUNK])
        pixels, bad = decode_stickers(chunk, teacher.config.img_size, skip_bad_images)  # (n, 3, S, S) uint8
        good = np.setdiff1d(np.arange(len(chunk)), np.asarray(bad, dtype=np.int64))
        skipped.extend(chunk[i] for i in bad)
        kept.extend(chunk[i] for i in good)
        for start in range(0, len(good), batch_size):
            rows = good[start : start + batch_size]
            features, probs = teacher.encode(torch.from_numpy(pixels[rows]))
            feature_rows.append(features.cpu().numpy())
            prob_rows.append(probs.cpu().numpy())
        if on_progress:
            on_progress(len(chunk))
    features = np.concatenate(feature_rows) if feature_rows else np.zeros((0, teacher.dim), np.float32)
    probs = np.concatenate(prob_rows) if prob_rows else np.zeros((0, len(teacher.class_names)), np.float32)
    return TeacherEmbedding(kept, features.astype(np.float32), probs.astype(np.float32), skipped)


def write_teacher_features(
    path: str | os.PathLike, embedding: TeacherEmbedding, teacher: Teacher, attrs: Mapping[str, Any] | None = None
) -> Path:
    """Write a `teacher_features` .h5: ids, V^e, probs, and labels / topics / paths where the input has them."""
    from ..features import write_h5

    return write_h5(path, "teacher_features", *teacher_feature_contents(path, embedding, teacher, attrs))


def teacher_feature_contents(
    path: str | os.PathLike, embedding: TeacherEmbedding, teacher: Teacher, attrs: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(datasets, attributes) of the `teacher_features` file of `embedding`."""
    records = embedding.records
    arrays: dict[str, Any] = {"ids": [r.id for r in records], "features": embedding.features, "probs": embedding.probs}
    if any(r.label >= 0 for r in records):
        arrays["labels"] = np.array([r.label for r in records], dtype=np.int64)
    if any(r.topic for r in records):
        arrays["topics"] = [r.topic for r in records]
    if any(r.path for r in records):
        arrays["paths"] = [r.path for r in records]
    split_rows = embedding.split_rows()
    all_attrs = {
        "teacher_hash": teacher.hash,
        "dim": teacher.dim,
        "class_names": list(teacher.class_names),
        "teacher_arch": teacher.config.arch,
        "img_size": teacher.config.img_size,
        "skipped_images": len(embedding.skipped),
        "split_rows": dumps(split_rows, "the split rows", path) if split_rows else "",
        **(attrs or {}),
    }
    return arrays, all_attrs


TEACHER_OUTPUTS = {True: "ser_teacher.h5", False: "stickers_teacher.h5"}  # emotion-labelled set? -> default name


def is_emotion_image_set(path: Path) -> bool:
    """True for a SER30K folder or an ImageFolder of emotions (root/<emotion>/*, root/{train,val,test}/<emotion>/*)."""
    from ..data.pbrfolder import is_pbr_folder
    from ..data.records import normalise_split_name
    from ..data.ser30k import is_ser30k_folder

    if is_ser30k_folder(path):
        return True
    if is_pbr_folder(path):
        return False
    names = {normalise_split_name(p.name) for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return bool(names) and (names <= set(EMOTIONS) or names <= {"train", "val", "test"})


def image_records(path: Path) -> tuple[list[ImageRecord], bool]:
    """(records, emotion-labelled?) for IMAGES: an emotion set keeps its splits, anything else is a sticker library."""
    from ..data import open_emotion_images, open_sticker_library

    if is_emotion_image_set(path):
        return records_from_emotion_set(open_emotion_images(path)), True
    return records_from_stickers(open_sticker_library(path)), False


def embed_folder(
    images: Path, teacher_path: Path, output: Path | None, batch_size: int, skip_bad_images: bool, device
) -> dict[str, Any]:
    """`pbr embed --teacher`: the teacher features file of every image under `images`; returns its summary.

    `output` defaults to ser_teacher.h5 for an emotion-labelled set and stickers_teacher.h5 otherwise.
    """
    from .. import console
    from ..data.images import missing_images_allowed
    from ..features import first_repeat
    from ..io import check_output_path

    started = time.perf_counter()
    teacher = load_teacher(teacher_path, device)
    with missing_images_allowed(skip_bad_images):
        records, labelled_set = image_records(images)
    repeat = first_repeat([record.id for record in records])
    if repeat is not None:  # e.g. one SER30K image annotated in two splits
        value, first, again = repeat
        where = [records[row].split or "the library" for row in (first, again)]
        raise DataError(
            f"image '{value}' is listed twice ({where[0]} and {where[1]}); a features file holds one row per id",
            images,
        )
    output = output if output is not None else Path(TEACHER_OUTPUTS[labelled_set])
    check_output_path(output)
    with console.progress(total=len(records), desc="embedding", unit="img") as bar:
        embedding = embed_records(teacher, records, batch_size, skip_bad_images, on_progress=bar.update)
    if not embedding.records:
        raise DataError(f"none of the {len(records)} images could be read; nothing was written", images)
    write_teacher_features(output, embedding, teacher, {"source": str(images), "teacher": str(teacher_path)})
    if embedding.skipped:
        first = embedding.skipped[0]
        console.warn(f"skipped {len(embedding.skipped)} unreadable image(s), e.g. {first.path or first.id}")
    return {
        "output": str(output),
        "input": str(images),
        "teacher": str(teacher_path),
        "teacher_hash": teacher.hash,
        "images": len(embedding.records),
        "skipped": len(embedding.skipped),
        "labelled": sum(record.label >= 0 for record in embedding.records),
        "dim": teacher.dim,
        "splits": embedding.split_rows(),
        "seconds": round(time.perf_counter() - started, 3),
    }


def train_rows(split_rows_attr: str, n_rows: int) -> slice:
    """Rows of the 'train' split from a features file's `split_rows` attr; every row when it has none."""
    if split_rows_attr:
        ranges = json.loads(split_rows_attr)
        if "train" in ranges:
            start, stop = ranges["train"]
            return slice(int(start), int(stop))
    return slice(0, n_rows)
