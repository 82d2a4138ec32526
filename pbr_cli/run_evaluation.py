"""The run-level evaluation driver: a run scored on a split (or any system's scores file), its metrics, and the
scores file of DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import console
from .errors import ConfigError, DataError, FormatError
from .features import write_h5
from .metrics import NonFiniteScores, rank_metrics


def run_info(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise FormatError("run.json is not valid JSON", path) from None
    if not isinstance(info, dict):
        raise FormatError("run.json is not a JSON object", path)
    return info


def run_dataset(run_dir: Path, data: str | None) -> str | None:
    """The dataset a run is evaluated on: `data`, else the one it was trained on (run.json; None: the demo's)."""
    return data or run_info(run_dir).get("data")


def evaluate_run(
    run: str | None,
    data: str | None,
    split: str,
    score: str,
    which: str,
    settings,
    scores_out: str | None = None,
    batch_size: int = 32,
    plots_dir: str | None = None,
    sentiment_file: str | None = None,
    teacher_features: str | None = None,
) -> dict | None:
    """Score every candidate of `split` with the run's model and return the metrics (fractions).

    With `plots_dir`, also draw Fig. 5, 1b and 4 there (dialogue polarity from `sentiment_file` or scored
    here; sticker polarity from emotion labels or `teacher_features`); the result lists them under "plots".
    Under torchrun only process 0 gets the result (the others get None).
    """
    from .data.batches import build_table, split_source
    from .data.cache import sticker_image_cache
    from .datasets import load_dataset
    from .model.run import load_run, resolve_run, weights_file

    run_dir = resolve_run(run)
    if scores_out:
        from .io import check_output_path

        check_output_path(scores_out)
    if plots_dir:
        from .report.evaluate_plots import check_plots_request

        check_plots_request(plots_dir)
    device = settings.torch_device()
    model, config, tokenizer, model_hash = load_run(run_dir, which, device)
    if score == "itm" and model.fusion is None:
        raise ConfigError(f"{run_dir} was trained with --loss itc and has no ITM head; use --score itc")
    data = run_dataset(run_dir, data)
    dataset = load_dataset(data, splits=(split,))  # only the split scored is read
    dialogues = dataset.split(split)
    index = {sticker_id: i for i, sticker_id in enumerate(dataset.stickers)}
    table = build_table(dialogues, index, tokenizer, config.model.max_len, split_source(dataset, split))
    plots = None
    if plots_dir:
        from .report.evaluate_plots import EvaluationPlots

        plots = EvaluationPlots.prepare(plots_dir, dataset, split, table, sentiment_file, teacher_features)
    stickers = list(dataset.stickers.values())
    with console.progress(total=len(stickers), desc="decoding stickers", unit="img") as bar:
        images = sticker_image_cache(stickers, config.model.img_size, progress=bar.update)
    scores = score_sharded(model, tokenizer, table, images, device, score, batch_size, split)
    if scores is None:
        return None  # under torchrun, process 0 merges the shards and reports
    try:
        metrics = rank_metrics(scores, table.label)
    except NonFiniteScores as exc:
        raise exc.of_model(score, f"{split} dialogues", weights_file(run_dir, which)) from None
    if scores_out:
        candidate_ids = np.array([d.candidates for d in dialogues], dtype=object)
        write_h5(
            scores_out,
            "scores",
            {"ids": table.ids, "scores": scores, "label": table.label, "candidate_ids": candidate_ids},
            {"model_hash": model_hash, "split": split, "score": score, "run": str(run_dir)},
        )
    result = {"run": str(run_dir), "split": split, "score": score, **metrics}
    if plots is not None:
        result["plots"] = plots.write(model, device, images, table, scores, settings.seed)
    return result


def score_sharded(model, tokenizer, table, images, device, score: str, batch_size: int, split: str):
    """(D, n) scores; under torchrun each process scores every world-th dialogue and process 0 merges them
    (other processes get None)."""
    from .runtime import init_distributed
    from .scoring import score_table

    rank, world_size = init_distributed(device)
    rows = np.arange(len(table))[rank::world_size]
    shard = table.subset(rows) if world_size > 1 else table
    with console.progress(total=len(shard), desc=f"scoring {split}", unit="dlg", disable=True if rank else None) as bar:
        scores = score_table(model, tokenizer, shard, images, device, score, batch_size, bar.update)
    if world_size == 1:
        return scores
    import torch.distributed as dist

    pieces = [None] * world_size
    dist.all_gather_object(pieces, (rows, scores))
    if rank != 0:
        return None
    merged = np.empty(table.candidates.shape, dtype=np.float32)
    for piece_rows, piece_scores in pieces:
        merged[piece_rows] = piece_scores
    return merged


def evaluate_scores_file(path: str, data: str | None = None, split: str = "test") -> dict:
    """Metrics of any system's scores file (pbr or plain HDF5, or JSON lines; see `scores.read_scores`).

    With `data`, each row is matched to that dataset's dialogue of the split (candidate order and truth).
    """
    from .datasets import load_dataset
    from .scores import align_to_split, read_scores

    table = read_scores(path)
    if data is not None:
        table = align_to_split(table, load_dataset(data, splits=(split,)), split)
    elif table.label is None:
        raise DataError(
            "the scores carry no 'label': give the dataset they score with --data DATASET (and --split)", path
        )
    if not table.provenance:
        console.notice(
            f"{path} has no pbr provenance (no kind, schema version or command line); evaluating its scores as they are"
        )
    result = {"scores": str(path), **rank_metrics(table.scores, table.label)}
    if data is not None:
        result["split"] = split
    return result
