"""Each loss against a value computed by hand."""

import math

import torch

from pbr_cli.losses.itc import i2t_loss, t2i_loss
from pbr_cli.losses.itm import itm_loss, sample_negatives


def test_i2t_loss_hand_computed():
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    stickers = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits [[1, 0], [0, 1]]: each row -log(e / (e + 1))
    expected = math.log(1 + math.exp(-1))
    assert math.isclose(i2t_loss(stickers, text, 1.0).item(), expected, rel_tol=1e-6)


def test_i2t_uses_dialogues_of_the_batch_as_negatives():
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    stickers = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # row 0: logits [1, 1] -> log 2; row 1: logits [0, 0] -> log 2
    assert math.isclose(i2t_loss(stickers, text, 1.0).item(), math.log(2), rel_tol=1e-6)


def test_t2i_loss_hand_computed():
    text = torch.tensor([[1.0, 0.0]])
    candidates = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]]])
    positive = torch.tensor([1])
    # temperature 0.5: logits [0, 2, -2]; -log(e^2 / (1 + e^2 + e^-2))
    expected = -math.log(math.exp(2) / (1 + math.exp(2) + math.exp(-2)))
    assert math.isclose(t2i_loss(text, candidates, positive, 0.5).item(), expected, rel_tol=1e-6)


def test_itm_loss_hand_computed():
    positive = torch.tensor([[0.0, 0.0]])  # P(match) = 1/2 -> -log(1/2)
    negative = torch.tensor([[0.0, math.log(3.0)]])  # P(no match) = 1/4 -> -log(1/4)
    expected = (math.log(2) + math.log(4)) / 2
    assert math.isclose(itm_loss(positive, negative).item(), expected, rel_tol=1e-6)


def test_sample_negatives_never_picks_a_positive_and_prefers_hard_ones():
    generator = torch.Generator().manual_seed(0)
    similarity = torch.tensor([[9.0, 5.0, 0.0, 0.0]]).repeat(2000, 1)
    mask = torch.zeros_like(similarity, dtype=torch.bool)
    mask[:, 0] = True
    picks = sample_negatives(similarity, mask, generator)
    assert not (picks == 0).any()
    counts = torch.bincount(picks, minlength=4)
    assert counts[1] > 0.95 * len(picks)  # e^5 / (e^5 + 2) ~ 0.987


def test_sample_negatives_handles_underflow_rows():
    similarity = torch.tensor([[1000.0, -1000.0, -1000.0]])
    mask = torch.tensor([[True, False, False]])
    pick = sample_negatives(similarity, mask, torch.Generator().manual_seed(1))
    assert pick.item() in (1, 2)


def test_itm_loss_leaves_out_weighted_pairs():
    positive = torch.tensor([[0.0, 0.0]])
    negative = torch.tensor([[0.0, math.log(3.0)], [5.0, -5.0]])
    weighted = itm_loss(positive, negative, torch.tensor([1.0, 0.0]))
    assert math.isclose(weighted.item(), itm_loss(positive, negative[:1]).item(), rel_tol=1e-6)


def test_sample_negatives_row_without_any_negative_is_reported():
    from pbr_cli.losses.itm import has_negative

    mask = torch.tensor([[True, True], [True, False]])
    picks = sample_negatives(torch.zeros(2, 2), mask, torch.Generator().manual_seed(0))
    assert picks[1].item() == 1
    assert has_negative(mask).tolist() == [False, True]


def test_sample_negative_sets_draws_distinct_allowed_columns_and_prefers_hard_ones():
    from pbr_cli.losses.itm import sample_negative_sets

    generator = torch.Generator().manual_seed(0)
    similarity = torch.tensor([[9.0, 6.0, 5.0, 0.0, 0.0]]).repeat(2000, 1)
    mask = torch.zeros_like(similarity, dtype=torch.bool)
    mask[:, 0] = True
    picks, valid = sample_negative_sets(similarity, mask, 2, generator)
    assert picks.shape == (2000, 2) and valid.all()
    assert not (picks == 0).any()
    assert (picks[:, 0] != picks[:, 1]).all()
    # without replacement the two hardest come out together far more often than not: p ~ 0.98
    pairs = torch.sort(picks, dim=1).values
    assert ((pairs[:, 0] == 1) & (pairs[:, 1] == 2)).float().mean() > 0.9
    # the first draw follows softmax over the allowed columns: e^6 / (e^6 + e^5 + 2) ~ 0.73
    assert abs((picks[:, 0] == 1).float().mean().item() - 0.73) < 0.05


def test_sample_negative_sets_reports_rows_that_run_out_of_negatives():
    from pbr_cli.losses.itm import sample_negative_sets

    mask = torch.tensor([[True, False, False], [True, True, True]])
    picks, valid = sample_negative_sets(torch.zeros(2, 3), mask, 5, torch.Generator().manual_seed(0))
    assert picks.shape == (2, 3)  # at most as many as there are columns
    assert valid.tolist() == [[True, True, False], [False, False, False]]
    assert sorted(picks[0, :2].tolist()) == [1, 2]


def test_list_loss_hand_computed_and_leaves_out_invalid_negatives():
    from pbr_cli.losses.itm import list_loss

    positive = torch.tensor([[0.0, 2.0]])  # margin 2
    negative = torch.tensor([[[1.0, 1.0], [0.0, 1.0], [9.0, -9.0]]])  # margins 0, 1, -18
    valid = torch.tensor([[True, True, False]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(1)))
    assert math.isclose(list_loss(positive, negative, valid).item(), expected, rel_tol=1e-6)
    nothing = list_loss(positive, negative, torch.zeros_like(valid))
    assert nothing.item() == 0.0
