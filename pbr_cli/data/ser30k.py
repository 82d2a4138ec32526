"""SER30K (Liu et al. 2022): Annotations/image-level/{train,val,test}.json and Images/<topic>/<file_name>."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..emotions import EMOTIONS
from ..errors import DataError
from .images import ContainedFolder
from .records import as_id, as_object, claim_id, json_type, read_json, require, split_files
from .types import EmotionImageSet, LabelledImage, Sticker

FORMAT = "ser30k"
ANNOTATION_FOLDER = Path("Annotations") / "image-level"
IMAGE_FOLDER = "Images"
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


def is_ser30k_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / ANNOTATION_FOLDER).is_dir()


def _label(value: object, source: Path, where: str) -> int:
    """SER30K's `anno` (1..7, in EMOTIONS order) as an index into EMOTIONS."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: 'anno' must be an integer 1..{len(EMOTIONS)}, got {json_type(value)}", source)
    if not 1 <= value <= len(EMOTIONS):
        raise DataError(f"{where}: 'anno' is {value}, expected 1..{len(EMOTIONS)} ({', '.join(EMOTIONS)})", source)
    return value - 1


def _read_split(source: Path, images: ContainedFolder) -> list[LabelledImage]:
    document = read_json(source)
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        raise DataError("expected an object with an 'annotations' array", source)
    labelled: list[LabelledImage] = []
    first_seen: dict[str, str] = {}
    for index, item in enumerate(document["annotations"]):
        where = f"annotations[{index}]"
        item = as_object(item, where, source, where)
        topic = as_id(require(item, "topic", source, where), "topic", source, where)
        file_name = as_id(require(item, "file_name", source, where), "file_name", source, where)
        label = _label(require(item, "anno", source, where), source, where)
        relative = PurePosixPath(file_name)
        if relative.parts[0] != topic:  # file names are normally bare; accept '<topic>/<name>' too
            relative = PurePosixPath(topic, file_name)
        image_id = relative.with_suffix("").as_posix()
        claim_id(first_seen, image_id, where, "image", source, where)
        path = images.join(relative.as_posix(), f"{where}: image", must_exist=True)
        labelled.append(LabelledImage(id=image_id, path=path, label=label, topic=topic))
    return labelled


def read_ser30k(root: str | os.PathLike) -> EmotionImageSet:
    """The emotion-labelled images of every split file present (at least one is required)."""
    root = Path(root)
    annotations = root / ANNOTATION_FOLDER
    sources = split_files(annotations, SPLIT_NAMES, ".json")
    if not sources:
        raise DataError(f"no train/val/test.json under {ANNOTATION_FOLDER.as_posix()}/", root)
    splits = {
        name: _read_split(source, ContainedFolder(root / IMAGE_FOLDER, source)) for name, source in sources.items()
    }
    if not any(splits.values()):
        raise DataError("no annotations in any split file", annotations)
    return EmotionImageSet(root=root, format=FORMAT, splits=splits)


def read_ser30k_stickers(root: str | os.PathLike) -> list[Sticker]:
    """SER30K images as a sticker library (id, topic, emotion, path), each image once, split order."""
    stickers: dict[str, Sticker] = {}
    for images in read_ser30k(root).splits.values():
        for image in images:
            if image.id not in stickers:
                stickers[image.id] = Sticker(
                    id=image.id, topic=image.topic, path=image.path, emotion=EMOTIONS[image.label]
                )
    return list(stickers.values())
