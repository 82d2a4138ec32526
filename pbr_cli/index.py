"""Sticker ranking indexes: build one from a run (`embed --model`) and rank stickers for a dialogue (`rank`).

Ranking follows ALBEF's retrieval scheme: ITC similarity against every sticker, then the fusion
encoder re-scores only the top k (default 128) with the ITM probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .errors import DataError, FormatError
from .features import read_h5, write_h5
from .metrics import require_finite


@dataclass
class StickerSet:
    """Stickers to rank: ids, paths, and either pixels to encode or an index's stored features."""

    ids: list[str]
    paths: list[str]
    embeddings: torch.Tensor | None = None      # (N, C) normalised ITC embeddings
    image_tokens: torch.Tensor | None = None    # (N, L, C_V) when stored


def library_from_folder(folder: str | Path, skip_bad: bool = False):
    """(ids, paths, stickers) for every image under a folder (recursive), ids relative to it without suffix."""
    from .data import open_sticker_library

    stickers = open_sticker_library(Path(folder))
    if not stickers:
        raise DataError("no images found (png, jpg, webp, gif, npy)", folder)
    return stickers


@torch.no_grad()
def build_index(model, stickers: Sequence, img_size: int, device, model_hash: str, out: str | Path,
                store_tokens: bool = True, skip_bad: bool = False,
                progress: Callable[[int], None] | None = None, batch_size: int = 256) -> dict:
    """Encode every sticker once and write a `sticker_index` file (fp16 embeddings, optional image tokens).

    Under torchrun each process encodes every world-th sticker and process 0 merges them into one file
    (the other processes return {"rank": -1}).
    """
    from .data.cache import decode_stickers
    from .evaluation import encode_library
    from .runtime import init_distributed

    rank, world_size = init_distributed(device)
    shard = list(range(len(stickers)))[rank::world_size]
    pixels, bad = decode_stickers([stickers[i] for i in shard], img_size, skip_bad=skip_bad)
    bad_set = set(bad)
    keep = np.array([j for j in range(len(shard)) if j not in bad_set], dtype=np.int64)
    tokens, embeddings = encode_library(model, pixels, keep, device, batch_size, keep_tokens=store_tokens,
                                        progress=progress)
    piece = {"rows": [shard[j] for j in keep], "bad": [shard[j] for j in bad],
             "embeddings": embeddings.cpu().numpy().astype(np.float16),
             "tokens": tokens.float().cpu().numpy().astype(np.float16) if store_tokens else None}
    if world_size > 1:
        import torch.distributed as dist

        pieces = [None] * world_size
        dist.all_gather_object(pieces, piece)
        if rank != 0:
            return {"rank": -1}
    else:
        pieces = [piece]
    rows = np.concatenate([np.asarray(p["rows"], dtype=np.int64) for p in pieces])
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    arrays = {
        "ids": [stickers[i].id for i in rows],
        "paths": [str(stickers[i].path or "") for i in rows],
        "embeddings": np.concatenate([p["embeddings"] for p in pieces])[order],
    }
    if store_tokens:
        arrays["image_tokens"] = np.concatenate([p["tokens"] for p in pieces])[order]
    dim = int(arrays["embeddings"].shape[1])
    write_h5(out, "sticker_index", arrays, {"model_hash": model_hash, "dim": dim, "img_size": img_size})
    skipped = sum(len(p["bad"]) for p in pieces)
    return {"output": str(out), "stickers": int(len(rows)), "skipped": skipped, "dim": dim,
            "tokens": bool(store_tokens), "processes": world_size}


def load_index(path: str | Path, model_hash: str, dim: int, device) -> StickerSet:
    index = read_h5(path, "sticker_index", dim=dim)
    if index.attrs.get("model_hash") != model_hash:
        raise FormatError(f"index was built by another model (hash {index.attrs.get('model_hash')}, "
                          f"this model {model_hash}); rebuild it with `pbr embed --model`", path)
    tokens = index.arrays.get("image_tokens")
    return StickerSet(list(index["ids"]), list(index["paths"]),
                      torch.from_numpy(index["embeddings"].astype(np.float32)).to(device),
                      None if tokens is None else torch.from_numpy(tokens).to(device))


def read_dialogue(path: str | Path) -> list[str]:
    """A dialogue file: UTF-8 text, one utterance per line (blank lines ignored); '-' reads standard input."""
    import sys

    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the dialogue ({exc.strerror})", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", path) from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError("the dialogue is empty", path)
    return lines


@torch.no_grad()
def rank_stickers(model, tokenizer, context: list[str], stickers: StickerSet, device, top_k: int = 128,
                  score: str = "itm", reload_pixels: Callable[[list[int]], np.ndarray] | None = None
                  ) -> list[tuple[int, float]]:
    """(sticker row, score) best first: ITC over all stickers, then ITM re-ranking of the top `top_k`.

    Stickers come with ITC embeddings; ITM needs image tokens, taken from the index when stored,
    else computed from `reload_pixels(rows)` for the top k only. A NaN or infinite score is NonFiniteScores.
    """
    from .data.batches import pad_tokens

    model.eval()
    ids, mask = pad_tokens([tokenizer.encode_dialogue(context, model.config.max_len)], tokenizer.pad_id)
    text = model.encode_text(ids.to(device), mask.to(device))
    similarity = stickers.embeddings @ text.embedding[0].float()              # (N,)
    require_finite(similarity.cpu().numpy())
    k = min(top_k, len(similarity))
    top_scores, top_rows = similarity.topk(k)
    if score == "itc" or model.fusion is None:
        return [(int(r), float(s)) for r, s in zip(top_rows.tolist(), top_scores.tolist())]
    if stickers.image_tokens is not None:
        image_tokens = stickers.image_tokens[top_rows].float()
    else:
        image_tokens = model.encode_image(torch.from_numpy(reload_pixels(top_rows.tolist())).to(device)).tokens
    probs = model.match_prob((text.tokens.expand(k, -1, -1), text.mask.expand(k, -1)), image_tokens)
    require_finite(probs.cpu().numpy())
    order = probs.argsort(descending=True)
    return [(int(top_rows[i]), float(probs[i])) for i in order.tolist()]


def folder_sticker_set(model, folder: str | Path, img_size: int, device, skip_bad: bool = False):
    """Encode a folder of stickers: (StickerSet with ITC embeddings, pixels (N, 3, R, R) for re-ranking)."""
    from .data.cache import decode_stickers
    from .evaluation import encode_library

    stickers = library_from_folder(folder)
    pixels, bad = decode_stickers(stickers, img_size, skip_bad=skip_bad)
    keep = np.array([i for i in range(len(stickers)) if i not in set(bad)], dtype=np.int64)
    _, embeddings = encode_library(model, pixels, keep, device, keep_tokens=False)
    sticker_set = StickerSet([stickers[i].id for i in keep], [str(stickers[i].path) for i in keep], embeddings)
    return sticker_set, pixels[keep], len(bad)
