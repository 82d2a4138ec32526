"""EKD, TSCL and PHSM against hand-computed values."""

import math

import torch

from pbr_cli.anchors import pseudo_labels as anchor_targets
from pbr_cli.emotions import fold_emotions
from pbr_cli.losses.ekd import feature_distillation_loss, kl_distillation_loss
from pbr_cli.losses.itm import sample_negatives
from pbr_cli.losses.phsm import phsm_scores, polarity_similarity, sticker_polarity
from pbr_cli.losses.tscl import info_nce, inter_topic_loss, intra_topic_loss


def test_anchor_targets_are_softmax_of_dot_products_and_sum_to_one():
    features = torch.tensor([[1.0, 0.0]])
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    targets = anchor_targets(features, anchors, tau=1.0)
    expected = torch.tensor([math.e, 1.0, math.exp(-1)])
    assert torch.allclose(targets[0], expected / expected.sum())
    assert torch.allclose(anchor_targets(torch.randn(5, 2), anchors, tau=0.5).sum(-1), torch.ones(5))


def test_kl_distillation_hand_computed():
    student = torch.tensor([[0.0, 0.0]])  # softmax = [0.5, 0.5]
    target = torch.tensor([[0.75, 0.25]])
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert math.isclose(kl_distillation_loss(student, target).item(), expected, rel_tol=1e-6)
    # batch mean: two identical rows give the same value
    assert math.isclose(kl_distillation_loss(student.repeat(2, 1), target.repeat(2, 1)).item(), expected, rel_tol=1e-6)


def test_feature_distillation_is_mean_squared_error():
    assert math.isclose(feature_distillation_loss(torch.tensor([[1.0, 3.0]]), torch.tensor([[0.0, 1.0]])).item(), 2.5)


def test_fold_emotions_averages_each_emotions_anchors():
    scores = torch.arange(14, dtype=torch.float32)[None]  # M = 2: emotion e has anchors 2e, 2e+1
    assert torch.equal(fold_emotions(scores, 2)[0], torch.arange(7, dtype=torch.float32) * 2 + 0.5)


def test_info_nce_hand_computed():
    view = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits [[1/t, 0], [0, 1/t]] with t = 0.5: -log(e^2 / (e^2 + 1))
    expected = math.log(1 + math.exp(-2))
    assert math.isclose(info_nce(view, view, 0.5).item(), expected, rel_tol=1e-6)


def test_info_nce_masks_copies_of_the_same_sticker():
    view = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ids = torch.tensor([7, 7, 3])
    masked = info_nce(view, view, 1.0, ids)
    # rows 0, 1: the other copy is masked -> logits [1, 0]; row 2: logits [0, 0, 1]
    expected = (2 * math.log(1 + math.exp(-1)) + -math.log(math.e / (math.e + 2))) / 3
    assert math.isclose(masked.item(), expected, rel_tol=1e-6)


def test_intra_topic_is_the_mean_over_samples_hand_computed():
    t = 0.5
    # sample 0: the second view matches row by row; sample 1: the second view swaps the rows
    view1 = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [0.0, 1.0]]])  # normalised to unit rows
    view2 = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    expected = (math.log(1 + math.exp(-1 / t)) + math.log(1 + math.exp(1 / t))) / 2
    assert math.isclose(intra_topic_loss(view1, view2, t).item(), expected, rel_tol=1e-6)


def test_inter_topic_spans_the_batch_hand_computed():
    # z1 rows (1,0), (0,1), (1,0); z2 rows (1,0), (0,1), (0,1); t = 1: logits [1,0,0], [0,1,1], [1,0,0], labels 0, 1, 2
    view1 = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    view2 = torch.tensor([[1.0, 0.0], [0.0, 3.0], [0.0, 1.0]])
    e = math.e
    expected = (-math.log(e / (e + 2)) - math.log(e / (1 + 2 * e)) - math.log(1 / (e + 2))) / 3
    assert math.isclose(inter_topic_loss(view1, view2, 1.0).item(), expected, rel_tol=1e-6)
    # rows 0 and 2 show the same sticker: neither is the other's negative
    ids = torch.tensor([5, 6, 5])
    expected = (-math.log(e / (e + 1)) - math.log(e / (1 + 2 * e)) - math.log(1 / 2)) / 3
    assert math.isclose(inter_topic_loss(view1, view2, 1.0, ids).item(), expected, rel_tol=1e-6)


def test_sticker_polarity_folds_emotions():
    # surprise 1, happiness 1 -> P = 2; sadness 1 -> N = 1; neutral ignored
    scores = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 5.0]])
    polarity = sticker_polarity(scores)
    expected_p = math.exp(2) / (math.exp(2) + math.exp(1))
    assert torch.allclose(polarity, torch.tensor([[expected_p, 1 - expected_p]]))


def test_polarity_similarity_hand_computed():
    dialogues = torch.tensor([[0.9, 0.1], [0.5, 0.5]])
    stickers = torch.tensor([[0.8, 0.2], [0.1, 0.9]])
    sen = polarity_similarity(dialogues, stickers)
    expected = torch.tensor([[2 - 0.2, 2 - 1.6], [2 - 0.6, 2 - 0.8]])
    assert torch.allclose(sen, expected)


def test_phsm_sampler_never_picks_the_positive_and_prefers_close_negatives():
    generator = torch.Generator().manual_seed(0)
    # one dialogue, 4 stickers: 0 positive; 1 semantically close and same polarity; 2 semantically close,
    # opposite polarity; 3 far on both
    similarity = torch.tensor([[5.0, 2.0, 2.0, 0.0]]).repeat(4000, 1)
    dialogue = torch.tensor([[1.0, 0.0]])
    stickers = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    sentiment = polarity_similarity(dialogue, stickers).repeat(4000, 1)
    mask = torch.zeros_like(similarity, dtype=torch.bool)
    mask[:, 0] = True
    picks = sample_negatives(phsm_scores(similarity, sentiment, weight=4.0), mask, generator)
    counts = torch.bincount(picks, minlength=4)
    assert counts[0] == 0
    assert counts[1] > counts[2] > counts[3]
