"""Helpers shared by the test modules: the in-process CLI, its checks, and tiny model configurations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import pytest

TRAIN = ["--steps", "2", "-K", "4", "--img-size", "32"]  # the shortest training the tests run


def run_pbr(*args, runner=None, **kwargs):
    """Run the `pbr` CLI in-process (arguments are str()-ed); returns click's Result. The `invoke` fixture."""
    from click.testing import CliRunner

    from pbr_cli.cli import cli

    kwargs.setdefault("prog_name", "pbr")
    return (runner or CliRunner()).invoke(cli, [str(a) for a in args], **kwargs)


@contextlib.contextmanager
def module_cache(path: str | os.PathLike) -> Iterator[None]:
    """PBR_CACHE_DIR for a module-scoped fixture (the autouse `isolated_cache` of conftest.py is per test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PBR_CACHE_DIR", str(path))
        yield


def temp_files(folder: Path) -> list[Path]:
    """Temporary files an atomic write leaves if it is not cleaned up (`.<name>.<random>[suffix].tmp`)."""
    return sorted(folder.rglob(".*.tmp")) if folder.exists() else []


def assert_refused(result, *needles: str, not_written: tuple[Path, ...] = (), folder: Path | None = None) -> str:
    """Non-zero exit, no traceback, exactly one `Error:` line (the last line) holding every needle, nothing written."""
    output = result.output
    assert result.exit_code != 0, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], output
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    for path in not_written:
        assert not path.exists(), f"{path} was written"
    if folder is not None:
        assert temp_files(folder) == [], temp_files(folder)
    return errors[0]


def tiny_model_config(img: str, txt: str, vocab_size: int = 200):
    """A ModelConfig smaller still than `tiny`, with image tower `img` and text tower `txt`."""
    from pbr_cli.model.config import load_run_config, tiny_image_kwargs

    config = load_run_config("tiny").model
    config.img, config.txt = img, txt
    config.img_kwargs = tiny_image_kwargs(img)
    config.img_size = 80 if img == "inception" else 32
    config.vocab_size = vocab_size
    config.hidden, config.heads, config.intermediate, config.word_dim = 32, 2, 64, 16
    config.txt_layers = config.fusion_layers = 1
    if img == "vit":
        config.img_kwargs.update(embed_dim=32, depth=1, num_heads=2)
    return config


def random_batch(config, k=2, n=3, length=7):
    """A training Batch of random images and token ids for `config` (k dialogues of n candidates)."""
    import torch

    from pbr_cli.losses.objective import Batch

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (k * n, 3, config.img_size, config.img_size), generator=generator).float()
    ids = torch.randint(5, config.vocab_size, (k, length), generator=generator)
    ids[:, 0] = 2
    mask = torch.ones(k, length, dtype=torch.bool)
    mask[1, -2:] = False
    return Batch(
        images=images,
        input_ids=ids,
        mask=mask,
        label=torch.tensor([0, 2]),
        candidate_ids=torch.arange(k * n).view(k, n),
    )
