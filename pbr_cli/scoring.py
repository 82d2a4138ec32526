"""Scoring candidate sets with a model: each sticker's image encoded once, then ITM (or ITC) per candidate."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .data.batches import SplitTable, pad_tokens
from .runtime import autocast


@torch.no_grad()
def encode_library(
    model,
    images: np.ndarray,
    indices: np.ndarray,
    device,
    batch_size: int = 256,
    keep_tokens: bool = True,
    progress: Callable[[int], None] | None = None,
):
    """Encode the stickers `indices` of the uint8 library once: (tokens (U, L, C_V) or None, embeddings (U, C))."""
    tokens, embeddings = [], []
    precision = autocast(device)
    for start in range(0, len(indices), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(images[indices[start : start + batch_size]])).to(device)
        with precision:
            features = model.encode_image(chunk)
        if keep_tokens:
            tokens.append(features.tokens.to(torch.float16 if device.type == "cuda" else torch.float32))
        embeddings.append(features.embedding.float())
        if progress:
            progress(len(chunk))
    return (torch.cat(tokens) if keep_tokens else None), torch.cat(embeddings)


def score_table(
    model,
    tokenizer,
    table: SplitTable,
    images: np.ndarray,
    device,
    score: str = "itm",
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(D, n) scores for every candidate of every dialogue: ITM match probability or ITC cosine similarity."""
    return score_tables(model, tokenizer, table, images, device, (score,), batch_size, progress)[score]


@torch.no_grad()
def score_tables(
    model,
    tokenizer,
    table: SplitTable,
    images: np.ndarray,
    device,
    scores: tuple[str, ...] = ("itm",),
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """{score: (D, n) array} for each of `scores` (itm, itc), from one pass over the library and the dialogues.

    A model without a fusion encoder answers `itm` with its ITC scores.
    """
    model.eval()
    itm = "itm" in scores and model.fusion is not None
    unique, inverse = np.unique(table.candidates, return_inverse=True)
    inverse = torch.from_numpy(inverse.reshape(table.candidates.shape)).to(device)  # (D, n) rows into `unique`
    tokens, embeddings = encode_library(model, images, unique, device, keep_tokens=itm)
    n = table.candidates.shape[1]
    results = {name: np.empty(table.candidates.shape, dtype=np.float32) for name in scores}
    precision = autocast(device)
    for start in range(0, len(table), batch_size):
        rows = slice(start, start + batch_size)
        ids, mask = pad_tokens(table.token_ids[rows], tokenizer.pad_id)
        ids, mask = ids.to(device), mask.to(device)
        with precision:
            text = model.encode_text(ids, mask)
            candidate_rows = inverse[rows]  # (B, n)
            similarity = torch.einsum("bc,bnc->bn", text.embedding.float(), embeddings[candidate_rows])
            batch_scores = {"itc": similarity, "itm": similarity}
            if itm:
                batch = len(candidate_rows)
                text_tokens = text.tokens.repeat_interleave(n, dim=0)  # (B*n, T, C_T)
                text_mask = text.mask.repeat_interleave(n, dim=0)
                image_tokens = tokens[candidate_rows.reshape(-1)].to(text_tokens.dtype)
                batch_scores["itm"] = model.match_prob((text_tokens, text_mask), image_tokens).view(batch, n)
        for name in scores:
            results[name][rows] = batch_scores[name].float().cpu().numpy()
        if progress:
            progress(len(ids))
    return results
