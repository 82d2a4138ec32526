"""Weights files read and written safely: safetensors or weights-only torch files, every tensor finite.

A leaf: it imports nothing from `pbr_cli.model`, so every tower and the run loader can use it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

import torch

from ..errors import FormatError
from ..io import atomic_path


def _float_tensors(value: Any, name: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """(dotted name, tensor) of every floating-point tensor in nested dicts, lists and tuples."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _float_tensors(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _float_tensors(item, f"{name}.{index}" if name else str(index))


def check_finite_weights(state: Any, path: str | Path) -> None:
    """FormatError naming the file and its first tensor holding NaN or an infinite value (nested state too)."""
    tensors = list(_float_tensors(state))
    bad = [(name, tensor) for name, tensor in tensors if not bool(torch.isfinite(tensor).all())]
    if not bad:
        return
    name, tensor = bad[0]
    count = int((~torch.isfinite(tensor)).sum())
    what = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
    raise FormatError(f"the weights are not finite: {len(bad)} of {len(tensors)} tensor(s) hold NaN or infinite values, "
                      f"e.g. '{name}' ({count} of {tensor.numel()} values {what}); the file is damaged or comes from "
                      "a training that diverged", path)


def safe_torch_load(path: str | Path) -> dict:
    """torch.load restricted to tensors and plain types: a file carrying pickled code is refused, not run.

    Every floating-point tensor in it must be finite.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError, EOFError, zipfile errors...
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            reason = "it contains pickled code or objects, which pbr never executes"
        raise FormatError(f"refused to load: {reason}", path) from None
    check_finite_weights(state, path)
    return state


def read_weights(path: str | Path) -> dict:
    """A flat tensor dict from a .safetensors file, or from a torch file loaded weights-only; all finite."""
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    if path.suffix != ".safetensors":
        return safe_torch_load(path)
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:
        raise FormatError(f"not a readable safetensors file ({str(exc).splitlines()[0]})", path) from None
    check_finite_weights(state, path)
    return state


def read_state_dict(path: str | Path) -> dict:
    """The tensor dict inside a weights file: unwrapped from "state_dict" / "model" / "module" and a DDP
    "module." prefix (timm, ImageNet and ALBEF checkpoints)."""
    state = read_weights(path)
    for key in ("state_dict", "model", "module"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise FormatError("expected a checkpoint holding a dict of tensors", path)
    return {str(name).removeprefix("module."): tensor for name, tensor in state.items()
            if isinstance(tensor, torch.Tensor)}


def file_hash(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def save_weights(path: str | Path, model: torch.nn.Module, metadata: dict | None = None) -> str:
    """Write the model's weights as safetensors (atomically); return the file's content hash."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata={k: str(v) for k, v in (metadata or {}).items()})
    return file_hash(path)
