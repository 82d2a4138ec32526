"""Training views: the affine crop against exact expectations, the hue rotation, and the bf16 policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pbr_cli.data.augment import crop_boxes, random_hue, random_resized_crop, train_view
from pbr_cli.runtime import uses_bf16

IMAGES = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (5, 3, 12, 12), dtype=np.uint8)).float()


def test_a_full_crop_is_the_image_and_a_flip_mirrors_it():
    whole = random_resized_crop(IMAGES, 12, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(whole, IMAGES, atol=1e-3)
    mirrored = random_resized_crop(IMAGES, 12, scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=1.0)
    assert torch.allclose(mirrored, IMAGES.flip(-1), atol=1e-3)


def test_a_box_crop_upsamples_that_box():
    """The 6x6 box at (0, 0) of a 12 px image resized to 12 px: each source pixel covers 2x2 outputs."""
    image = torch.arange(144, dtype=torch.float32).view(1, 1, 12, 12).expand(1, 3, 12, 12)
    crop = crop_boxes(image, torch.tensor([[0.0, 0.0, 6.0, 6.0]]), 12)
    source = image[0, 0]
    # bilinear at the image position (i + 0.5) / 2 - 0.5 of each output pixel i, clamped at the image border
    position = ((torch.arange(12) + 0.5) / 2 - 0.5).clamp(0, 11)
    low, frac = position.floor().long(), position - position.floor()
    high = (low + 1).clamp(max=11)
    rows = source[low] * (1 - frac[:, None]) + source[high] * frac[:, None]
    expected = rows[:, low] * (1 - frac[None, :]) + rows[:, high] * frac[None, :]
    assert torch.allclose(crop[0, 0], expected, atol=1e-3)
    mirrored = crop_boxes(image, torch.tensor([[6.0, 0.0, 6.0, 6.0]]), 12, mirror=torch.tensor([-1.0]))
    assert torch.allclose(
        mirrored[0, 0], crop_boxes(image, torch.tensor([[6.0, 0.0, 6.0, 6.0]]), 12)[0, 0].flip(-1), atol=1e-3
    )


def test_random_crops_keep_at_least_their_scale():
    """Every crop of a horizontal ramp stays inside the image and covers at least half of it."""
    ramp = torch.arange(12, dtype=torch.float32).view(1, 1, 1, 12).expand(50, 3, 12, 12)
    crops = random_resized_crop(ramp, 12, scale=(0.5, 1.0), generator=torch.Generator().manual_seed(0))
    span = crops[:, 0, 0, -1] - crops[:, 0, 0, 0]  # horizontal extent of each crop's ramp
    assert crops.min() >= 0 and crops.max() <= 11
    assert float(span.min()) > 11 * 0.5 * (3 / 4) ** 0.5 - 1.5  # width >= sqrt(scale * ratio_min) * W


def test_hue_rotation_keeps_grey_and_brightness():
    grey = torch.full((4, 3, 5, 5), 90.0)
    assert torch.allclose(random_hue(grey, 1.0, torch.Generator().manual_seed(0)), grey, atol=1e-3)
    colour = IMAGES.clone()
    rotated = random_hue(colour, 0.5, torch.Generator().manual_seed(1))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    unclipped = (rotated > 0.5) & (rotated < 254.5)
    keep = unclipped.all(dim=1, keepdim=True)
    assert torch.allclose(
        ((rotated * luma).sum(1, keepdim=True))[keep], ((colour * luma).sum(1, keepdim=True))[keep], atol=1e-2
    )
    assert not torch.allclose(rotated, colour, atol=1.0)  # the colours do change


def test_hue_half_turn_swaps_opposite_colours():
    """A 180° rotation of the chroma plane maps a colour to its opponent around the same grey."""
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 150.0
    red[0, 1:] = 50.0
    generator = _generator_for_angle(math.pi)
    out = random_hue(red, 1.0, generator)
    assert out[0, 0] < out[0, 1] and out[0, 0] < out[0, 2]  # red became cyan-ish


def _generator_for_angle(angle: float) -> torch.Generator:
    for seed in range(10_000):
        draw = float(torch.rand(1, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * math.pi
        if abs(abs(draw) - angle) < 0.05:
            return torch.Generator().manual_seed(seed)
    raise AssertionError("no seed found")


def test_train_view_applies_hue_only_when_asked():
    def view(hue):
        return train_view(IMAGES, 12, generator=torch.Generator().manual_seed(3), jitter=True, hue=hue)

    assert torch.equal(view(0.0), view(0.0))
    assert not torch.allclose(view(0.0), view(0.5))


def test_bf16_policy():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not uses_bf16(cpu, "fp32") and not uses_bf16(cuda, "fp32")
    assert uses_bf16(cpu, "bf16") and uses_bf16(cuda, "auto")


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_on_the_cpu_follows_native_bf16(monkeypatch, native):
    import pbr_cli.runtime as runtime

    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: native)
    assert runtime.uses_bf16(torch.device("cpu"), "auto") is native
    with runtime.autocast(torch.device("cpu"), "auto"):
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == (torch.bfloat16 if native else torch.float32)
    with runtime.autocast(torch.device("cpu")):  # inference keeps float32
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_auto_precision_keeps_small_images_in_fp32(monkeypatch):
    import pbr_cli.runtime as runtime

    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: True)
    cpu = torch.device("cpu")
    assert not runtime.uses_bf16(cpu, "auto", 16) and runtime.uses_bf16(cpu, "auto", 24)
    assert runtime.uses_bf16(cpu, "bf16", 16)  # asked for explicitly


def test_mask_tokens_masks_a_share_of_the_real_tokens_only():
    from pbr_cli.data.augment import mask_tokens

    cls, sep, pad, masked = 2, 3, 0, 4
    ids = torch.tensor([[cls] + [7] * 200 + [sep] + [pad] * 50] * 40)
    mask = ids != pad
    before, mask_before = ids.clone(), mask.clone()
    out = mask_tokens(ids, mask, 0.15, masked, keep=(cls, sep), generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids, before) and torch.equal(mask, mask_before)  # the inputs are not changed
    changed = out != ids
    assert torch.all(out[changed] == masked)
    assert not changed[:, 0].any() and not changed[:, 201].any() and not changed[:, 202:].any()
    share = changed[:, 1:201].float().mean().item()
    assert abs(share - 0.15) < 0.02  # 8000 tokens: the standard error is 0.004
    again = mask_tokens(ids, mask, 0.15, masked, keep=(cls, sep), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert torch.equal(mask_tokens(ids, mask, 0.0, masked, keep=(cls, sep)), ids)
