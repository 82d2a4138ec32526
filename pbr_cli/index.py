"""Sticker ranking indexes: build one from a run (`embed --model`) and rank stickers for a dialogue (`rank`).

Ranking follows ALBEF's retrieval scheme: ITC similarity against every sticker, then the fusion
encoder re-scores only the top k (default 128) with the ITM probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .errors import DataError, FormatError
from .features import read_h5, write_h5
from .metrics import require_finite

# ITM re-ranks the ITC top 32. Over the whole demo library (504 stickers) the gold sticker's R@1 / R@5 / R@10
# with 32 re-ranked equal those with 128 for a trained tiny Base (200 val dialogues) and an EKD model (all 400);
# with 16, R@5 / R@10 drop by 0.3 / 0.2 points (EKD) or R@10 by 1.0 (Base); ITM's cost grows with the number
# re-ranked (32: ~4x less time than 128)
DEFAULT_RERANK = 32
SCORES = ("itm", "itc")  # what ranks stickers: the ITM match probability (the paper) or the ITC cosine


@dataclass
class StickerSet:
    """Stickers to rank: ids, paths, and either pixels to encode or an index's stored features."""

    ids: list[str]
    paths: list[str]
    embeddings: torch.Tensor | None = None  # (N, C) normalised ITC embeddings
    image_tokens: torch.Tensor | None = None  # (N, L, C_V) when stored


def readable_rows(count: int, bad: Sequence[int], source: str | Path | None) -> np.ndarray:
    """Rows 0..count-1 less the `bad` ones that could not be decoded; DataError naming `source` when none is left."""
    bad_set = set(bad)
    rows = np.array([row for row in range(count) if row not in bad_set], dtype=np.int64)
    if not len(rows):
        raise DataError(f"no readable images: all {count} were skipped as unreadable", source)
    return rows


def warn_skipped(paths: Sequence[str]) -> None:
    """One warning for the images left out as unreadable (--skip-bad-images), naming the first."""
    if paths:
        from . import console

        console.warn(f"skipped {len(paths)} unreadable image(s), e.g. {paths[0]}")


def library_from_folder(folder: str | Path, skip_bad: bool = False):
    """(ids, paths, stickers) for every image under a folder (recursive), ids relative to it without suffix."""
    from .data import open_sticker_library
    from .data.images import missing_images_allowed

    with missing_images_allowed(skip_bad):
        stickers = open_sticker_library(Path(folder))
    if not stickers:
        raise DataError("no images found (png, jpg, webp, gif, npy)", folder)
    return stickers


@torch.no_grad()
def build_index(
    model,
    stickers: Sequence,
    img_size: int,
    device,
    model_hash: str,
    out: str | Path,
    store_tokens: bool = True,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 256,
    source: str | Path | None = None,
) -> dict | None:
    """Encode every sticker once and write a `sticker_index` file (fp16 embeddings, optional image tokens).

    Under torchrun each process encodes every world-th sticker and process 0 merges them into one file
    (the other processes return None). DataError naming `source` (the folder) when no image
    could be read.
    """
    from .data.cache import decode_stickers
    from .runtime import init_distributed
    from .scoring import encode_library

    rank, world_size = init_distributed(device)
    shard = list(range(len(stickers)))[rank::world_size]
    pixels, bad = decode_stickers([stickers[i] for i in shard], img_size, skip_bad=skip_bad)
    keep = np.setdiff1d(np.arange(len(shard), dtype=np.int64), np.asarray(bad, dtype=np.int64))
    piece = {"rows": [shard[j] for j in keep], "bad": [shard[j] for j in bad], "embeddings": None, "tokens": None}
    if len(keep):  # under torchrun a shard may hold only unreadable images
        tokens, embeddings = encode_library(
            model, pixels, keep, device, batch_size, keep_tokens=store_tokens, progress=progress
        )
        piece["embeddings"] = embeddings.cpu().numpy().astype(np.float16)
        piece["tokens"] = tokens.float().cpu().numpy().astype(np.float16) if store_tokens else None
    if world_size > 1:
        import torch.distributed as dist

        pieces = [None] * world_size
        dist.all_gather_object(pieces, piece)
        if rank != 0:
            return None
    else:
        pieces = [piece]
    bad_rows = sorted(row for p in pieces for row in p["bad"])
    rows = readable_rows(len(stickers), bad_rows, source)
    pieces = [p for p in pieces if p["rows"]]
    order = np.argsort(np.concatenate([np.asarray(p["rows"], dtype=np.int64) for p in pieces]), kind="stable")
    arrays = {
        "ids": [stickers[i].id for i in rows],
        "paths": [str(stickers[i].path or "") for i in rows],
        "embeddings": np.concatenate([p["embeddings"] for p in pieces])[order],
    }
    if store_tokens:
        arrays["image_tokens"] = np.concatenate([p["tokens"] for p in pieces])[order]
    dim = int(arrays["embeddings"].shape[1])
    write_h5(out, "sticker_index", arrays, {"model_hash": model_hash, "dim": dim, "img_size": img_size})
    return {
        "output": str(out),
        "stickers": int(len(rows)),
        "skipped": len(bad_rows),
        "skipped_paths": [str(stickers[i].path or stickers[i].id) for i in bad_rows],
        "dim": dim,
        "tokens": bool(store_tokens),
        "processes": world_size,
    }


def index_folder(
    images: Path,
    run: Path,
    which: str,
    store_tokens: bool,
    output: Path,
    batch_size: int,
    skip_bad_images: bool,
    device,
) -> dict | None:
    """`pbr embed --model`: the sticker index of every image under `images`, written to `output`; its summary.

    Under torchrun only process 0 writes the file and gets the summary (the others get None).
    """
    import time

    from . import console
    from .model.run import load_run

    started = time.perf_counter()
    model, config, _, model_hash = load_run(run, which, device)
    stickers = library_from_folder(images, skip_bad_images)
    with console.progress(total=len(stickers), desc="indexing", unit="img") as bar:
        summary = build_index(
            model,
            stickers,
            config.model.img_size,
            device,
            model_hash,
            output,
            store_tokens,
            skip_bad_images,
            bar.update,
            batch_size,
            source=images,
        )
    if summary is None:
        return None
    warn_skipped(summary.pop("skipped_paths"))
    summary.update(
        {
            "input": str(images),
            "model": str(run),
            "model_hash": model_hash,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return summary


def load_index(path: str | Path, model_hash: str, dim: int, device, img_size: int | None = None) -> StickerSet:
    """The stickers of a `sticker_index` file built by this model; FormatError when it is another's or empty.

    The model hash is the weights'; `img_size`, the resolution the run's config.json reads stickers at,
    must be the index's too (the same weights at another resolution embed the stickers differently).
    """
    index = read_h5(path, "sticker_index", dim=dim)
    if not len(index["ids"]):
        raise FormatError("the index holds no stickers; rebuild it with `pbr embed --model`", path)
    if index.attrs.get("model_hash") != model_hash:
        raise FormatError(
            f"index was built by another model (hash {index.attrs.get('model_hash')}, "
            f"this model {model_hash}); rebuild it with `pbr embed --model`",
            path,
        )
    built_at = index.attrs.get("img_size")
    if img_size is not None and built_at is not None and int(built_at) != int(img_size):
        raise FormatError(
            f"index was built from {built_at}-px stickers, but this run reads {img_size} px (its config.json); "
            "rebuild it with `pbr embed --model`",
            path,
        )
    tokens = index.arrays.get("image_tokens")
    return StickerSet(
        list(index["ids"]),
        list(index["paths"]),
        torch.from_numpy(index["embeddings"].astype(np.float32)).to(device),
        None if tokens is None else torch.from_numpy(tokens).to(device),
    )


def read_dialogue(path: str | Path) -> list[str]:
    """A dialogue file: UTF-8 text, one utterance per line (blank lines ignored); '-' reads standard input."""
    import sys

    from .data.records import decode_utf8

    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the dialogue ({exc.strerror})", path) from None
    text = decode_utf8(raw.removeprefix(b"\xef\xbb\xbf"), path)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError("the dialogue is empty", path)
    return lines


def rank_stickers(
    model,
    tokenizer,
    context: list[str],
    stickers: StickerSet,
    device,
    top_k: int = DEFAULT_RERANK,
    score: str = "itm",
    reload_pixels: Callable[[list[int]], np.ndarray] | None = None,
    candidates: Sequence[int] | None = None,
) -> list[tuple[int, float]]:
    """(sticker row, score) best first: ITC over all stickers (or the `candidates` rows), then ITM re-ranking
    of the top `top_k`.

    Stickers come with ITC embeddings; ITM needs image tokens, taken from the index when stored,
    else computed from `reload_pixels(rows)` for the top k only. A NaN or infinite score is NonFiniteScores.
    """
    return rank_dialogues(model, tokenizer, [(context, candidates)], stickers, device, top_k, score, reload_pixels)[0]


def folder_sticker_set(model, folder: str | Path, img_size: int, device, skip_bad: bool = False):
    """Encode a folder of stickers: (StickerSet with ITC embeddings, pixels (N, 3, R, R) for re-ranking)."""
    return encode_sticker_set(model, library_from_folder(folder, skip_bad), img_size, device, skip_bad, folder)


def encode_sticker_set(
    model, stickers: Sequence, img_size: int, device, skip_bad: bool, where: str | Path, keep_tokens: bool = False
):
    """Encode `stickers` (data.types.Sticker): (StickerSet with ITC embeddings, and image tokens with
    `keep_tokens`; pixels of its rows; the unreadable ones' paths); `where` names them in errors."""
    from .data.cache import decode_stickers
    from .scoring import encode_library

    pixels, bad = decode_stickers(stickers, img_size, skip_bad=skip_bad)
    keep = readable_rows(len(stickers), bad, where)
    tokens, embeddings = encode_library(model, pixels, keep, device, keep_tokens=keep_tokens)
    sticker_set = StickerSet(
        [stickers[i].id for i in keep],
        [str(stickers[i].path) for i in keep],
        embeddings,
        tokens if keep_tokens else None,
    )
    return sticker_set, pixels[keep], [str(stickers[i].path or stickers[i].id) for i in bad]


def reloader(paths: Sequence[str], img_size: int) -> Callable[[list[int]], np.ndarray]:
    """Decode chosen rows of an index's stickers (for ITM re-ranking when the index stores no image tokens)."""
    from .data.cache import decode_stickers
    from .data.types import Sticker

    def reload(rows: list[int]) -> np.ndarray:
        stickers = [Sticker(id=str(r), topic="", path=Path(paths[r])) for r in rows]
        return decode_stickers(stickers, img_size)[0]

    return reload


def _readable_part(sticker_set: StickerSet, img_size: int, where: str | Path):
    """(the stickers of an index without image tokens whose images still decode, their pixels' reloader, the
    paths of those that do not).

    Such an index re-reads images for ITM at ranking time; with --skip-bad-images they are all read once here,
    so that an unreadable one is left out (and counted) rather than stopping a ranking later.
    """
    from .data.cache import decode_stickers
    from .data.types import Sticker

    stickers = [Sticker(id=i, topic="", path=Path(p)) for i, p in zip(sticker_set.ids, sticker_set.paths)]
    pixels, bad = decode_stickers(stickers, img_size, skip_bad=True)
    keep = readable_rows(len(stickers), bad, where)
    rows = torch.from_numpy(keep).to(sticker_set.embeddings.device)
    readable = StickerSet(
        [sticker_set.ids[i] for i in keep], [sticker_set.paths[i] for i in keep], sticker_set.embeddings[rows]
    )
    kept = pixels[keep]
    return readable, (lambda rows: kept[rows]), [sticker_set.paths[i] for i in bad]


def load_sticker_set(model, config, model_hash: str, stickers: str | Path, device, skip_bad: bool = False):
    """(StickerSet, reload, paths skipped as unreadable) for a sticker index .h5 of this model, or a folder of
    stickers encoded now."""
    if Path(stickers).is_file():
        sticker_set = load_index(stickers, model_hash, config.model.embed_dim, device, config.model.img_size)
        if skip_bad and sticker_set.image_tokens is None and model.fusion is not None:
            return _readable_part(sticker_set, config.model.img_size, stickers)
        return sticker_set, reloader(sticker_set.paths, config.model.img_size), []
    if not Path(stickers).is_dir():
        raise DataError("no such sticker index or folder", stickers)
    sticker_set, pixels, skipped = folder_sticker_set(model, stickers, config.model.img_size, device, skip_bad)
    return sticker_set, (lambda rows: pixels[rows]), skipped


def shortlist(top: int, rerank: int, score: str) -> int:
    """How many stickers ITC keeps for a request of `top`: ITM re-ranks the ITC top max(top, rerank).

    A `top` above `rerank` widens the re-ranked list rather than being cut to it; ITC alone keeps `top`.
    """
    return top if score == "itc" else max(top, rerank)


@torch.inference_mode()
def rank_dialogues(
    model,
    tokenizer,
    requests: Sequence[tuple[list[str], Sequence[int] | None]],
    stickers: StickerSet,
    device,
    top_k: int = DEFAULT_RERANK,
    score: str = "itm",
    reload_pixels: Callable[[list[int]], np.ndarray] | None = None,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[list[tuple[int, float]]]:
    """`rank_stickers` for many (context, candidate rows or None) at once: texts and ITM pairs in batches."""
    from .data.batches import pad_tokens

    if model.training:  # (train() walks every module: worth skipping on a server's every request)
        model.eval()
    results: list[list[tuple[int, float]]] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        ids, mask = pad_tokens(
            [tokenizer.encode_dialogue(context, model.config.max_len) for context, _ in chunk], tokenizer.pad_id
        )
        text = model.encode_text(ids.to(device), mask.to(device))
        similarity = text.embedding.float() @ stickers.embeddings.T  # (B, N)
        require_finite(similarity.cpu().numpy())
        tops = []
        for row, (_, candidates) in enumerate(chunk):
            scores = similarity[row]
            if candidates is not None:
                allowed = torch.as_tensor(list(candidates), dtype=torch.long, device=scores.device)
                picked_scores, picked = scores[allowed].topk(min(top_k, len(allowed)))
                tops.append((allowed[picked], picked_scores))
            else:
                picked_scores, picked = scores.topk(min(top_k, len(scores)))
                tops.append((picked, picked_scores))
        if score == "itc" or model.fusion is None:
            results += [[(int(r), float(s)) for r, s in zip(rows.tolist(), values.tolist())] for rows, values in tops]
        else:
            rows = torch.cat([rows for rows, _ in tops])
            if stickers.image_tokens is not None:
                image_tokens = stickers.image_tokens[rows].float()
            else:
                image_tokens = model.encode_image(torch.from_numpy(reload_pixels(rows.tolist())).to(device)).tokens
            lengths = text.mask.sum(1).tolist()
            offset = 0
            for row, (top_rows, _) in enumerate(tops):
                # each dialogue against its own stickers as expanded rows, which the fusion computes once where
                # it can (the first self-attention, the cross-attention queries)
                count, length = len(top_rows), int(lengths[row])
                pairs = (
                    text.tokens[row : row + 1, :length].expand(count, -1, -1),
                    text.mask[row : row + 1, :length].expand(count, -1),
                )
                mine = model.match_prob(pairs, image_tokens[offset : offset + count])
                offset += count
                require_finite(mine.cpu().numpy())
                results.append([(int(top_rows[i]), float(mine[i])) for i in mine.argsort(descending=True).tolist()])
        if progress is not None:
            progress(len(chunk))
    return results


@dataclass
class DialogueRequest:
    """One line of a batch-ranking file: an id, the context, optionally the candidate stickers' rows."""

    id: str
    context: list[str]
    candidates: list[int] | None = None


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """iter_json_lines; a .json file that is not JSON lines (one pretty-printed document, an array) is told so."""
    from .data.records import iter_json_lines

    try:
        yield from iter_json_lines(path)
    except DataError as exc:
        if path.suffix.lower() != ".json" or not ("malformed JSON" in exc.message or "expected a JSON" in exc.message):
            raise
        hint = "a .json file of dialogues is read as JSON lines: one object per line"
        raise DataError(f"{exc.message} ({hint})", path) from None


# the fields of a line of a batch file; "sticker" (a dataset split's truth) is not needed and not said
_REQUEST_FIELDS = {"id", "context", "candidates", "sticker"}


def read_dialogue_requests(path: str | Path, sticker_rows: dict[str, int]) -> list[DialogueRequest]:
    """A JSON-lines file of {"id", "context": [...], optional "candidates": [sticker ids]}, checked line by line."""
    from .data.records import as_id, as_id_list, as_utterances, claim_id, require

    path = Path(path)
    requests: list[DialogueRequest] = []
    seen: dict[str, str] = {}
    unread: dict[str, int] = {}  # a field no line is read for (a misspelt "candidates", a "top"): its first line
    for number, record in _json_lines(path):
        where = f"line {number}"
        for field in record.keys() - _REQUEST_FIELDS:
            unread.setdefault(field, number)
        dialogue_id = as_id(require(record, "id", path, where), "id", path, where)
        claim_id(seen, dialogue_id, where, "dialogue", path, where)
        turns = as_utterances(require(record, "context", path, where), "context", path, where)
        context = [turn.strip() for turn in turns if turn.strip()]
        if not context:
            raise DataError(f"{where}: empty context (the dialogue has no utterance text)", path)
        candidates = None
        if record.get("candidates") is not None:
            names = as_id_list(record["candidates"], "candidates", path, where)
            if not names:
                raise DataError(f"{where}: 'candidates' is empty", path)
            unknown = [name for name in names if name not in sticker_rows]
            if unknown:
                raise DataError(f"{where}: unknown candidate sticker '{unknown[0]}' (not in the sticker set)", path)
            if len(set(names)) != len(names):
                raise DataError(f"{where}: a candidate sticker is listed twice", path)
            candidates = [sticker_rows[name] for name in names]
        requests.append(DialogueRequest(dialogue_id, context, candidates))
    if not requests:
        raise DataError("no dialogues in the file", path)
    if unread:
        from . import console
        from .data.records import printable

        named = ", ".join(f"'{printable(field, 40)}' (line {line})" for field, line in sorted(unread.items())[:5])
        console.warn(f"{path}: not read: {named}; a line gives 'id', 'context' and optionally 'candidates'")
    return requests
