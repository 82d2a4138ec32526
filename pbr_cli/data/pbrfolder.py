"""pbr's own dataset folder: stickers.jsonl plus train/val/test.jsonl (the format DESIGN.md fixes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Collection

from ..emotions import EMOTIONS
from ..errors import DataError
from .images import ContainedFolder
from .records import (
    as_id,
    as_id_list,
    as_utterances,
    build_dataset,
    check_dialogue,
    claim_id,
    iter_json_lines,
    json_type,
    require,
    split_files,
)
from .types import Dialogue, Sticker, StickerDataset

FORMAT = "pbr"
STICKERS_FILE = "stickers.jsonl"
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


def is_pbr_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / STICKERS_FILE).is_file()


def read_pbr_stickers(root: str | os.PathLike) -> dict[str, Sticker]:
    """The sticker library of a pbr dataset folder, in file order; every image must exist inside the folder."""
    root = Path(root)
    source = root / STICKERS_FILE
    if not source.is_file():
        raise DataError(f"no {STICKERS_FILE}: not a pbr dataset folder", root)
    folder = ContainedFolder(root, source)
    stickers: dict[str, Sticker] = {}
    first_line: dict[str, str] = {}
    for number, record in iter_json_lines(source):
        where = f"line {number}"
        sticker_id = as_id(require(record, "id", source, where), "id", source, where)
        claim_id(first_line, sticker_id, f"line {number}", "sticker", source, where)
        relative = require(record, "path", source, where)
        if not isinstance(relative, str):
            raise DataError(f"{where}: 'path' must be a string, got {json_type(relative)}", source)
        topic = as_id(require(record, "topic", source, where), "topic", source, where)
        emotion = record.get("emotion")
        if emotion is not None:
            emotion = as_id(emotion, "emotion", source, where).lower()
            if emotion not in EMOTIONS:
                raise DataError(
                    f"{where}: unknown emotion '{record['emotion']}' (expected one of {', '.join(EMOTIONS)})", source
                )
        path = folder.join(relative, f"{where}: path", must_exist=True)
        stickers[sticker_id] = Sticker(id=sticker_id, topic=topic, path=path, emotion=emotion)
    if not stickers:
        raise DataError("no stickers listed", source)
    return stickers


def _read_split(source: Path, stickers: dict[str, Sticker], seen_ids: dict[str, str]) -> list[Dialogue]:
    dialogues: list[Dialogue] = []
    for number, record in iter_json_lines(source):
        where = f"line {number}"
        dialogue_id = as_id(require(record, "id", source, where), "id", source, where)
        claim_id(seen_ids, dialogue_id, f"{source.name} line {number}", "dialogue", source, where)
        context = as_utterances(require(record, "context", source, where), "context", source, where)
        truth = as_id(require(record, "sticker", source, where), "sticker", source, where)
        candidates = record.get("candidates")
        if candidates is not None:
            candidates = as_id_list(candidates, "candidates", source, where)
        dialogue = Dialogue(id=dialogue_id, context=list(context), sticker=truth, candidates=candidates)
        dialogues.append(check_dialogue(dialogue, stickers, source, where, STICKERS_FILE))
    return dialogues


def read_pbr_dataset(root: str | os.PathLike, only: Collection[str] | None = None) -> StickerDataset:
    """Read a pbr dataset folder: the library and whichever of train/val/test.jsonl exist (of `only`, if given)."""
    root = Path(root)
    stickers = read_pbr_stickers(root)
    present = list(split_files(root, SPLIT_NAMES, ".jsonl"))
    if not present:
        raise DataError(f"no split files: expected train.jsonl, val.jsonl or test.jsonl beside {STICKERS_FILE}", root)
    seen_ids: dict[str, str] = {}
    splits = {
        name: _read_split(root / f"{name}.jsonl", stickers, seen_ids)
        for name in present
        if only is None or name in only
    }
    return build_dataset(
        root, FORMAT, stickers, splits, {name: root / f"{name}.jsonl" for name in splits}, available=present
    )
