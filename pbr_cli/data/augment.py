"""Batched augmentation on tensors (CPU or GPU): random resized crop, flip, colour jitter; token masking."""

from __future__ import annotations

import math

import torch


def random_resized_crop(
    images: torch.Tensor,
    size: int,
    scale=(0.5, 1.0),
    ratio=(3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
    flip: float = 0.0,
) -> torch.Tensor:
    """(N, 3, H, W) pixels -> (N, 3, size, size) float crops, one random box per image, resized bilinearly.

    With `flip` > 0 each crop is also mirrored with that probability. Crop, resize and flip are one affine
    resampling (`grid_sample`), a tenth of the time a box-pooling crop takes on the CPU.
    """
    n, _, height, width = images.shape
    device = images.device
    area = torch.empty(n, device=device).uniform_(scale[0], scale[1], generator=generator) * height * width
    log_ratio = torch.empty(n, device=device).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = log_ratio.exp()
    crop_w = (area * aspect).sqrt().clamp(max=width)
    crop_h = (area / aspect).sqrt().clamp(max=height)
    x0 = torch.rand(n, device=device, generator=generator) * (width - crop_w)
    y0 = torch.rand(n, device=device, generator=generator) * (height - crop_h)
    mirror = torch.ones(n, device=device)
    if flip:
        mirror = torch.where(torch.rand(n, device=device, generator=generator) < flip, -1.0, 1.0)
    return crop_boxes(images, torch.stack([x0, y0, crop_w, crop_h], 1), size, mirror)


def crop_boxes(
    images: torch.Tensor, boxes: torch.Tensor, size: int, mirror: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, 3, H, W) pixels, (N, 4) boxes (x0, y0, width, height) in pixels -> (N, 3, size, size) bilinear crops,
    mirrored where `mirror` is -1."""
    import torch.nn.functional as F

    n, _, height, width = images.shape
    x0, y0, crop_w, crop_h = boxes.float().unbind(1)
    if mirror is None:
        mirror = torch.ones(n, device=images.device)
    # output coordinates u in [-1, 1] map to input x = centre + half-width * u (normalised, align_corners=False)
    theta = torch.zeros(n, 2, 3, device=images.device)
    theta[:, 0, 0] = crop_w / width * mirror
    theta[:, 0, 2] = (2 * x0 + crop_w) / width - 1
    theta[:, 1, 1] = crop_h / height
    theta[:, 1, 2] = (2 * y0 + crop_h) / height - 1
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    return F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)


def color_jitter(images: torch.Tensor, strength: float = 0.4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness, contrast and saturation per image on 0..255 floats."""
    n = len(images)
    device = images.device

    def factor():
        return 1 + (torch.rand(n, 1, 1, 1, device=device, generator=generator) * 2 - 1) * strength

    x = images.float() * factor()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor() + mean
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * factor() + gray
    return x.clamp(0, 255)


def random_hue(images: torch.Tensor, strength: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each image's hue by a random angle in ±`strength`·180° (a rotation of the YIQ chroma plane)."""
    n = len(images)
    device = images.device
    angle = (torch.rand(n, device=device, generator=generator) * 2 - 1) * (math.pi * strength)
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=device)
    rotation = torch.zeros(n, 3, 3, device=device)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1] = rotation[:, 2, 2] = angle.cos()
    rotation[:, 1, 2] = -angle.sin()
    rotation[:, 2, 1] = angle.sin()
    matrix = torch.linalg.inv(to_yiq) @ rotation @ to_yiq  # (n, 3, 3) in RGB
    return torch.einsum("nij,njhw->nihw", matrix, images.float()).clamp(0, 255)


def train_view(
    images: torch.Tensor,
    size: int,
    generator: torch.Generator | None = None,
    jitter: bool = False,
    scale: float = 0.5,
    hue: float = 0.0,
) -> torch.Tensor:
    """The paper's training view: random crop (at least `scale` of the area) resized to `size`, flip, and
    optionally colour jitter (TSCL) and a random hue rotation of up to ±`hue`·180° (the teacher: a
    sticker's emotion does not depend on its character's colours)."""
    x = random_resized_crop(images, size, scale=(scale, 1.0), generator=generator, flip=0.5)
    if jitter:
        x = color_jitter(x, generator=generator)
    return random_hue(x, hue, generator=generator) if hue else x


def mask_tokens(
    ids: torch.Tensor,
    mask: torch.Tensor,
    share: float,
    mask_id: int,
    keep: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(B, T) token ids with each real token (mask true, id not in `keep`) replaced by `mask_id` with
    probability `share`, drawn independently on the ids' device; the input is not changed."""
    real = mask.bool()
    for token in keep:
        real = real & (ids != token)  # not in place: `mask` may be this very tensor
    hit = torch.rand(ids.shape, device=ids.device, generator=generator) < share
    return torch.where(real & hit, torch.full_like(ids, mask_id), ids)
