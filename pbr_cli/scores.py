"""Scores from any system: read a scores file (pbr HDF5, plain HDF5 or JSON lines) and line it up with a split.

Accepted files:
- a pbr `scores` HDF5 (from `pbr evaluate --scores-out`), with provenance;
- any HDF5 with datasets `ids` (N,), `scores` (N, n) and `label` (N,), without pbr's attributes;
- JSON lines, one dialogue each: {"id", "scores": [n numbers], "label": i}, or without "label" when a
  dataset and split are given: the scores are then in the order of that dialogue's candidate set there,
  and the ground truth comes from the dataset.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, FormatError


@dataclass
class ScoresTable:
    """One row of candidate scores per dialogue; `label` is None until a dataset supplies the truth."""

    path: Path
    ids: list[str]
    scores: np.ndarray  # (N, n) float64
    label: np.ndarray | None  # (N,) int64
    provenance: bool  # written by pbr (kind, schema version, command line)
    lines: list[int] | None = None  # JSON lines: the line of each row, for messages
    candidate_ids: list[list[str]] | None = None  # pbr's files: the sticker each score is for


def read_scores_jsonl(path: Path) -> ScoresTable:
    """A JSON-lines scores file; DataError naming the line of the first bad row."""
    from .data.records import as_id, claim_id, iter_json_lines

    ids, rows, labels, lines = [], [], [], []
    seen: dict[str, str] = {}
    for number, record in iter_json_lines(path):
        where = f"line {number}"
        if record.get("id") is None:
            raise DataError(f"{where}: missing required field 'id'", path)
        dialogue_id = as_id(record["id"], "id", path, where)
        claim_id(seen, dialogue_id, where, "dialogue", path, where)
        values = record.get("scores")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ):
            raise DataError(f"{where}: 'scores' must be a non-empty array of numbers", path)
        try:
            values = [float(v) for v in values]
        except OverflowError:  # an integer beyond the float range (JSON numbers have no limit)
            raise DataError(f"{where}: 'scores' holds a number too large for a float", path) from None
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"{where}: 'scores' holds a NaN or infinite number", path)
        if rows and len(values) != len(rows[0]):
            raise DataError(
                f"{where}: {len(values)} scores where line {lines[0]} has {len(rows[0])}; every "
                "dialogue must score the same number of candidates",
                path,
            )
        label = record.get("label")
        if label is not None and (
            isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(values)
        ):
            raise DataError(
                f"{where}: 'label' must be the index of the true candidate, 0 to {len(values) - 1}, got {label!r}", path
            )
        if labels and (label is None) != (labels[0] is None):
            raise DataError(f"{where}: 'label' is given on some lines and not on others", path)
        ids.append(dialogue_id)
        rows.append(values)
        labels.append(label)
        lines.append(number)
    if not rows:
        raise DataError("no scores in the file", path)
    label_array = None if labels[0] is None else np.asarray(labels, dtype=np.int64)
    return ScoresTable(path, ids, np.asarray(rows, dtype=np.float64), label_array, provenance=False, lines=lines)


def read_plain_scores_h5(path: Path) -> ScoresTable:
    """An HDF5 file with `ids`, `scores` (N, n) and `label` (N,) and no pbr attributes."""
    import h5py

    from .data.records import printable
    from .features import first_repeat, h5_node, open_h5, reading_h5

    with open_h5(path) as handle:
        arrays = {}
        for name, ndim in (("ids", 1), ("scores", 2), ("label", 1)):
            node = h5_node(handle, name, path)
            if not isinstance(node, h5py.Dataset):
                raise FormatError(f"dataset '{name}' is missing (a scores file has ids, scores and label)", path)
            with reading_h5(path, f"dataset '{name}'"):
                shape = node.shape
                strings = name == "ids" and h5py.check_string_dtype(node.dtype) is not None
            if len(shape) != ndim:
                raise FormatError(f"dataset '{name}' has shape {shape}, expected {ndim} dimension(s)", path)
            with reading_h5(path, f"dataset '{name}'"):
                arrays[name] = node.asstr()[()] if strings else node[()]
    scores = np.asarray(arrays["scores"])
    label = np.asarray(arrays["label"])
    if scores.dtype.kind not in "fiu" or label.dtype.kind not in "iu":
        raise FormatError("'scores' must hold numbers and 'label' integers", path)
    ids = [str(i).strip() for i in np.asarray(arrays["ids"]).tolist()]  # as the JSON-lines readers read ids
    if not len(ids) == len(scores) == len(label) or not len(ids):
        raise FormatError(
            f"'ids', 'scores' and 'label' must have the same number of rows (and at least one), got "
            f"{len(ids)}, {len(scores)}, {len(label)}",
            path,
        )
    repeat = first_repeat(ids)
    if repeat is not None:
        raise FormatError(f"dataset 'ids' holds '{printable(repeat[0], 60)}' twice; one row per dialogue", path)
    if not np.isfinite(scores).all():
        first = int(np.argwhere(~np.isfinite(scores))[0][0])
        raise FormatError(f"dataset 'scores' holds NaN or infinite values (row {first})", path)
    if label.min() < 0 or label.max() >= scores.shape[1]:
        raise FormatError(f"dataset 'label' must index the {scores.shape[1]} candidates", path)
    return ScoresTable(path, ids, scores.astype(np.float64), label.astype(np.int64), provenance=False)


def read_scores(path: str | os.PathLike) -> ScoresTable:
    """Any accepted scores file (see the module docstring)."""
    from .features import open_h5, read_h5, read_h5_attrs

    path = Path(path)
    if not path.is_file():
        raise DataError("scores file not found" if not path.exists() else "not a file", path)
    if path.suffix.lower() in (".jsonl", ".json"):
        return read_scores_jsonl(path)
    with open_h5(path, "not a readable scores file: expected HDF5 (.h5) or JSON lines (.jsonl)") as handle:
        attrs = read_h5_attrs(handle, path)
    kind, version = attrs.get("kind"), attrs.get("schema_version")
    if kind not in (None, "scores"):
        raise FormatError(f"is a '{kind}' file, expected scores", path)
    if kind == "scores" and version is not None:
        data = read_h5(path, "scores")
        candidates = data["candidate_ids"] if "candidate_ids" in data else None
        return ScoresTable(
            path,
            [str(i).strip() for i in data["ids"]],
            np.asarray(data["scores"], dtype=np.float64),
            np.asarray(data["label"], dtype=np.int64),
            provenance=True,
            candidate_ids=None if candidates is None else [[str(c) for c in row] for row in candidates],
        )
    return read_plain_scores_h5(path)


def align_to_split(table: ScoresTable, dataset, split: str) -> ScoresTable:
    """The table with each row's label from the dataset (scores in the order of its candidate set there).

    Every row must be a dialogue of the split with as many candidates as it has scores, and every dialogue
    of the split must have a row; a label given in the file must agree with the dataset's.
    """
    from .data.records import printable

    dialogues = {d.id: d for d in dataset.split(split)}
    labels = np.empty(len(table.ids), dtype=np.int64)
    for row, dialogue_id in enumerate(table.ids):
        where = f"line {table.lines[row]}: " if table.lines else f"row {row}: "
        dialogue = dialogues.get(dialogue_id)
        if dialogue is None:
            raise DataError(
                f"{where}dialogue '{printable(dialogue_id, 80)}' is not in the {split} split of {dataset.root}",
                table.path,
            )
        if len(dialogue.candidates) != table.scores.shape[1]:
            raise DataError(
                f"{where}{table.scores.shape[1]} scores, but dialogue '{dialogue_id}' has "
                f"{len(dialogue.candidates)} candidates in {dataset.root}",
                table.path,
            )
        if table.candidate_ids is not None and table.candidate_ids[row] != list(dialogue.candidates):
            differ = next(i for i, (a, b) in enumerate(zip(table.candidate_ids[row], dialogue.candidates)) if a != b)
            raise DataError(
                f"{where}the scores of dialogue '{dialogue_id}' are for other stickers than its candidates in "
                f"{dataset.root} (candidate {differ}: '{table.candidate_ids[row][differ]}' in the file, "
                f"'{dialogue.candidates[differ]}' in the dataset): score the candidate sets of this dataset",
                table.path,
            )
        labels[row] = dialogue.candidates.index(dialogue.sticker)
        if table.label is not None and table.label[row] != labels[row]:
            raise DataError(
                f"{where}label {table.label[row]} disagrees with the dataset, whose true candidate of "
                f"'{dialogue_id}' is {labels[row]}",
                table.path,
            )
    scored = set(table.ids)
    missing = [dialogue_id for dialogue_id in dialogues if dialogue_id not in scored]
    if missing:
        raise DataError(
            f"no scores for {len(missing)} of the {len(dialogues)} {split} dialogues of {dataset.root} "
            f"(e.g. '{missing[0]}'); score every dialogue of the split",
            table.path,
        )
    return ScoresTable(table.path, table.ids, table.scores, labels, table.provenance, table.lines, table.candidate_ids)
