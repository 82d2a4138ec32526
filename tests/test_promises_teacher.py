"""README: teacher-train "augments (random resized crop, flip, colour jitter, hue rotation) and weights the loss by
inverse class frequency". The weights the loss gets against hand-computed values for a skewed label set, and the
augmentation the training applies: it changes the pixels, keeps the batch's shape, and is the same for the same
seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import pbr_cli.data.augment
from pbr_cli.data import open_emotion_images
from pbr_cli.data.augment import train_view
from pbr_cli.emotions import EMOTIONS
from pbr_cli.teacher import train_teacher

# train images per emotion (surprise 4, happiness 2, disgust 1, fear and sadness none, anger 1, neutral 0)
COUNTS = {"surprise": 4, "happiness": 2, "disgust": 1, "anger": 1}
# inverse frequency, n_images / (classes present x n_class): 8 / (4 x 4), 8 / (4 x 2), 8 / (4 x 1); absent: 0
EXPECTED_WEIGHTS = [0.5, 1.0, 2.0, 0.0, 0.0, 2.0, 0.0]


def write_images(root, counts, seed):
    rng = np.random.default_rng(seed)
    for emotion, count in counts.items():
        (root / emotion).mkdir(parents=True)
        for index in range(count):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / emotion / f"{index}.png")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One epoch of a tiny teacher on the skewed set, recording every loss call and every augmentation."""
    data = tmp_path_factory.mktemp("teacher") / "data"
    write_images(data / "train", COUNTS, seed=0)
    write_images(data / "val", {emotion: 1 for emotion in COUNTS}, seed=1)
    losses, val_losses, views = [], [], []
    cross_entropy = F.cross_entropy

    def loss(logits, labels, *args, **kwargs):
        if logits.requires_grad:  # training; the val loss that breaks ties between epochs has no gradient
            losses.append((labels.clone(), kwargs.get("weight")))
        else:
            val_losses.append((labels.clone(), kwargs.get("weight")))
        return cross_entropy(logits, labels, *args, **kwargs)

    def view(images, size, **kwargs):
        result = train_view(images, size, **kwargs)
        views.append((images.clone(), result.clone(), kwargs))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(F, "cross_entropy", loss)
        patch.setattr(pbr_cli.data.augment, "train_view", view)
        train_teacher(open_emotion_images(data), arch="tiny", img_size=16, epochs=1, batch_size=4, seed=0)
    return losses, views, val_losses


def test_the_loss_is_weighted_by_inverse_class_frequency(recorded):
    losses, _, _ = recorded
    assert len(losses) == 2  # 8 train images, batches of 4
    for _, weight in losses:
        assert weight is not None and weight.tolist() == pytest.approx(EXPECTED_WEIGHTS)
    labels = torch.cat([batch for batch, _ in losses])
    assert sorted(labels.tolist()) == sorted(EMOTIONS.index(e) for e, n in COUNTS.items() for _ in range(n))
    assert float(torch.tensor(EXPECTED_WEIGHTS)[labels].mean()) == pytest.approx(1.0)  # 1 per image on average


def test_the_val_loss_is_the_plain_cross_entropy_of_the_val_images(recorded):
    _, _, val_losses = recorded
    assert len(val_losses) == 1  # one epoch, one val pass
    labels, weight = val_losses[0]
    assert weight is None and sorted(labels.tolist()) == sorted(EMOTIONS.index(e) for e in COUNTS)


def test_training_augments_every_batch(recorded):
    _, views, _ = recorded
    assert len(views) == 2
    for images, result, kwargs in views:
        assert kwargs.get("jitter") is True and kwargs.get("generator") is not None  # crop, flip and colour jitter
        assert kwargs.get("hue") == 0.5  # and the default hue rotation
        assert result.shape == images.shape == (4, 3, 16, 16) and result.dtype == torch.float32
        assert torch.isfinite(result).all() and result.min() >= 0 and result.max() <= 255
        assert not torch.equal(result, images.float())  # the pixels change


def test_augmentation_is_the_same_for_the_same_seed():
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (6, 3, 24, 24), dtype=np.uint8))

    def view(seed):
        return train_view(images, 24, generator=torch.Generator().manual_seed(seed), jitter=True)

    first, again, other = view(3), view(3), view(4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.shape == (6, 3, 24, 24) and first.dtype == torch.float32
    assert images.dtype == torch.uint8 and not torch.equal(first, images.float())


@pytest.mark.parametrize(
    "counts, message",
    [
        (COUNTS, "val loss became nan in epoch 1; training diverged"),
        ({emotion: 1 for emotion in EMOTIONS}, "weights became non-finite"),  # one image a class: no val split
    ],
)
def test_non_finite_weights_are_refused_before_anything_is_written(tmp_path, monkeypatch, counts, message):
    """A NaN that reaches a weight through its gradient (the loss still finite) stops training with a message:
    the val loss's, when there is a val split (here a held-out share of train), else the kept weights'."""
    from pbr_cli.errors import TrainingError

    data = tmp_path / "data"
    write_images(data / "train", counts, seed=0)
    step = torch.optim.AdamW.step

    def poisoned(self, *args, **kwargs):
        result = step(self, *args, **kwargs)
        with torch.no_grad():
            self.param_groups[0]["params"][0].view(-1)[0] = float("nan")
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", poisoned)
    with pytest.raises(TrainingError, match=message) as refused:
        train_teacher(open_emotion_images(data), arch="tiny", img_size=16, epochs=1, batch_size=4, seed=0)
    assert "no teacher was written" in str(refused.value)
