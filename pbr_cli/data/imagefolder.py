"""ImageFolder layouts: root/<emotion>/* as emotion-labelled images, any folder of images as a sticker library."""

from __future__ import annotations

import os
from pathlib import Path

from ..emotions import EMOTIONS
from ..errors import DataError
from .images import IMAGE_SUFFIXES, find_images, is_hidden, note_left_out
from .records import claim_id, normalise_split_name
from .types import EmotionImageSet, LabelledImage, Sticker

FORMAT = "imagefolder"
_SPLIT_FOLDERS = ("train", "val", "test")


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p.name))


def _read_classes(folder: Path, root: Path, left_out: list[Path]) -> list[LabelledImage]:
    loose = [
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(p.name)
    ]
    if loose:
        raise DataError(
            f"image '{loose[0].name}' lies outside a class folder; expected <folder>/<emotion>/<image>", folder
        )
    labelled: list[LabelledImage] = []
    for class_folder in _subfolders(folder):
        emotion = class_folder.name.lower()
        if emotion not in EMOTIONS:
            raise DataError(
                f"class folder '{class_folder.name}' is not an emotion (expected {', '.join(EMOTIONS)})", folder
            )
        for path in find_images(class_folder, left_out):
            image_id = path.relative_to(root).with_suffix("").as_posix()
            labelled.append(
                LabelledImage(id=image_id, path=path, label=EMOTIONS.index(emotion), topic=class_folder.name)
            )
    return labelled


def read_emotion_folder(root: str | os.PathLike) -> EmotionImageSet:
    """root/<emotion>/* (one 'train' split), or root/{train,val,test}/<emotion>/*; emotion names ignore case."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise DataError("folder not found" if not root.exists() else "expected a folder", root)
    folders = _subfolders(root)
    split_folders = {normalise_split_name(p.name): p for p in folders if normalise_split_name(p.name) in _SPLIT_FOLDERS}
    left_out: list[Path] = []
    if folders and len(split_folders) == len(folders):
        splits = {
            name: _read_classes(split_folders[name], root, left_out) for name in _SPLIT_FOLDERS if name in split_folders
        }
    else:
        splits = {"train": _read_classes(root, root, left_out)}
    note_left_out(root, left_out)
    if not any(splits.values()):
        raise DataError(
            "no images found; expected <folder>/<emotion>/*.png|jpg|webp|gif with emotion one of "
            f"{', '.join(EMOTIONS)}",
            root,
        )
    return EmotionImageSet(root=root, format=FORMAT, splits=splits)


def read_folder_stickers(root: str | os.PathLike) -> list[Sticker]:
    """Every image under `root` as a sticker: id = relative path without suffix, topic = its folder.

    Images directly in `root` take the root folder's name as topic; a folder named after an emotion
    gives its images that emotion.
    """
    root = Path(root).absolute()
    stickers: list[Sticker] = []
    first_seen: dict[str, str] = {}
    for path in find_images(root):
        relative = path.relative_to(root)
        sticker_id = relative.with_suffix("").as_posix()
        claim_id(first_seen, sticker_id, relative.as_posix(), "sticker", root, relative.as_posix())
        topic = relative.parent.as_posix() if relative.parent != Path(".") else root.name
        emotion = path.parent.name.lower() if path.parent.name.lower() in EMOTIONS else None
        stickers.append(Sticker(id=sticker_id, topic=topic, path=path, emotion=emotion))
    if not stickers:
        raise DataError(f"no images found (looked for {', '.join(IMAGE_SUFFIXES)})", root)
    return stickers
