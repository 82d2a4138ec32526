"""PHSM (Algorithm 1) samples each hard negative from softmax(SIM + softmax(SEN)) over the non-positive columns:
the sampling probabilities against a matrix computed by hand for two dialogues and three stickers."""

from __future__ import annotations

import math

import pytest
import torch

from pbr_cli.losses.itm import sample_negatives
from pbr_cli.losses.phsm import phsm_scores, polarity_similarity

DIALOGUES = [[0.9, 0.1], [0.2, 0.8]]  # [P, N] of each dialogue
STICKERS = [[0.8, 0.2], [0.5, 0.5], [0.1, 0.9]]  # [P, N] of each sticker
SIM = [[3.0, 1.0, 0.5], [0.2, 2.0, 4.0]]  # semantic similarity (dialogue x sticker)
POSITIVE = [0, 2]  # each dialogue's own sticker: never its negative


def hand_probabilities() -> list[list[float]]:
    """Algorithm 1 with math alone: SEN = 2 - (|P_i - P_j| + |N_i - N_j|), softmax over each row, added to SIM;
    then softmax over the columns that are not the row's positive."""
    rows = []
    for i, (p, n) in enumerate(DIALOGUES):
        sen = [2 - (abs(p - q) + abs(n - m)) for q, m in STICKERS]
        soft = [math.exp(x) / sum(math.exp(y) for y in sen) for x in sen]
        logits = [SIM[i][j] + soft[j] for j in range(3)]
        allowed = [j for j in range(3) if j != POSITIVE[i]]
        total = sum(math.exp(logits[j]) for j in allowed)
        rows.append([math.exp(logits[j]) / total if j in allowed else 0.0 for j in range(3)])
    return rows


EXPECTED = [[0.0, 0.6611, 0.3389], [0.1247, 0.8753, 0.0]]  # hand_probabilities(), to 4 places


def phsm_logits(repeat: int = 1):
    sentiment = polarity_similarity(torch.tensor(DIALOGUES), torch.tensor(STICKERS))
    scores = phsm_scores(torch.tensor(SIM), sentiment)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    mask[0, POSITIVE[0]] = mask[1, POSITIVE[1]] = True
    return scores.repeat(repeat, 1), mask.repeat(repeat, 1)


def test_hand_matrix_is_what_the_paper_gives():
    assert hand_probabilities() == [pytest.approx(row, abs=1e-4) for row in EXPECTED]


def test_sampling_distribution_is_the_hand_computed_matrix(monkeypatch):
    drawn_from = []
    multinomial = torch.multinomial

    def recording(weights, *args, **kwargs):
        drawn_from.append(weights.clone())
        return multinomial(weights, *args, **kwargs)

    monkeypatch.setattr(torch, "multinomial", recording)
    scores, mask = phsm_logits()
    sample_negatives(scores, mask, torch.Generator().manual_seed(0))
    (weights,) = drawn_from
    probabilities = weights / weights.sum(1, keepdim=True)
    torch.testing.assert_close(probabilities, torch.tensor(hand_probabilities()), rtol=0, atol=1e-6)


def test_sampled_frequencies_follow_the_hand_computed_matrix():
    rows = 20_000  # per dialogue; seeded, so the counts are fixed
    scores, mask = phsm_logits(rows)
    picks = sample_negatives(scores, mask, torch.Generator().manual_seed(0)).view(rows, 2)
    for i in range(2):
        frequencies = torch.bincount(picks[:, i], minlength=3).double() / rows
        # 4 standard deviations of a frequency over 20,000 draws is under 0.015; the terms left out of
        # SIM + softmax(SEN) (SIM alone, or SEN without its softmax) move these by 0.04 or more
        assert frequencies.tolist() == pytest.approx(hand_probabilities()[i], abs=0.015), i
        assert frequencies[POSITIVE[i]] == 0
