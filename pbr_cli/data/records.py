"""JSON and JSON-lines dataset files, and the record checks every reader shares (errors name file and line)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import DataError
from .candidates import assign_candidates
from .types import Dialogue, Sticker, StickerDataset

_BOM = b"\xef\xbb\xbf"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # how a surrogate gets into JSON text: UTF-8 cannot carry one
_SPLIT_ALIASES = {"valid": "val", "validation": "val", "dev": "val"}


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def holds_surrogate(text: str) -> bool:
    """True when `text` holds a UTF-16 surrogate: no Unicode character, so UTF-8 cannot write it."""
    return any("\ud800" <= char <= "\udfff" for char in text)


def lone_surrogate(value: Any, key: str = "") -> str | None:
    """Dotted key of the first string (or object key) in `value` holding an unpaired UTF-16 surrogate; None if none.

    JSON's `\\ud83d\\ude00` escapes pair into one character when parsed; one left alone is no Unicode
    character, and writing it anywhere as UTF-8 (a file, an HDF5 string, a reply) fails.
    """
    if isinstance(value, str):
        return key or "(the value)" if holds_surrogate(value) else None
    if isinstance(value, dict):
        for name, item in value.items():
            inner = f"{key}.{name}" if key else str(name)
            if lone_surrogate(name) is not None:
                return inner
            found = lone_surrogate(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate(item, f"{key}.{index}" if key else str(index))
            if found is not None:
                return found
    return None


def surrogate_problem(text: str, value: Any) -> str | None:
    """What is wrong when the JSON `text`, parsed into `value`, holds an unpaired surrogate escape; else None.

    Only text with a surrogate escape is walked (UTF-8 cannot carry a surrogate in any other way).
    """
    found = lone_surrogate(value) if _SURROGATE_ESCAPE.search(text) else None
    if found is None:
        return None
    shown = printable(found, 60)
    return f"'{shown}' holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), which is not Unicode text"


def refuse_lone_surrogates(text: str, value: Any, path: Path, where: str | None = None) -> None:
    """DataError naming the field when the JSON `text` parsed into `value` holds an unpaired surrogate escape."""
    problem = surrogate_problem(text, value)
    if problem is not None:
        raise DataError(f"{where}: {problem}" if where else problem, path)


def printable(text: str, limit: int = 0) -> str:
    """`text` with unprintable characters escaped (\\x00, \\n, \\ud800), so that a message stays one line;
    with `limit`, cut to that many characters."""
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return shown if not limit or len(shown) <= limit else shown[: limit - 3] + "..."


def normalise_split_name(name: str) -> str:
    """'validation', 'valid' and 'dev' are 'val'; other names are kept (lower case)."""
    name = name.lower()
    return _SPLIT_ALIASES.get(name, name)


def split_files(folder: Path, names: Sequence[str], suffix: str) -> dict[str, Path]:
    """{split: folder/<split><suffix>} of the split files present. A name that is there but no readable file (a
    folder, a broken symbolic link) is a DataError, not a split left out without a word; a file whose name
    differs only in case, or says dev / valid / validation, is named in a notice (it is not read)."""
    found: dict[str, Path] = {}
    for name in names:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            found[name] = path
        elif os.path.lexists(path):
            what = "a folder" if path.is_dir() else "a broken symbolic link" if path.is_symlink() else "no regular file"
            raise DataError(f"is {what}, where the {name} split's records were expected", path)
    try:
        entries = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return found
    expected = {f"{name}{suffix}" for name in names}
    near = [
        entry
        for entry in entries
        if entry not in expected
        and entry.lower().endswith(suffix)
        and normalise_split_name(entry[: -len(suffix)]) in names
        and not any(_same_file(folder / entry, path) for path in found.values())  # a case-blind file system
    ]
    if near:
        from .. import console

        console.notice(
            f"{folder}: {', '.join(printable(entry, 60) for entry in near)} not read: split files are named "
            + ", ".join(sorted(expected))
        )
    return found


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def decode_utf8(data: bytes, path: str | os.PathLike, where: str | None = None) -> str:
    """`data` as UTF-8 text; DataError naming `path`, the line (`where`, else counted) and the offending byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if where is None:
            line = data.count(b"\n", 0, exc.start) + 1
            where = f"line {line}"
        raise DataError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x})", path) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a folder, expected a file", path) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path) from None


class DuplicateKey(ValueError):
    """A JSON object holds a key twice (`args[0]`): json.loads would keep the last value without a word."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):  # a key came twice: name the first one repeated
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def loads_unique(text: str, **options: Any) -> Any:
    """json.loads that raises DuplicateKey for an object holding a key twice (`options` go to json.loads)."""
    return json.loads(text, object_pairs_hook=_unique_keys, **options)


TOO_MANY_DIGITS = "a number with more digits than Python reads (4300)"


def read_json(path: str | os.PathLike, *, reject_duplicate_keys: bool = False) -> Any:
    """Parse a whole JSON file (UTF-8, an optional BOM); DataError with line and column when malformed."""
    path = Path(path)
    data = _read_bytes(path)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    text = decode_utf8(data, path)
    if not text.strip():
        raise DataError("file is empty, expected JSON", path)
    try:
        value = loads_unique(text) if reject_duplicate_keys else json.loads(text)
    except DuplicateKey as exc:
        raise DataError(f"duplicate key '{exc.args[0]}'", path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"line {exc.lineno}: malformed JSON (column {exc.colno}): {exc.msg}", path) from None
    except ValueError:  # Python's limit on integer digits (4300)
        raise DataError(f"malformed JSON: {TOO_MANY_DIGITS}", path) from None
    except RecursionError:
        raise DataError("malformed JSON: nested too deeply", path) from None
    refuse_lone_surrogates(text, value, path)
    return value


def iter_json_lines(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream (line number, object) from a JSON-lines file; blank lines are skipped, a key twice is refused."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path) from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if not raw.strip():
                continue
            where = f"line {number}"
            text = decode_utf8(raw, path, where)
            try:
                record = loads_unique(text)
            except DuplicateKey as exc:  # the last value would win silently
                raise DataError(f"{where}: duplicate key '{exc.args[0]}'", path) from None
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: malformed JSON (column {exc.colno}): {exc.msg}", path) from None
            except ValueError:  # Python's limit on integer digits (4300)
                raise DataError(f"{where}: malformed JSON: {TOO_MANY_DIGITS}", path) from None
            except RecursionError:
                raise DataError(f"{where}: malformed JSON: nested too deeply", path) from None
            refuse_lone_surrogates(text, record, path, where)
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object, got {json_type(record)}", path)
            yield number, record


def require(record: Mapping[str, Any], name: str, path: Path, where: str, label: str | None = None) -> Any:
    """`record[name]`, or a DataError naming the missing field (`label` is how the message spells it)."""
    value = record.get(name)
    if value is None:
        raise DataError(f"{where}: missing required field '{label or name}'", path)
    return value


def as_object(value: Any, label: str, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(f"{where}: '{label}' must be an object, got {json_type(value)}", path)
    return value


def as_id(value: Any, label: str, path: Path, where: str) -> str:
    """An id or name field: a non-empty string (integers are accepted and written as strings)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: '{label}' must be a string, got {json_type(value)}", path)
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: '{label}' is empty", path)
    return text


def as_id_list(value: Any, label: str, path: Path, where: str) -> list[str]:
    if not isinstance(value, list):
        raise DataError(f"{where}: '{label}' must be an array, got {json_type(value)}", path)
    return [as_id(item, f"{label}[{index}]", path, where) for index, item in enumerate(value)]


def as_utterances(value: Any, label: str, path: Path, where: str) -> list[str]:
    if not isinstance(value, list):
        raise DataError(f"{where}: '{label}' must be an array of strings, got {json_type(value)}", path)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise DataError(f"{where}: '{label}[{index}]' must be a string, got {json_type(item)}", path)
    return value


def claim_id(seen: dict[str, str], item_id: str, location: str, kind: str, path: Path, where: str) -> None:
    """Record that `item_id` was first seen at `location`; DataError when it was seen before."""
    if item_id in seen:
        raise DataError(f"{where}: duplicate {kind} id '{printable(item_id, 80)}' (first at {seen[item_id]})", path)
    seen[item_id] = location


def note_textless(source: Path, places: list[str]) -> None:
    """Say that a third-party file's samples whose context holds no text (stickers only) were left out."""
    if places:
        from .. import console

        console.notice(
            f"{source}: {len(places)} sample(s) whose context holds no text (stickers only) left out, e.g. {places[0]}"
        )


def has_text(context: Sequence[str]) -> bool:
    return any(utterance.strip() for utterance in context)


def check_dialogue(
    dialogue: Dialogue, stickers: Mapping[str, Sticker], path: Path, where: str, library: str
) -> Dialogue:
    """Check one sample against the library: context text, a known ground truth, sound fixed candidates."""
    if not has_text(dialogue.context):
        raise DataError(f"{where}: empty context (the dialogue has no utterance text)", path)
    if dialogue.sticker not in stickers:
        raise DataError(f"{where}: unknown sticker '{printable(dialogue.sticker, 80)}' (not in {library})", path)
    if dialogue.candidates is not None:
        if not dialogue.candidates:
            raise DataError(f"{where}: 'candidates' is empty", path)
        seen: set[str] = set()
        for candidate in dialogue.candidates:
            if candidate not in stickers:
                raise DataError(
                    f"{where}: unknown candidate sticker '{printable(candidate, 80)}' (not in {library})", path
                )
            if candidate in seen:
                raise DataError(f"{where}: candidate sticker '{printable(candidate, 80)}' is listed twice", path)
            seen.add(candidate)
        if dialogue.sticker not in seen:
            raise DataError(
                f"{where}: candidates do not contain the ground truth '{printable(dialogue.sticker, 80)}'", path
            )
    dialogue.where = f"{path}: {where}"
    return dialogue


def build_dataset(
    root: Path,
    format_name: str,
    stickers: dict[str, Sticker],
    splits: dict[str, list[Dialogue]],
    sources: dict[str, Path] | None = None,
    available: Sequence[str] = (),
) -> StickerDataset:
    """Assemble a StickerDataset, drawing the candidate sets of every sample that has none.

    `available`: every split the dataset has, also those not read (default: the splits read)."""
    all_dialogues = [dialogue for dialogues in splits.values() for dialogue in dialogues]
    filled = assign_candidates(all_dialogues, stickers)
    if filled:
        from .. import console

        console.notice(
            f"{root}: {filled} candidate set(s) drawn partly from other topics (their topic has fewer stickers "
            "than a set holds): those sets are easier than the rest"
        )
    return StickerDataset(
        name=root.name,
        root=root,
        format=format_name,
        stickers=stickers,
        splits=splits,
        filled_from_other_topics=filled,
        sources=dict(sources or {}),
        available_splits=tuple(available) or tuple(splits),
    )
