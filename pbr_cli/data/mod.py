"""DSTC10-MOD (Fei et al. 2021), Chinese split: dialogue files, meme-retrieval task files, img2id.json and memes.

A dialogue file is `{"dialogue N": [{speaker_id, txt, img_id?, emotion_id?}, ...]}`; every turn with an
`img_id` becomes a sample whose context is the text of the turns up to and including it (a MOD meme is
sent together with its turn's text, as in the official retrieval task files) and whose truth is the
meme. A task file is a list of `{history, candidate: {set}, answer: {img_id}}`; its candidate set is kept.
MOD has no topics: every meme is in topic "mod", so drawn candidates come from the whole meme set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Collection

from ..errors import DataError
from .images import ContainedFolder, find_images
from .records import (
    as_id,
    as_id_list,
    as_object,
    build_dataset,
    check_dialogue,
    claim_id,
    has_text,
    json_type,
    normalise_split_name,
    note_textless,
    read_json,
    require,
)
from .types import Dialogue, Sticker, StickerDataset

FORMAT = "mod"
TOPIC = "mod"
IMG2ID_FILE = "img2id.json"
IMAGE_FOLDERS: tuple[str, ...] = ("meme_set", "memes", "meme", "images", "image", "imgs")
_NOT_DIALOGUE_FILES = {IMG2ID_FILE, "id2img.json"}
_DIALOGUE_START = re.compile(r'^\s*(\{\s*"dialogue|\[\s*\{\s*"history")')
_LANGUAGE_PREFIX = re.compile(r"^[ce]_")
_TASK_SUFFIX = re.compile(r"_task\d+$")


def looks_like_mod_file(path: str | os.PathLike) -> bool:
    """True when a .json file starts like a MOD dialogue file or task file (reads 4 KB, never fails)."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf").decode("utf-8", errors="ignore")
    except OSError:
        return False
    return bool(_DIALOGUE_START.match(head))


def is_mod_folder(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / IMG2ID_FILE).is_file() or any(looks_like_mod_file(p) for p in path.glob("*.json"))


def split_name(file_name: str) -> str:
    """c_train.json -> train, c_validation.json -> val, c_test_easy_task2.json -> test_easy."""
    stem = _TASK_SUFFIX.sub("", _LANGUAGE_PREFIX.sub("", Path(file_name).stem.lower()))
    return normalise_split_name(stem)


class _MemeIds:
    """Maps img_id values as written in dialogues ("030", 30) onto library ids."""

    def __init__(self, stickers: dict[str, Sticker]):
        self.stickers = stickers
        self.by_number: dict[int, list[str]] = {}
        for key in stickers:
            if _is_number(key):
                self.by_number.setdefault(int(key), []).append(key)

    def resolve(self, img_id: str, source: Path, where: str) -> str:
        """The library id `img_id` names: itself when the library has it, else the one id of the same number
        ("30" for "030"); a number that several ids write ("030" and "30") is refused, not guessed."""
        if img_id in self.stickers or not _is_number(img_id):
            return img_id
        keys = self.by_number.get(int(img_id), [img_id])
        if len(keys) > 1:
            raise DataError(
                f"{where}: meme id '{img_id}' is not in {IMG2ID_FILE} as written, and {len(keys)} ids there are "
                f"the same number ({', '.join(repr(k) for k in keys[:3])}): write the id exactly",
                source,
            )
        return keys[0]


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and "①", which int() refuses."""
    return text.isascii() and text.isdigit()


def _image_folder(root: Path, first_file: str) -> Path:
    for name in IMAGE_FOLDERS:
        if (root / name / first_file).exists():
            return root / name
    return root


def read_mod_library(root: str | os.PathLike) -> dict[str, Sticker]:
    """The meme set: img2id.json (file name -> id) with images in meme_set/ (or beside it), else image stems."""
    root = Path(root).absolute()
    mapping_file = root / IMG2ID_FILE
    stickers: dict[str, Sticker] = {}
    if not mapping_file.is_file():
        images = [p for name in IMAGE_FOLDERS if (root / name).is_dir() for p in find_images(root / name)]
        first_seen: dict[str, str] = {}
        for path in images:
            claim_id(first_seen, path.stem, path.name, "meme", root, path.name)
            stickers[path.stem] = Sticker(id=path.stem, topic=TOPIC, path=path)
        if not stickers:
            raise DataError(f"no {IMG2ID_FILE} and no images in {'/, '.join(IMAGE_FOLDERS)}/", root)
        return stickers
    mapping = read_json(mapping_file, reject_duplicate_keys=True)
    if not isinstance(mapping, dict) or not mapping:
        raise DataError("expected a non-empty object mapping image file names to ids", mapping_file)
    folder = ContainedFolder(_image_folder(root, next(iter(mapping))), mapping_file)
    first_seen = {}
    for file_name, value in mapping.items():
        where = f"'{file_name}'"
        meme_id = as_id(value, "id", mapping_file, where)
        claim_id(first_seen, meme_id, f"'{file_name}'", "meme", mapping_file, where)
        path = folder.join(file_name, f"{where}: image", must_exist=True)
        stickers[meme_id] = Sticker(id=meme_id, topic=TOPIC, path=path)
    return stickers


def _turn(item: Any, source: Path, where: str) -> tuple[str, str | None]:
    """(text, img_id or None) of one turn: a {txt, img_id} object or a plain string."""
    if isinstance(item, str):
        return item.strip(), None
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a turn object or a string, got {json_type(item)}", source)
    text = item.get("txt")
    if text is not None and not isinstance(text, str):
        raise DataError(f"{where}: 'txt' must be a string, got {json_type(text)}", source)
    img_id = item.get("img_id")
    img_id = None if img_id is None or img_id == "" else as_id(img_id, "img_id", source, where)
    return (text or "").strip(), img_id


def _samples_from_dialogues(document: Any, source: Path, memes: _MemeIds) -> list[Dialogue]:
    if not isinstance(document, dict):
        raise DataError(f"expected an object of dialogues, got {json_type(document)}", source)
    samples: list[Dialogue] = []
    for key, turns in document.items():
        if not isinstance(turns, list):
            raise DataError(f"'{key}': expected an array of turns, got {json_type(turns)}", source)
        context: list[str] = []
        for index, item in enumerate(turns):
            where = f"'{key}' turn {index}"
            text, img_id = _turn(item, source, where)
            if text:
                context.append(text)
            if img_id is not None and context:  # a meme before any text has no context to match
                sample = Dialogue(
                    id=f"{key}:{index}", context=list(context), sticker=memes.resolve(img_id, source, where)
                )
                samples.append(check_dialogue(sample, memes.stickers, source, where, IMG2ID_FILE))
    return samples


def _samples_from_tasks(records: list[Any], source: Path, split: str, memes: _MemeIds) -> list[Dialogue]:
    samples: list[Dialogue] = []
    first_seen: dict[str, str] = {}
    textless: list[str] = []  # a history of memes alone: data pbr cannot use, not an error
    for index, record in enumerate(records):
        where = f"record {index}"
        record = as_object(record, where, source, where)
        history = require(record, "history", source, where)
        if not isinstance(history, list):
            raise DataError(f"{where}: 'history' must be an array, got {json_type(history)}", source)
        context = [
            text
            for turn_index, item in enumerate(history)
            if (text := _turn(item, source, f"{where} history[{turn_index}]")[0])
        ]
        answer = as_object(require(record, "answer", source, where), "answer", source, where)
        if answer.get("img_id") == "":
            raise DataError(f"{where}: 'answer.img_id' is empty (a test file without answers cannot be scored)", source)
        truth = as_id(require(answer, "img_id", source, where, "answer.img_id"), "answer.img_id", source, where)
        candidates = None
        candidate = record.get("candidate")
        if candidate is not None:
            if isinstance(candidate, dict):
                candidate = require(candidate, "set", source, where, "candidate.set")
            candidates = [
                memes.resolve(c, source, where) for c in as_id_list(candidate, "candidate.set", source, where)
            ]
        sample_id = as_id(record["id"], "id", source, where) if record.get("id") is not None else f"{split}-{index}"
        claim_id(first_seen, sample_id, where, "sample", source, where)
        sample = Dialogue(
            id=sample_id, context=context, sticker=memes.resolve(truth, source, where), candidates=candidates
        )
        if not has_text(context):
            textless.append(where)
            continue
        samples.append(check_dialogue(sample, memes.stickers, source, where, IMG2ID_FILE))
    note_textless(source, textless)
    return samples


def _task_records(document: Any) -> list[Any] | None:
    """The records of a meme-retrieval task file, or None when the document is not one.

    Text-response (task 1) and emotion (task 3) files have the same shape but neither a candidate set
    nor an answer img_id; they are not samples for sticker selection.
    """
    records = list(document.values()) if isinstance(document, dict) else document
    if not isinstance(records, list) or not records:
        return None
    first = records[0]
    if not isinstance(first, dict) or "history" not in first:
        return None
    answer = first.get("answer")
    if "candidate" in first or (isinstance(answer, dict) and "img_id" in answer):
        return records
    return None


def _is_dialogue_document(document: Any) -> bool:
    return isinstance(document, dict) and any(str(key).startswith("dialogue") for key in document)


def read_mod(path: str | os.PathLike, only: Collection[str] | None = None) -> StickerDataset:
    """A MOD folder (every dialogue/task .json in it is a split named after its file) or one such file.

    Task files win over a dialogue file that gives the same split name. JSON files that are neither
    (a label map, a text-response or emotion task file) are skipped, and so are the files of splits not
    in `only` when it is given (a single file is always read).
    """
    path = Path(path)
    root = path.parent if path.is_file() else path
    candidates = (
        [path] if path.is_file() else sorted(p for p in root.glob("*.json") if p.name not in _NOT_DIALOGUE_FILES)
    )
    files = [p for p in candidates if path.is_file() or only is None or split_name(p.name) in only]
    # the splits of the files not read, for messages: those that start like a dialogue or task file
    unread = {split_name(p.name) for p in candidates if p not in files and looks_like_mod_file(p)}
    memes = _MemeIds(read_mod_library(root))
    sources: dict[tuple[str, str], Path] = {}  # (split, "task" | "dialogue") -> file
    documents: dict[Path, Any] = {}
    for source in files:
        document = read_json(source, reject_duplicate_keys=True)
        records = _task_records(document)
        if records is not None:
            kind, document = "task", records
        elif _is_dialogue_document(document) or path.is_file():
            kind = "dialogue"
        else:
            if _split_rank(split_name(source.name)) < 3:  # named like a split: say why it is not one
                from .. import console

                console.notice(
                    f"{source}: left out, neither a MOD dialogue file (keys starting 'dialogue') nor a task file, "
                    "though named like a split"
                )
            continue
        key = (split_name(source.name), kind)
        if key in sources:
            raise DataError(f"both {sources[key].name} and {source.name} hold the '{key[0]}' split", root)
        sources[key] = source
        documents[source] = document
    splits: dict[str, list[Dialogue]] = {}
    for (name, kind), source in sources.items():
        if kind == "task":
            splits[name] = _samples_from_tasks(documents[source], source, name, memes)
        elif (name, "task") not in sources:
            splits[name] = _samples_from_dialogues(documents[source], source, memes)
    if not splits and not unread:
        raise DataError("no MOD dialogue or task files (.json) found", root)
    ordered = dict(sorted(splits.items(), key=lambda item: (_split_rank(item[0]), item[0])))
    available = sorted({*ordered, *unread}, key=lambda name: (_split_rank(name), name))
    return build_dataset(root, FORMAT, memes.stickers, ordered, available=available)


def _split_rank(name: str) -> int:
    for rank, prefix in enumerate(("train", "val", "test")):
        if name.startswith(prefix):
            return rank
    return 3
