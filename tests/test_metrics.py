"""Ranking metrics against hand-computed cases, ties included."""

import math

import numpy as np
import pytest

from pbr_cli.metrics import rank_metrics


def test_perfect_scorer():
    scores = np.eye(10)[[3, 7]]
    result = rank_metrics(scores, np.array([3, 7]))
    assert result["map"] == 1.0 and result["r10@1"] == 1.0 and result["r10@5"] == 1.0


def test_constant_scorer_is_chance_not_perfect():
    scores = np.zeros((4, 10))
    result = rank_metrics(scores, np.array([0, 0, 0, 0]))
    assert math.isclose(result["r10@1"], 0.1)
    assert math.isclose(result["r10@2"], 0.2)
    assert math.isclose(result["r10@5"], 0.5)
    assert math.isclose(result["map"], sum(1 / r for r in range(1, 11)) / 10)


def test_truth_third_without_ties():
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.0]])
    result = rank_metrics(scores, np.array([2]))
    assert math.isclose(result["map"], 1 / 3)
    assert result["r5@1"] == 0.0 and result["r5@2"] == 0.0 and result["r5@5"] == 1.0
    assert result["mrr"] == result["map"]


def test_truth_tied_with_one_other_at_the_top():
    scores = np.array([[0.5, 0.5, 0.1]])
    result = rank_metrics(scores, np.array([1]))
    assert math.isclose(result["r3@1"], 0.5)
    assert math.isclose(result["r3@2"], 1.0)
    assert math.isclose(result["map"], (1 + 1 / 2) / 2)


def test_mixed_rows_average():
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    result = rank_metrics(scores, np.array([0, 0]))
    assert math.isclose(result["map"], (1 + 0.5) / 2)
    assert math.isclose(result["r2@1"], 0.5)


def test_shape_errors():
    with pytest.raises(ValueError):
        rank_metrics(np.zeros((2, 3)), np.zeros(3, dtype=int))
