"""Self-describing checkpoints: config.json + tokenizer.json + safetensors weights; loading runs no code."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import torch

from ..errors import ConfigError, FormatError
from ..io import atomic_path, write_text_atomic
from .config import RunConfig, run_config_from_dict

WEIGHTS = {"best": "best.safetensors", "last": "last.safetensors"}


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


def save_run_files(run_dir: Path, config: RunConfig, tokenizer) -> None:
    """The resolved config and the tokenizer, written once per run."""
    from ..strict_json import dumps

    config_file, tokenizer_file = run_dir / "config.json", run_dir / "tokenizer.json"
    write_text_atomic(config_file, dumps(config.to_dict(), "the run configuration", config_file, indent=2) + "\n")
    write_text_atomic(tokenizer_file, dumps(tokenizer.to_dict(), "the tokenizer", tokenizer_file))


def resolve_run(path: str | Path | None, base: str | Path = "runs") -> Path:
    """A run folder: the given one, or the most recently modified run under `base`."""
    if path is not None:
        run = Path(path)
        if run.is_file() and run.suffix == ".safetensors":
            run = run.parent
        if not (run / "config.json").is_file():
            raise FormatError("not a pbr run folder (no config.json)", run)
        return run
    base = Path(base)
    runs = [p for p in base.glob("*") if (p / "config.json").is_file() and any((p / w).is_file() for w in WEIGHTS.values())]
    if not runs:
        raise FormatError("no trained run found here; train one with `pbr train`, or name the run folder "
                          "(`pbr evaluate RUN`, `pbr rank ... --model RUN`)", base.resolve())
    return max(runs, key=lambda p: os.path.getmtime(p / "config.json"))


def run_tokenizer(run_dir: Path, config: RunConfig):
    """The run's tokenizer.json, which must have the vocabulary size its config.json gives."""
    from ..data.tokenize import load_tokenizer

    tokenizer = load_tokenizer(run_dir / "tokenizer.json")
    if config.model.vocab_size != len(tokenizer):
        raise ConfigError(f"model.vocab_size: is {config.model.vocab_size}, but tokenizer.json has {len(tokenizer)} "
                          "tokens", run_dir / "config.json")
    return tokenizer


def weights_file(run_dir: Path, which: str = "best", notice: bool = False) -> Path:
    """The run's weights file: best (falling back to last, with a notice if asked, when it saved no best) or last."""
    path = run_dir / WEIGHTS[which]
    if not path.is_file() and which == "best" and (run_dir / WEIGHTS["last"]).is_file():
        if notice:
            from .. import console

            console.notice(f"{run_dir} has no {WEIGHTS['best']} (no validation yet); using {WEIGHTS['last']}")
        path = run_dir / WEIGHTS["last"]
    if not path.is_file():
        raise FormatError("run has no weights (best.safetensors / last.safetensors)", run_dir)
    return path


def load_run(run: str | Path | None, which: str = "best", device="cpu"):
    """(model, run_config, tokenizer, model_hash) from a run folder; weights must be finite and fit config.json."""
    from .pbr import PBRModel

    run_dir = resolve_run(run)
    weights_path = weights_file(run_dir, which, notice=True)
    config_file = run_dir / "config.json"
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except ValueError:
        raise FormatError("config.json is not valid JSON", config_file) from None
    except OSError as exc:
        raise FormatError(f"cannot read config.json ({exc.strerror or exc.__class__.__name__})", config_file) from None
    config = run_config_from_dict(data, config_file)
    tokenizer = run_tokenizer(run_dir, config)
    try:
        model = PBRModel(config.model)
    except ConfigError as exc:
        raise ConfigError(str(exc), config_file) from None
    state = read_weights(weights_path)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise FormatError(f"weights do not match the run's configuration ({what}); "
                          "the checkpoint comes from another configuration", weights_path)
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise FormatError(f"weights do not match the run's configuration ({key} has shape {tuple(value.shape)}, "
                              f"expected {tuple(own[key].shape)}); the checkpoint comes from another configuration",
                              weights_path)
    model.load_state_dict(state)
    model.to(device).eval()
    return model, config, tokenizer, file_hash(weights_path)
