"""Devices, seeding and the few process-wide settings every command shares."""

from __future__ import annotations

import logging
import os
import random

from .errors import ConfigError


def resolve_device(name: str):
    """Map `auto|cpu|cuda` (or `cuda:N`) to a torch.device, refusing CUDA where there is none."""
    import torch

    if name == "auto":
        if "LOCAL_RANK" in os.environ and torch.cuda.is_available():
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for, but no CUDA device is available")
        if name == "cuda" and "LOCAL_RANK" in os.environ:
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def quiet_jieba() -> None:
    """jieba logs its dictionary loading to stderr at INFO; keep it silent."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
