"""Dataset readers (one per format), images, candidate sets, tokenisation and transforms."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Collection

from ..errors import DataError
from .types import EmotionImageSet, Sticker, StickerDataset

DATASET_LAYOUTS = (
    "a pbr dataset folder (stickers.jsonl + train/val/test.jsonl)",
    "a StickerChat folder (release_{train,val,test}.json + npy_stickers/)",
    "a DSTC10-MOD folder (img2id.json + meme_set/ + dialogue or task .json files) or one MOD dialogue .json file",
)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError("not found", path)
    return path


def detect_dataset_format(path: str | os.PathLike, announce: bool = False) -> tuple[str, Path]:
    """('pbr' | 'stickerchat' | 'mod', the path its reader takes) for a dataset folder or file.

    A file of a pbr or StickerChat folder stands for the whole folder, every split; `announce` says so.
    """
    from .mod import is_mod_folder, looks_like_mod_file
    from .pbrfolder import STICKERS_FILE, is_pbr_folder
    from .stickerchat import RELEASE_PREFIX, is_stickerchat_folder

    path = _existing(path)
    if path.is_file():
        found = None
        if path.name == STICKERS_FILE or (path.suffix == ".jsonl" and is_pbr_folder(path.parent)):
            found = "pbr"
        elif path.name.startswith(RELEASE_PREFIX) and path.suffix == ".json":
            found = "stickerchat"
        if found is not None:
            if announce:
                from .. import console

                console.notice(f"{path}: read as part of its dataset folder {path.parent} (every split)")
            return found, path.parent
        if looks_like_mod_file(path):
            return "mod", path
    elif is_pbr_folder(path):
        return "pbr", path
    elif is_stickerchat_folder(path):
        return "stickerchat", path
    elif is_mod_folder(path):
        return "mod", path
    raise DataError("not a dataset; expected " + "; or ".join(DATASET_LAYOUTS), path)


def open_dataset(path: str | os.PathLike, splits: Collection[str] | None = None) -> StickerDataset:
    """Read a sticker-response-selection dataset in any supported layout; every sample has its candidates.

    `splits` (e.g. ("train", "val") for training) reads only those splits' files; the others are not opened.
    """
    format_name, target = detect_dataset_format(path, announce=True)
    if format_name == "pbr":
        from .pbrfolder import read_pbr_dataset

        return read_pbr_dataset(target, splits)
    if format_name == "stickerchat":
        from .stickerchat import read_stickerchat

        return read_stickerchat(target, splits)
    from .mod import read_mod

    return read_mod(target, splits)


def open_emotion_images(path: str | os.PathLike) -> EmotionImageSet:
    """Emotion-labelled images: a SER30K folder (Annotations/image-level/) or an ImageFolder root/<emotion>/*."""
    from .imagefolder import read_emotion_folder
    from .ser30k import is_ser30k_folder, read_ser30k

    path = _existing(path)
    if is_ser30k_folder(path):
        return read_ser30k(path)
    if not path.is_dir():
        raise DataError(
            "expected a SER30K folder (Annotations/image-level/ + Images/) or a folder root/<emotion>/*", path
        )
    return read_emotion_folder(path)


def open_sticker_library(path: str | os.PathLike) -> list[Sticker]:
    """The stickers of a dataset folder (pbr, StickerChat, MOD), a SER30K folder, or any folder of images.

    For a plain folder (searched recursively): id = relative path without suffix, topic = its folder.
    """
    from .imagefolder import read_folder_stickers
    from .mod import is_mod_folder, read_mod_library
    from .pbrfolder import is_pbr_folder, read_pbr_stickers
    from .ser30k import is_ser30k_folder, read_ser30k_stickers
    from .stickerchat import STICKER_FOLDER, read_stickerchat_library

    path = _existing(path)
    if not path.is_dir():
        raise DataError("expected a folder of stickers or a dataset folder", path)
    if is_pbr_folder(path):
        return list(read_pbr_stickers(path).values())
    if (path / STICKER_FOLDER).is_dir():
        return list(read_stickerchat_library(path).values())
    if is_ser30k_folder(path):
        return read_ser30k_stickers(path)
    if is_mod_folder(path):
        return list(read_mod_library(path).values())
    return read_folder_stickers(path)
