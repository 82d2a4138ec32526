"""Weights files read and written safely: safetensors or weights-only torch files, every tensor finite.

A leaf: it imports nothing from `pbr_cli.model`, so every tower and the run loader can use it.
"""

from __future__ import annotations

import hashlib
import os
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
    raise FormatError(
        f"the weights are not finite: {len(bad)} of {len(tensors)} tensor(s) hold NaN or infinite "
        f"values, e.g. '{name}' ({count} of {tensor.numel()} values {what}); the file is damaged or "
        "comes from a training that diverged",
        path,
    )


def safe_torch_load(path: str | Path) -> dict:
    """torch.load restricted to tensors and plain types: a file carrying pickled code is refused, not run.

    Every floating-point tensor in it must be finite.
    """
    import pickle

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError, EOFError, zipfile errors...
        if pickled_objects(path):
            reason = "it contains pickled code or objects, which pbr never executes"
        elif isinstance(exc, pickle.UnpicklingError) or not str(exc):
            reason = f"not a readable torch file of tensors ({exc.__class__.__name__})"
        else:
            reason = str(exc).splitlines()[0]
        raise FormatError(f"refused to load: {reason}", path) from None
    check_finite_weights(state, path)
    return state


# What torch.save writes for tensors and state dicts; any other global a pickle names is code or an object.
_TENSOR_GLOBAL_MODULES = frozenset({"torch", "torch._utils", "torch._tensor", "collections"})


def pickled_objects(path: str | Path) -> list[str]:
    """The functions and classes other than torch's tensor rebuilding that a torch file's pickle would import.

    A static read of the pickle opcodes (data.pkl of a zip checkpoint, else the file's pickles in turn): nothing
    is unpickled, and a stream that stops being a pickle ends the list.
    """
    import io
    import pickletools
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == "data.pkl"]
                stream = io.BytesIO(archive.read(names[0]) if names else b"")
        else:
            stream = io.BytesIO(Path(path).read_bytes())
    except (OSError, zipfile.BadZipFile, KeyError):
        return []
    found: list[str] = []
    strings: list[str] = []
    try:
        while stream.tell() < len(stream.getbuffer()):
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name in ("GLOBAL", "INST"):
                    module, _, name = str(arg).partition(" ")
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    module, name = strings[-2], strings[-1]
                else:
                    if isinstance(arg, str):
                        strings.append(arg)
                    continue
                if module not in _TENSOR_GLOBAL_MODULES:
                    found.append(f"{module}.{name}")
    except Exception:  # not (or no more) a pickle: what was read is what counts
        pass
    return found


def is_safetensors(path: str | Path) -> bool:
    """True when the file is named .safetensors or starts as one: an 8-byte little-endian header length, then a
    JSON object. The content decides, not the name (pbr's own teacher checkpoint is safetensors named teacher.pt);
    a torch file (a zip archive or a pickle) never starts so."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and 2 <= int.from_bytes(head[:8], "little") <= size - 8


def read_weights(path: str | Path) -> dict:
    """A flat tensor dict from a safetensors file (by name or content, see `is_safetensors`), or from a torch
    file loaded weights-only; all finite."""
    path = Path(path)
    if not path.is_file():
        raise FormatError("is a folder, not a file" if path.is_dir() else "file not found", path)
    if not is_safetensors(path):
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
    return {
        str(name).removeprefix("module."): tensor for name, tensor in state.items() if isinstance(tensor, torch.Tensor)
    }


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
