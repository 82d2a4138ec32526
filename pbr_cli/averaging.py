"""A moving average of the weights (`train.ema`) and the BatchNorm statistics that fit it."""

from __future__ import annotations

import contextlib
import copy
from typing import Callable, ContextManager, Iterator

import numpy as np
import torch
from torch import nn

from .data.batches import SplitTable, pad_tokens


def batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    return [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]


def copy_for_evaluation(model: nn.Module) -> nn.Module:
    """A frozen copy of `model` in eval mode (made before the model is compiled)."""
    return copy.deepcopy(model).eval().requires_grad_(False)


class WeightAverage:
    """An exponential moving average of a model's weights: the model that validation and saving use.

    The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates, so early averages do not drag the
    random initialisation along. Buffers are averaged too (integer ones, BatchNorm's batch counts, copied),
    but averaged running statistics of BatchNorm do not fit averaged weights (on the demo: val R10@1 34
    against 54 once recomputed), so `recalibrate_batchnorm` recomputes them (`train.bn_batches`).
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.model = copy_for_evaluation(model)
        self.pairs: tuple[list, list, list] | None = None  # (average, model) float tensors, other pairs

    def _pair(self, model: nn.Module) -> tuple[list, list, list]:
        """The tensors of the average and of `model`, once (state_dict values share the modules' storage, and
        optimiser steps and load_state_dict update them in place)."""
        if self.pairs is None:
            average, current, copied = [], [], []
            for mine, theirs in zip(self.model.state_dict().values(), model.state_dict().values()):
                if mine.is_floating_point():
                    average.append(mine)
                    current.append(theirs.detach())
                else:
                    copied.append((mine, theirs))
            self.pairs = (average, current, copied)
        return self.pairs

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        average, current, copied = self._pair(model)
        for mine, theirs in copied:
            mine.copy_(theirs)
        torch._foreach_lerp_(average, current, 1.0 - decay)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


@contextlib.contextmanager
def recomputing_batchnorm(model: nn.Module) -> Iterator[None]:
    """Inside: every BatchNorm layer of `model` starts its running statistics afresh and accumulates them as a
    plain mean over the batches run through it (as SWA's update_bn), the rest of the model in eval mode (dropout
    off). After: the layers' momenta restored and the model in eval mode."""
    norms = batchnorm_layers(model)
    model.eval()
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative mean over the batches
        norm.train()
    try:
        yield
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        model.eval()


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    images: np.ndarray,
    table: SplitTable,
    pad_id: int,
    device,
    batches: int,
    batch_size: int,
    precision: Callable[[], ContextManager],
    seed: int = 0,
) -> None:
    """Recompute every BatchNorm layer's running statistics from `batches` batches of `batch_size` dialogues.

    Each batch is what a training step encodes, without augmentation: the dialogues' texts and all their
    candidate stickers (uint8 library `images` at the training size). Every batch weighs the same (the
    statistics are plain means, as SWA's update_bn computes them). Dropout stays off and no random state is
    drawn from, so training continues exactly as without this. `precision()`: the autocast context to run in.
    """
    if not batches or not batchnorm_layers(model):
        return
    with recomputing_batchnorm(model):
        order = np.random.default_rng(seed).permutation(len(table))
        size = min(batch_size, len(table))
        for start in range(0, max(1, len(table) - size + 1), size)[:batches]:
            rows = order[start : start + size]
            pixels = torch.from_numpy(images[table.candidates[rows].reshape(-1)]).to(device)
            ids, mask = pad_tokens([table.token_ids[r] for r in rows], pad_id)
            with precision():
                model.encode_image(pixels)
                if len(rows) > 1:  # BatchNorm in training mode needs two values per channel
                    model.encode_text(ids.to(device), mask.to(device))
