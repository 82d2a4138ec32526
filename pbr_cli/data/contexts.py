"""Dialogue contexts to score for sentiment: from a dataset in any layout, or a JSONL file of contexts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


@dataclass
class Contexts:
    """Dialogue ids and their context utterances (oldest first), ready to score."""

    ids: list[str]
    contexts: list[list[str]]
    id_format: str = "id"  # "split/id" when ids repeat across splits and were prefixed
    format: str = "jsonl"


def read_contexts_jsonl(path: str | os.PathLike) -> Contexts:
    """Read `{"id": ..., "context": [utterance, ...]}` lines; DataError names the file and line."""
    from .records import as_id, as_utterances, claim_id, iter_json_lines, require

    path = Path(path)
    ids: list[str] = []
    contexts: list[list[str]] = []
    seen: dict[str, str] = {}
    for number, record in iter_json_lines(path):
        where = f"line {number}"
        dialogue_id = as_id(require(record, "id", path, where), "id", path, where)
        claim_id(seen, dialogue_id, where, "dialogue", path, where)
        ids.append(dialogue_id)
        contexts.append(list(as_utterances(require(record, "context", path, where), "context", path, where)))
    if not ids:
        raise DataError("no dialogues in the file", path)
    return Contexts(ids, contexts)


def read_contexts(path: str | os.PathLike, split: str = "all") -> Contexts:
    """Dialogue contexts from a dataset (any layout `open_dataset` reads) or a JSONL file of contexts.

    Dataset ids are kept when they are unique across the chosen splits, else every id becomes
    "split/id". StickerChat's word-segmented utterances are joined back into plain text first.
    """
    from . import open_dataset

    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", path)
    if path.is_file() and _dataset_file_format(path) is None:
        if split != "all":
            raise ConfigError(f"--split {split} needs a dataset; a JSONL file of contexts has no splits")
        return read_contexts_jsonl(path)
    dataset = open_dataset(path)
    names = list(dataset.splits) if split == "all" else [split]
    chosen = [(name, dataset.split(name)) for name in names]
    join = joiner(dataset.format)
    ids: list[str] = []
    contexts: list[list[str]] = []
    for _, dialogues in chosen:
        for dialogue in dialogues:
            ids.append(str(dialogue.id))
            contexts.append([join(utterance) for utterance in dialogue.context])
    id_format = "id"
    if len(set(ids)) != len(ids):
        id_format = "split/id"
        ids = [f"{name}/{dialogue.id}" for name, dialogues in chosen for dialogue in dialogues]
    if not ids:
        raise DataError(f"no dialogues in split(s) {', '.join(names) or 'none'}", path)
    return Contexts(ids, contexts, id_format, dataset.format)


def _dataset_file_format(path: Path) -> str | None:
    """'stickerchat' or 'mod' for a file that only makes sense as part of such a dataset, else None."""
    from . import detect_dataset_format

    try:
        format_name, _ = detect_dataset_format(path)
    except DataError:
        return None
    return format_name if format_name in ("stickerchat", "mod") else None


def joiner(dataset_format: str) -> Callable[[str], str]:
    """How a dataset's utterances become plain text: StickerChat's word-segmented text is joined back."""
    if dataset_format == "stickerchat":
        from .stickerchat import join_segmented

        return join_segmented
    return str
