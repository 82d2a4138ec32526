"""StickerChat (Gao et al. 2020): release_*.json JSON lines, npy_stickers/<set>/<id>.npy, segmented-text joining."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Collection

from ..errors import DataError
from .images import is_hidden, refuse_undecodable_name
from .records import (
    as_id,
    as_object,
    build_dataset,
    check_dialogue,
    claim_id,
    has_text,
    iter_json_lines,
    json_type,
    normalise_split_name,
    note_textless,
    printable,
    require,
)
from .types import Dialogue, Sticker, StickerDataset

FORMAT = "stickerchat"
STICKER_FOLDER = "npy_stickers"
RELEASE_PREFIX = "release_"
_SPLIT_ORDER = ("train", "val", "test")

# Han ideographs, CJK radicals and punctuation, kana, bopomofo, half/full-width forms. Hangul is left out:
# Korean writes spaces between words.
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
)
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def join_segmented(text: str) -> str:
    """Undo word segmentation: drop whitespace next to a CJK character, keep one space between other words.

    "今天 考试 过 了 ！" -> "今天考试过了！"; "我 用 iPhone 拍 的" -> "我用iPhone拍的"; "good night" stays.
    """
    return " ".join(_SPACE_NEXT_TO_CJK.sub("", text).split())


def is_stickerchat_folder(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / STICKER_FOLDER).is_dir() or any(path.glob(f"{RELEASE_PREFIX}*.json"))


def sticker_key(set_id: str, sticker_id: str) -> str:
    """The library id of a StickerChat sticker: '<sticker_set_id>/<sticker_id>' (no '.npy')."""
    return f"{set_id}/{sticker_id}"


def _normalise_sticker_id(sticker_id: str, set_id: str) -> str:
    if sticker_id.lower().endswith(".npy"):
        sticker_id = sticker_id[: -len(".npy")]
    if sticker_id.startswith(f"{set_id}/"):
        sticker_id = sticker_id[len(set_id) + 1 :]
    return sticker_id


def read_stickerchat_library(root: str | os.PathLike) -> dict[str, Sticker]:
    """Every .npy under npy_stickers/, topic = its sticker set; ids are '<set>/<sticker>'."""
    folder = Path(root).absolute() / STICKER_FOLDER
    if not folder.is_dir():
        raise DataError(
            f"no {STICKER_FOLDER}/ folder: expected {STICKER_FOLDER}/<sticker_set_id>/<sticker_id>.npy", root
        )
    stickers: dict[str, Sticker] = {}
    first_seen: dict[str, str] = {}
    left_out: list[str] = []  # .npy files outside <set>/: loose in the folder or in a set's subfolders
    entries = sorted((e for e in os.scandir(folder) if not is_hidden(e.name)), key=lambda e: e.name)
    left_out += [e.name for e in entries if e.name.lower().endswith(".npy") and e.is_file()]
    for set_entry in (e for e in entries if e.is_dir()):
        refuse_undecodable_name(set_entry.name, folder)
        for entry in sorted(os.scandir(set_entry.path), key=lambda e: e.name):
            if is_hidden(entry.name):
                continue
            if entry.is_dir():
                left_out += [
                    os.path.relpath(os.path.join(dirpath, name), folder)
                    for dirpath, _, names in os.walk(entry.path)
                    for name in names
                    if name.lower().endswith(".npy")
                ]
            if not entry.name.lower().endswith(".npy") or not entry.is_file():
                continue
            refuse_undecodable_name(entry.name, set_entry.path)
            sticker_id = sticker_key(set_entry.name, entry.name[: -len(".npy")])
            relative = f"{set_entry.name}/{entry.name}"
            claim_id(first_seen, sticker_id, relative, "sticker", folder, relative)
            stickers[sticker_id] = Sticker(id=sticker_id, topic=set_entry.name, path=Path(entry.path))
    if left_out:
        from .. import console

        console.notice(
            f"{folder}: {len(left_out)} .npy file(s) outside {STICKER_FOLDER}/<sticker_set_id>/ left out, e.g. "
            f"'{printable(sorted(left_out)[0])}'"
        )
    if not stickers:
        raise DataError("no .npy stickers found", folder)
    return stickers


def _context_texts(context: Any, source: Path, where: str) -> list[str]:
    if not isinstance(context, list):
        raise DataError(f"{where}: 'context' must be an array of messages, got {json_type(context)}", source)
    texts: list[str] = []
    for index, message in enumerate(context):
        if isinstance(message, dict):
            text = message.get("text")
        elif isinstance(message, str):
            text = message
        else:
            raise DataError(f"{where}: 'context[{index}]' must be a message object, got {json_type(message)}", source)
        if isinstance(text, str):
            text = join_segmented(text)
            if text:
                texts.append(text)
        elif text is not None:  # a sticker message has no text; a number in its place is a broken record
            raise DataError(f"{where}: 'context[{index}].text' must be a string, got {json_type(text)}", source)
    return texts


def _read_release(source: Path, split: str, stickers: dict[str, Sticker]) -> list[Dialogue]:
    dialogues: list[Dialogue] = []
    # a context of stickers alone is real chat pbr cannot use, not an error: left out and said
    textless: list[str] = []
    for number, record in iter_json_lines(source):
        where = f"line {number}"
        context = _context_texts(require(record, "context", source, where), source, where)
        current = as_object(require(record, "current", source, where), "current", source, where)
        set_id = as_id(
            require(current, "sticker_set_id", source, where, "current.sticker_set_id"),
            "current.sticker_set_id",
            source,
            where,
        )
        raw_id = as_id(
            require(current, "sticker_id", source, where, "current.sticker_id"), "current.sticker_id", source, where
        )
        truth = sticker_key(set_id, _normalise_sticker_id(raw_id, set_id))
        dialogue = Dialogue(id=f"{split}-{number}", context=context, sticker=truth)
        if not has_text(context):
            textless.append(where)
            continue
        dialogues.append(check_dialogue(dialogue, stickers, source, where, f"{STICKER_FOLDER}/"))
    note_textless(source, textless)
    return dialogues


def read_stickerchat(root: str | os.PathLike, only: Collection[str] | None = None) -> StickerDataset:
    """Read a StickerChat folder; candidate sets are the truth plus 9 stickers of its set, drawn per record.

    Sample ids are '<split>-<line number>'. The per-set emoji_mapping.txt files are not needed and not read;
    with `only`, neither are the release files of other splits.
    """
    root = Path(root)
    stickers = read_stickerchat_library(root)
    sources: dict[str, Path] = {}
    for path in sorted(root.glob(f"{RELEASE_PREFIX}*.json")):
        name = normalise_split_name(path.stem[len(RELEASE_PREFIX) :])
        if name in sources:
            raise DataError(f"both {sources[name].name} and {path.name} hold the '{name}' split", root)
        sources[name] = path
    if not sources:
        raise DataError("no release_{train,val,test}.json files", root)
    ordered = sorted(sources, key=lambda name: (_SPLIT_ORDER.index(name) if name in _SPLIT_ORDER else 3, name))
    splits = {name: _read_release(sources[name], name, stickers) for name in ordered if only is None or name in only}
    return build_dataset(root, FORMAT, stickers, splits, {name: sources[name] for name in splits}, available=ordered)
