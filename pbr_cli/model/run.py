"""Run folders of trained models: find one, write its config.json and tokenizer.json, rebuild its model.

The one module that builds `PBRModel` (open_clip's factory direction: it imports the model, never the reverse);
a run's weights load without executing code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ConfigError, FormatError
from ..io import write_text_atomic
from .config import ModelConfig, RunConfig, run_config_from_dict

WEIGHTS = {"best": "best.safetensors", "last": "last.safetensors"}


def create_model(config: ModelConfig):
    """A new PBRModel of `config`, randomly initialised (`load_pretrained` adds the weights a user named)."""
    from .pbr import PBRModel

    return PBRModel(config)


def save_run_files(run_dir: Path, config: RunConfig, tokenizer) -> None:
    """The resolved config and the tokenizer, written once per run."""
    from ..strict_json import dumps

    config_file, tokenizer_file = run_dir / "config.json", run_dir / "tokenizer.json"
    write_text_atomic(config_file, dumps(config.to_dict(), "the run configuration", config_file, indent=2) + "\n")
    write_text_atomic(tokenizer_file, dumps(tokenizer.to_dict(), "the tokenizer", tokenizer_file))


def resolve_run(path: str | Path | None, base: str | Path = "runs") -> Path:
    """A run folder: the given one, or the most recently modified run under `base`.

    Hidden folders are skipped: the staging folder (`.NAME.*.partial`) of a run being created, or of one killed
    before it was published, is not a run.
    """
    if path is not None:
        run = Path(path)
        if run.is_file() and run.suffix == ".safetensors":
            run = run.parent
        if not (run / "config.json").is_file():
            raise FormatError("not a pbr run folder (no config.json)", run)
        return run
    base = Path(base)
    runs = [
        p
        for p in base.glob("*")
        if not p.name.startswith(".")
        and (p / "config.json").is_file()
        and any((p / w).is_file() for w in WEIGHTS.values())
    ]
    if not runs:
        raise FormatError(
            "no trained run found here; train one with `pbr train`, or name the run folder "
            "(`pbr evaluate RUN`, `pbr rank ... --model RUN`)",
            base.resolve(),
        )
    return max(runs, key=lambda p: os.path.getmtime(p / "config.json"))


def run_tokenizer(run_dir: Path, config: RunConfig):
    """The run's tokenizer.json, which must have the vocabulary size its config.json gives."""
    from ..data.tokenize import load_tokenizer

    tokenizer = load_tokenizer(run_dir / "tokenizer.json")
    if config.model.vocab_size != len(tokenizer):
        raise ConfigError(
            f"model.vocab_size: is {config.model.vocab_size}, but tokenizer.json has {len(tokenizer)} tokens",
            run_dir / "config.json",
        )
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
    from .weights import file_hash, read_weights  # torch: not needed to find a run, as the output guards do

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
        model = create_model(config.model)
    except ConfigError as exc:
        raise ConfigError(str(exc), config_file) from None
    state = read_weights(weights_path)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise FormatError(
            f"weights do not match the run's configuration ({what}); the checkpoint comes from another configuration",
            weights_path,
        )
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise FormatError(
                f"weights do not match the run's configuration ({key} has shape {tuple(value.shape)}, "
                f"expected {tuple(own[key].shape)}); the checkpoint comes from another configuration",
                weights_path,
            )
    model.load_state_dict(state)
    model.to(device).eval()
    return model, config, tokenizer, file_hash(weights_path)
