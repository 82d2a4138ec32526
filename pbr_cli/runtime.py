"""Devices, seeding and the few process-wide settings every command shares."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import sys
from typing import Iterator

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


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX-512 BF16 or AMX); emulated bf16 is slower than fp32.

    Read once per process: training asks at every step."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


# Below this image side, auto stays in fp32 on the CPU: a CNN's last stage then sees 1x1 maps, where oneDNN's bf16
# backward of a stride-2 convolution returns NaN weight gradients at times (measured: 9 of 40 random 16-px
# test_resnet batches; none at 24 px and above).
MIN_CPU_BF16_IMAGE_SIDE = 24


def uses_bf16(device, precision: str = "auto", img_size: int | None = None) -> bool:
    """Whether `precision` (auto | bf16 | fp32) computes in bf16 on `device`; auto: CUDA, or a CPU with native
    bf16 for images of at least MIN_CPU_BF16_IMAGE_SIDE pixels."""
    if precision == "fp32":
        return False
    if precision == "bf16" or device.type == "cuda":
        return True
    if img_size is not None and img_size < MIN_CPU_BF16_IMAGE_SIDE:
        return False
    return device.type == "cpu" and cpu_has_bf16()


def autocast(device, precision: str | None = None, img_size: int | None = None):
    """The one mixed-precision policy of pbr: bf16 autocast on CUDA; on the CPU float32, unless `precision`
    (training's `train.precision`) is bf16, or auto on a CPU with native bf16 (see `uses_bf16`)."""
    import contextlib

    import torch

    if device.type == "cuda" and precision != "fp32":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and precision is not None and uses_bf16(device, precision, img_size):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Within the block, only deterministic kernels (`pbr --deterministic`): a training run twice on one machine
    with one seed and one thread count gives the same numbers to the bit. With several CPU threads some
    backward kernels otherwise add up in a different order on every run.

    Costs ~6% of a two-thread CPU training step, nothing on one thread. An operation with no deterministic
    kernel warns instead of failing. On CUDA it also fixes cuBLAS's workspace (CUBLAS_WORKSPACE_CONFIG, unless
    set) and turns cuDNN's autotuner off. Uninitialised memory is not filled (torch fills every new tensor
    with NaN under deterministic algorithms, ~10% of a CPU training step; pbr reads none of it, so the numbers
    are the same). The earlier settings come back on leaving the block; with `enabled` false it does nothing.
    """
    if not enabled:
        yield
        return
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    settings = torch.utils.deterministic
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        settings.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    settings.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.benchmark = before[2]
        settings.fill_uninitialized_memory = before[3]


def quiet_jieba() -> None:
    """jieba logs its dictionary loading to stderr at INFO; keep it silent."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)


# -- torchrun / DDP ---------------------------------------------------------------------------------


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless launched by torchrun with several processes."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_distributed(device) -> tuple[int, int]:
    """Join the process group torchrun set up (NCCL on CUDA, gloo on CPU); a single process does nothing."""
    import torch.distributed as dist

    rank, size = world()
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, size = dist.get_rank(), dist.get_world_size()
    return rank, size


def close_distributed() -> None:
    """Leave the process group, if one was joined, while the interpreter is still whole.

    A gloo process group left to interpreter shutdown can abort the process ("terminate called without an active
    exception") when its worker threads are torn down after Python; a process that has finished its part (say
    process 1 of `embed`, which returns while process 0 writes the file) then exits with SIGABRT.
    """
    if "torch.distributed" not in sys.modules:  # never imported: nothing joined, and `--help` stays free of torch
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def gather_with_grad(tensor):
    """Concatenate `tensor` from every rank along dim 0, keeping gradients to each rank's piece."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    import warnings

    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in newer torch, the only one in 2.11
        return torch.cat(all_gather(tensor), dim=0)


def average_gradients(parameters) -> None:
    """All-reduce the gradients of `parameters` (one flat buffer) and divide by the world size."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
