"""Candidate sets: the ground truth plus distinct negatives from its topic, drawn with a per-record seed."""

from __future__ import annotations

import hashlib
import random
from typing import Mapping, Sequence

from .types import N_CANDIDATES, Dialogue, Sticker


def record_seed(record_id: str, salt: str = "pbr-candidates") -> int:
    """A seed that depends only on the record id: the same on every run, machine and Python."""
    digest = hashlib.sha256(f"{salt}\0{record_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def draw_candidates(
    record_id: str,
    truth: str,
    topic_ids: Sequence[str],
    all_ids: Sequence[str],
    n: int = N_CANDIDATES,
) -> tuple[list[str], bool]:
    """Return (candidates, filled): `truth` plus `n - 1` distinct others, truth at a shuffled position.

    Negatives come from `topic_ids` (the truth's topic); when the topic has too few, the rest are
    drawn from `all_ids` (sorted, without duplicates) and `filled` is True. The truth is never among
    its own negatives.
    """
    rng = random.Random(record_seed(record_id))
    same_topic = sorted({s for s in topic_ids if s != truth})
    negatives = rng.sample(same_topic, min(n - 1, len(same_topic)))
    filled = len(negatives) < n - 1
    if filled:
        taken = set(negatives) | {truth}
        wanted = n - 1 - len(negatives)
        if len(all_ids) > 4 * (len(taken) + wanted):
            # a large library: draw by rejection instead of scanning it for every record
            while wanted:
                pick = all_ids[rng.randrange(len(all_ids))]
                if pick not in taken:
                    taken.add(pick)
                    negatives.append(pick)
                    wanted -= 1
        else:
            others = [s for s in all_ids if s not in taken]
            negatives += rng.sample(others, min(wanted, len(others)))
    candidates = [truth, *negatives]
    rng.shuffle(candidates)
    return candidates, filled


def assign_candidates(dialogues: Sequence[Dialogue], stickers: Mapping[str, Sticker], n: int = N_CANDIDATES) -> int:
    """Fill `candidates` of every dialogue that has none; return how many sets needed other topics."""
    by_topic: dict[str, list[str]] = {}
    for sticker in stickers.values():
        by_topic.setdefault(sticker.topic, []).append(sticker.id)
    all_ids = sorted(stickers)
    filled_count = 0
    for dialogue in dialogues:
        if dialogue.candidates:
            continue
        topic = stickers[dialogue.sticker].topic
        dialogue.candidates, filled = draw_candidates(dialogue.id, dialogue.sticker, by_topic[topic], all_ids, n)
        filled_count += int(filled)
    return filled_count
