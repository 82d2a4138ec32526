"""Emotion anchors: per-emotion K-Means layout, small classes, pseudo-labels, and `build-anchors` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from fixtures_data import write_ser30k
from pbr_cli.anchors import EmotionAnchors, build_anchors, pseudo_label_agreement, pseudo_labels
from pbr_cli.emotions import fold_emotions
from pbr_cli.errors import ConfigError, DataError
from pbr_cli.features import read_h5
from pbr_cli.teacher import Teacher, build_classifier
from synthetic import write_emotion_images


def blobs(per_emotion: list[int], dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features near 100·e_c for emotion c (three tight sub-clusters each) and their labels."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for emotion, count in enumerate(per_emotion):
        centre = np.zeros(dim)
        centre[emotion] = 100.0
        offsets = rng.normal(scale=5.0, size=(3, dim))
        features.append(centre + offsets[np.arange(count) % 3] + rng.normal(scale=0.1, size=(count, dim)))
        labels += [emotion] * count
    return np.concatenate(features).astype(np.float32), np.array(labels)


@pytest.fixture(scope="module")
def anchor_setup(tmp_path_factory):
    """An untrained tiny teacher, another one (different weights), and 4 images per emotion."""
    root = tmp_path_factory.mktemp("anchors")
    torch.manual_seed(0)
    teacher = Teacher(*build_classifier("tiny", 32))
    teacher.save(root / "teacher.pt")
    torch.manual_seed(1)
    Teacher(*build_classifier("tiny", 32)).save(root / "other.pt")
    data = write_emotion_images(root / "emotions", per_class=4)
    return root, teacher, data


def test_anchors_are_emotion_major():
    features, labels = blobs([6, 9, 6, 7, 6, 8, 6])
    anchors = build_anchors(features, labels, M=3)
    assert anchors.anchors.shape == (21, 16) and anchors.anchors.dtype == np.float32
    np.testing.assert_array_equal(anchors.emotion, np.repeat(np.arange(7), 3))
    np.testing.assert_array_equal(anchors.anchors[:, :7].argmax(axis=1), np.repeat(np.arange(7), 3))
    assert anchors.images_per_emotion == [6, 9, 6, 7, 6, 8, 6] and anchors.clusters_per_emotion == [3] * 7
    assert anchors.shrunk == {}


def test_small_class_is_an_error_or_shrinks():
    features, labels = blobs([6, 6, 6, 2, 6, 6, 6])
    with pytest.raises(DataError, match="emotion 'fear' has 2 image"):
        build_anchors(features, labels, M=3)
    anchors = build_anchors(features, labels, M=3, on_small_class="shrink")
    assert anchors.anchors.shape == (21, 16) and anchors.shrunk == {"fear": 2}
    fear = anchors.anchors[9:12]  # emotion 3's rows
    np.testing.assert_array_equal(fear[0], fear[2])  # repeated cyclically
    assert not np.array_equal(fear[0], fear[1])
    missing, missing_labels = blobs([6, 6, 6, 0, 6, 6, 6])
    with pytest.raises(DataError, match="'fear' has no labelled image"):
        build_anchors(missing, missing_labels, M=3, on_small_class="shrink")


def test_repeated_images_count_as_one_distinct_anchor():
    features, labels = blobs([6, 6, 6, 6, 6, 6, 6])
    features[labels == 2] = features[labels == 2][0]  # disgust: one image six times
    anchors = build_anchors(features, labels, M=3)
    assert anchors.clusters_per_emotion == [3, 3, 1, 3, 3, 3, 3] and anchors.shrunk == {"disgust": 1}


def test_pseudo_labels_softmax_over_anchors():
    features = np.array([[1.0, 0.0]], dtype=np.float32)
    anchors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(pseudo_labels(features, anchors), [[math.e / (math.e + 1), 1 / (math.e + 1)]], rtol=1e-6)
    np.testing.assert_allclose(
        pseudo_labels(features, anchors, tau=2.0),
        [[math.exp(0.5) / (math.exp(0.5) + 1), 1 / (math.exp(0.5) + 1)]],
        rtol=1e-6,
    )

    as_torch = pseudo_labels(torch.from_numpy(features), anchors)
    assert isinstance(as_torch, torch.Tensor)
    torch.testing.assert_close(as_torch, torch.tensor([[math.e / (math.e + 1), 1 / (math.e + 1)]]))

    rng = np.random.default_rng(0)
    teacher_features = rng.gamma(2.0, size=(5, 64)).astype(np.float32)  # large raw dot products
    emotion_anchors = rng.gamma(2.0, size=(14, 64)).astype(np.float32)
    # softmax by hand, in Python floats: exp(logit - max) / sum, per row
    expected = []
    for row in teacher_features.astype(float).tolist():
        logits = [math.fsum(a * b for a, b in zip(row, anchor)) for anchor in emotion_anchors.astype(float).tolist()]
        weights = [math.exp(x - max(logits)) for x in logits]
        expected.append([w / math.fsum(weights) for w in weights])
    assert max(map(max, expected)) > 0.99  # the raw dot products are that large
    as_numpy = pseudo_labels(teacher_features, emotion_anchors)
    as_torch = pseudo_labels(torch.from_numpy(teacher_features), emotion_anchors)
    assert as_numpy.shape == (5, 14) and isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_numpy, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(as_torch.numpy(), expected, rtol=1e-4, atol=1e-6)
    soft = pseudo_labels(teacher_features, emotion_anchors, tau=100.0)
    assert soft.max() < as_numpy.max()  # a higher tau is softer


def test_pseudo_labels_by_distance_follow_the_nearest_anchor_not_the_longest():
    features = np.array([[1.0, 0.0]], dtype=np.float32)
    anchors = np.array([[1.0, 0.0], [3.0, 3.0]], dtype=np.float32)  # the second is farther but longer
    by_dot = pseudo_labels(features, anchors)
    by_distance = pseudo_labels(features, anchors, similarity="distance")
    assert by_dot[0].argmax() == 1 and by_distance[0].argmax() == 0
    # softmax(-|v - e|^2 / (2 tau)): squared distances 0 and 13
    for tau in (1.0, 2.0):
        near, far = math.exp(0.0), math.exp(-13.0 / (2 * tau))
        expected = [[near / (near + far), far / (near + far)]]
        np.testing.assert_allclose(pseudo_labels(features, anchors, tau, "distance"), expected, rtol=1e-6)
        torch.testing.assert_close(
            pseudo_labels(torch.from_numpy(features), anchors, tau, "distance"), torch.tensor(expected).float()
        )
    with pytest.raises(ConfigError, match="dot or distance"):
        pseudo_labels(features, anchors, similarity="cosine")


def test_pseudo_label_agreement_counts_the_emotion_with_the_most_mass():
    # emotion 0's anchor is long and points away from emotion 1's images, which sit on emotion 1's short anchor
    anchors = np.zeros((14, 2), dtype=np.float32)
    anchors[0] = [4.0, 4.0]
    anchors[2] = [1.0, 0.0]
    anchors[1::2] = anchors[0::2]  # M = 2, each emotion's two anchors alike
    emotion = np.repeat(np.arange(7), 2)
    made = EmotionAnchors(anchors, emotion, 2, [1] * 7, [1] * 7)
    features = np.array([[1.0, 0.0], [1.1, -0.1], [3.0, 3.5], [1.0, 0.0]], dtype=np.float32)
    labels = np.array([1, 1, 0, -1])  # the last row is unlabelled: not counted
    assert pseudo_label_agreement(features, labels, made, similarity="dot") == pytest.approx(1 / 3)
    assert pseudo_label_agreement(features, labels, made, similarity="distance") == 1.0
    assert np.isnan(pseudo_label_agreement(features, np.full(4, -1), made))


def test_fold_emotions_averages_each_emotions_anchors():
    logits = np.arange(14, dtype=np.float32)[None]  # M = 2: emotion c owns 2c, 2c + 1
    np.testing.assert_array_equal(fold_emotions(logits, 2), [[0.5, 2.5, 4.5, 6.5, 8.5, 10.5, 12.5]])
    assert fold_emotions(torch.from_numpy(logits), 2).tolist() == [[0.5, 2.5, 4.5, 6.5, 8.5, 10.5, 12.5]]


def test_build_anchors_embeds_the_teachers_data_and_caches(invoke, anchor_setup, tmp_path, isolated_cache):
    root, teacher, data = anchor_setup
    output = tmp_path / "anchors.h5"
    args = ["build-anchors", "--teacher", root / "teacher.pt", "--data", data, "--M", "2", "-o", output, "--json"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["anchors"] == 14 and summary["dim"] == 96 and summary["cached"] is False
    assert summary["images_per_emotion"]["fear"] == 4
    assert str(isolated_cache) in summary["features_cache"]
    anchors = read_h5(output, "anchors", dim=96)
    assert anchors["anchors"].shape == (14, 96)
    np.testing.assert_array_equal(anchors["emotion"], np.repeat(np.arange(7), 2))
    assert anchors.attrs["teacher_hash"] == teacher.hash and anchors.attrs["M"] == 2
    again = invoke(*args)
    assert again.exit_code == 0 and json.loads(again.stdout)["cached"] is True
    np.testing.assert_array_equal(read_h5(output, "anchors")["anchors"], anchors["anchors"])


def test_build_anchors_from_features_checks_the_teacher(invoke, anchor_setup, tmp_path):
    root, _, data = anchor_setup
    features = tmp_path / "feats.h5"
    assert invoke("embed", data, "--teacher", root / "teacher.pt", "-o", features).exit_code == 0
    refused = invoke(
        "build-anchors", "--features", features, "--teacher", root / "other.pt", "--M", "2", "-o", tmp_path / "a.h5"
    )
    assert refused.exit_code == 1 and "feats.h5" in refused.output and "other.pt" in refused.output
    assert not (tmp_path / "a.h5").exists()
    small = invoke("build-anchors", "--features", features, "--M", "5", "-o", tmp_path / "a.h5")
    assert small.exit_code == 1 and "has 4 image(s), fewer than M=5" in small.output
    shrunk = invoke(
        "build-anchors",
        "--features",
        features,
        "--M",
        "5",
        "--on-small-class",
        "shrink",
        "-o",
        tmp_path / "a.h5",
        "--json",
    )
    assert shrunk.exit_code == 0, shrunk.output
    summary = json.loads(shrunk.stdout)
    assert summary["clusters_per_emotion"]["anger"] == 4
    made = read_h5(tmp_path / "a.h5", "anchors")
    assert made["anchors"].shape == (35, 96)
    embedded = read_h5(features, "teacher_features")
    anchors = EmotionAnchors(made["anchors"], made["emotion"], 5, [4] * 7, [4] * 7)
    for similarity in ("dot", "distance"):
        expected = pseudo_label_agreement(embedded["features"], embedded["labels"], anchors, 1.0, similarity)
        assert summary["pseudo_label_agreement"][similarity] == pytest.approx(expected, abs=1e-4)
    printed = invoke("build-anchors", "--features", features, "--M", "2", "-o", tmp_path / "b.h5")
    assert printed.exit_code == 0 and "EKD pseudo-labels favour an image's own emotion for" in printed.output
    both = invoke("build-anchors", "--features", features, "--data", data)
    assert both.exit_code == 2


def test_build_anchors_uses_the_train_split_of_a_features_file(invoke, anchor_setup, tmp_path):
    root, _, _ = anchor_setup
    ser30k = write_ser30k(tmp_path)  # train holds emotions 0..4 only; anger in val, neutral in test
    features = tmp_path / "ser.h5"
    embedded = invoke("embed", ser30k, "--teacher", root / "teacher.pt", "-o", features, "--json")
    assert embedded.exit_code == 0, embedded.output
    assert json.loads(embedded.stdout)["splits"] == {"train": [0, 10], "val": [10, 12], "test": [12, 14]}
    result = invoke("build-anchors", "--features", features, "--M", "1", "-o", tmp_path / "a.h5")
    assert result.exit_code == 1 and "'anger' has no labelled image" in result.output
