"""Batched image augmentation on tensors (CPU or GPU): random resized crop, flip, colour jitter."""

from __future__ import annotations

import math

import torch


def random_resized_crop(images: torch.Tensor, size: int, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3),
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 3, H, W) pixels -> (N, 3, size, size) float crops, one random box per image, resized bilinearly."""
    from torchvision.ops import roi_align

    n, _, height, width = images.shape
    device = images.device
    area = torch.empty(n, device=device).uniform_(scale[0], scale[1], generator=generator) * height * width
    log_ratio = torch.empty(n, device=device).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = log_ratio.exp()
    crop_w = (area * aspect).sqrt().clamp(max=width)
    crop_h = (area / aspect).sqrt().clamp(max=height)
    x0 = torch.rand(n, device=device, generator=generator) * (width - crop_w)
    y0 = torch.rand(n, device=device, generator=generator) * (height - crop_h)
    boxes = torch.stack([torch.arange(n, device=device, dtype=torch.float32), x0, y0, x0 + crop_w, y0 + crop_h], 1)
    return roi_align(images.float(), boxes, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def random_flip(images: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    flip = torch.rand(len(images), device=images.device, generator=generator) < p
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


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


def train_view(images: torch.Tensor, size: int, generator: torch.Generator | None = None,
               jitter: bool = False, scale: float = 0.5) -> torch.Tensor:
    """The paper's training view: random crop (at least `scale` of the area) resized to `size`, flip, and
    optionally colour jitter (TSCL)."""
    x = random_flip(random_resized_crop(images, size, scale=(scale, 1.0), generator=generator), generator=generator)
    return color_jitter(x, generator=generator) if jitter else x
