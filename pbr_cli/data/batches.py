"""Splits as arrays: tokenised dialogues, candidate sticker indices and the truth's position, ready to batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import DataError
from .types import Dialogue


@dataclass
class SplitTable:
    """One split: D dialogues, each with n candidates given as indices into the sticker library."""

    ids: list[str]
    token_ids: list[list[int]]
    candidates: np.ndarray  # (D, n) int64 indices into the library
    label: np.ndarray  # (D,) int64 position of the truth within each candidate row

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def truth(self) -> np.ndarray:  # (D,) library index of each ground-truth sticker
        return self.candidates[np.arange(len(self)), self.label]

    def subset(self, indices: Sequence[int]) -> "SplitTable":
        indices = list(indices)
        return SplitTable(
            [self.ids[i] for i in indices],
            [self.token_ids[i] for i in indices],
            self.candidates[indices],
            self.label[indices],
        )


def split_source(dataset, split: str) -> str:
    """What messages about a split name: its file where the dataset has one, else the folder and the split."""
    source = dataset.sources.get(split)
    return str(source) if source is not None else f"{dataset.root} ({split})"


def build_table(
    dialogues: Sequence[Dialogue], sticker_index: dict[str, int], tokenizer, max_len: int, where: str = ""
) -> SplitTable:
    """Tokenise the contexts and map candidate ids to library indices (every set must have the same size)."""
    if not dialogues:
        raise DataError("the split has no dialogues", where or None)
    counts = Counter(len(d.candidates or ()) for d in dialogues)
    if len(counts) != 1 or 0 in counts:
        usual = counts.most_common(1)[0][0]
        odd = next(d for d in dialogues if len(d.candidates or ()) != usual or not usual)
        message = (
            f"dialogue {odd.id}: a candidate set of {len(odd.candidates or ())} stickers where the split's "
            f"others have {usual} (sizes {sorted(counts)}); every set of a split must have the same size"
        )
        raise DataError(f"{odd.where}: {message}" if odd.where else message, None if odd.where else where or None)
    candidates = np.empty((len(dialogues), next(iter(counts))), dtype=np.int64)
    label = np.empty(len(dialogues), dtype=np.int64)
    for row, dialogue in enumerate(dialogues):
        try:
            candidates[row] = [sticker_index[s] for s in dialogue.candidates]
        except KeyError as exc:
            message = f"dialogue {dialogue.id}: unknown sticker id {exc.args[0]}"
            if dialogue.where:
                raise DataError(f"{dialogue.where}: {message}") from None
            raise DataError(message, where or None) from None
        label[row] = dialogue.candidates.index(dialogue.sticker)
    token_ids = [tokenizer.encode_dialogue(d.context, max_len) for d in dialogues]
    return SplitTable([d.id for d in dialogues], token_ids, candidates, label)


def pad_tokens(token_ids: Sequence[list[int]], pad_id: int):
    """(B, T) long ids and (B, T) bool mask, padded to the longest row."""
    import torch

    length = max(len(t) for t in token_ids)
    ids = torch.full((len(token_ids), length), pad_id, dtype=torch.long)
    for row, tokens in enumerate(token_ids):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return ids, ids != pad_id
