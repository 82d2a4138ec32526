"""The training loop: data on the device, the objective, AdamW + cosine schedule, validation on val MAP, checkpoints."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .averaging import WeightAverage, batchnorm_layers, copy_for_evaluation, recalibrate_batchnorm
from .data.batches import SplitTable, build_table, pad_tokens, split_source
from .data.types import StickerDataset
from .errors import ConfigError, NonFiniteLoss, TrainingError, TrainingInterrupted
from .losses.objective import Batch, Objective
from .metrics import NonFiniteScores, rank_metrics
from .model.config import RunConfig
from .model.weights import save_weights
from .strict_json import dumps


@dataclass
class TrainData:
    """Everything the loop reads: the decoded library, the tokenised splits and the library order."""

    sticker_ids: list[str]
    images: np.ndarray  # (S, 3, R, R) uint8
    train: SplitTable
    val: SplitTable | None
    # arrays of the PBR components, None when their component is off
    ekd_target: np.ndarray | None = None  # (S, D) EKD target of each library sticker
    sticker_polarity: np.ndarray | None = None  # (S, 2) teacher [P^I, N^I] of each library sticker
    dialogue_polarity: np.ndarray | None = None  # (D_train, 2) [pos, neg] of each training dialogue


def prepare_data(dataset: StickerDataset, tokenizer, config: RunConfig, images: np.ndarray) -> TrainData:
    sticker_ids = list(dataset.stickers)
    index = {sticker_id: i for i, sticker_id in enumerate(sticker_ids)}
    max_len = config.model.max_len
    train = build_table(dataset.split("train"), index, tokenizer, max_len, split_source(dataset, "train"))
    val = None
    if "val" in dataset.splits and dataset.splits["val"]:
        dialogues = dataset.splits["val"]
        if config.train.val_limit:
            dialogues = dialogues[: config.train.val_limit]
        val = build_table(dialogues, index, tokenizer, max_len, split_source(dataset, "val"))
    return TrainData(sticker_ids, images, train, val)


def compile_model(model: torch.nn.Module, mode: str, device) -> bool:
    """torch.compile the towers and the fusion encoder in place (parameter names unchanged); auto = on CUDA.

    PBR_COMPILE_BACKEND chooses the backend (default inductor; `eager` checks the code path quickly).
    """
    import os

    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return False
    backend = os.environ.get("PBR_COMPILE_BACKEND", "inductor")
    model.image.compile(backend=backend)  # fixed image size: static shapes
    model.text.compile(backend=backend, dynamic=True)  # text length varies from batch to batch
    if model.fusion is not None:
        model.fusion.compile(backend=backend, dynamic=True)
    return True


def total_steps(config: RunConfig, n_train: int) -> int:
    t = config.train
    return t.steps if t.steps > 0 else max(1, math.ceil(t.epochs * n_train / t.batch_size))


def cosine_lr(step: int, total: int, lr: float, min_lr: float, warmup: int) -> float:
    if warmup and step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, config: RunConfig, device) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or name == "temp" else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.train.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel for the whole update (on 2 CPU cores ~1.5 ms against ~9 ms for `tiny`'s 144 tensors)
    return torch.optim.AdamW(groups, lr=config.train.lr, fused=device.type in ("cpu", "cuda"))


class Trainer:
    """Runs `total_steps` optimiser steps, validating every `val_every` and keeping the best val-MAP weights."""

    def __init__(
        self,
        model,
        config: RunConfig,
        data: TrainData,
        tokenizer,
        run_dir: Path,
        device,
        seed: int = 0,
        objective: Objective | None = None,
        log: Callable[[dict], None] | None = None,
    ):
        self.model, self.config, self.data, self.tokenizer = model, config, data, tokenizer
        self.run_dir, self.device, self.seed = run_dir, device, seed
        from .runtime import world

        self.rank, self.world_size = world()
        # augmentation draws for the whole global batch with one seed on every rank (so each rank's slice is
        # what one process would draw); negative sampling draws per rank
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.sampling_generator = torch.Generator(device=device).manual_seed(seed + 7919 * (self.rank + 1))
        self.objective = objective or Objective(config.train.loss)
        self.objective.generator = self.sampling_generator
        self.log = log or (lambda record: None)
        self.optimizer = make_optimizer(model, config, device)
        # copied before compiling: the average is only ever evaluated
        self.average = WeightAverage(model, config.train.ema) if config.train.ema else None
        # with train.bn_batches, the model validated and saved is a copy whose BatchNorm statistics are recomputed
        # (the model's own running statistics take part in training: its ITM pairs read them)
        recalibrated = config.train.bn_batches and batchnorm_layers(model)
        self.snapshot = copy_for_evaluation(model) if recalibrated and self.average is None else None
        self.recalibrated = bool(recalibrated)
        self.updates = 0  # optimiser steps taken in this process
        self.calibrated = -1  # `updates` when the evaluated copy was last brought up to date
        self.compiled = compile_model(model, config.train.compile, device)
        self.steps = total_steps(config, len(data.train))
        self.best_map = -1.0
        self.start_step = 0
        self.saved_step = 0
        self.after_save: Callable[[], None] = lambda: None  # e.g. move a new run folder into place
        # per-sticker and per-dialogue arrays of the PBR components, on the device once
        self.ekd_target, self.sticker_polarity, self.dialogue_polarity = (
            None if array is None else torch.as_tensor(np.asarray(array), dtype=torch.float32, device=device)
            for array in (data.ekd_target, data.sticker_polarity, data.dialogue_polarity)
        )

    # -- data --------------------------------------------------------------------------------------
    def batch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.data.train))

    def make_batch(self, rows: np.ndarray) -> Batch:
        """The step's batch on the device: `rows` is the global batch; this rank keeps its contiguous share."""
        from .data.augment import mask_tokens, train_view

        table = self.data.train
        k_global, n = len(rows), table.candidates.shape[1]
        share = slice(self.rank * k_global // self.world_size, (self.rank + 1) * k_global // self.world_size)
        pixels = torch.from_numpy(self.data.images[table.candidates[rows].reshape(-1)]).to(self.device)
        size = self.config.model.img_size
        crop_scale = self.config.train.crop_scale
        images = train_view(pixels, size, generator=self.generator, scale=crop_scale)
        images = images.view(k_global, n, 3, size, size)[share]
        local = rows[share]
        flat = table.candidates[local].reshape(-1)  # (K*n,) library indices
        ids, mask = pad_tokens([table.token_ids[r] for r in local], self.tokenizer.pad_id)
        ids, mask = ids.to(self.device), mask.to(self.device)
        if self.config.train.text_mask:
            tokenizer = self.tokenizer
            mask_id = tokenizer.index.get("[MASK]", tokenizer.unk_id)
            keep = (tokenizer.cls_id, tokenizer.sep_id)
            ids = mask_tokens(ids, mask, self.config.train.text_mask, mask_id, keep, self.generator)
        candidates = torch.from_numpy(flat).to(self.device)
        view2 = None
        if self.objective.intra_weight or self.objective.inter_weight:
            view2 = train_view(pixels, size, generator=self.generator, jitter=True, scale=crop_scale)
            view2 = view2.view(k_global, n, 3, size, size)[share].flatten(0, 1)
        return Batch(
            images=images.flatten(0, 1),
            input_ids=ids,
            mask=mask,
            label=torch.from_numpy(table.label[local]).to(self.device),
            candidate_ids=torch.from_numpy(table.candidates[local]).to(self.device),
            ekd_target=None if self.ekd_target is None else self.ekd_target[candidates],
            view2=view2,
            dialogue_polarity=None
            if self.dialogue_polarity is None
            else self.dialogue_polarity[torch.from_numpy(local).to(self.device)],
            sticker_polarity=None if self.sticker_polarity is None else self.sticker_polarity[candidates],
        )

    def step(self, rows: np.ndarray, lr: float, check: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One optimiser step on the global batch `rows`; returns the loss and its terms (still on the device).

        `check` > 0 checks every term is finite (a host synchronisation, so only on the CPU) naming that step.
        """
        from .runtime import average_gradients

        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self.make_batch(rows)
        with self._autocast():
            terms = self.objective(self.model, batch)
            loss = self.objective.total(terms)
        if check:
            check_finite(check, terms, 1, self.saved_step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.model.parameters())
        if self.config.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)
        self.optimizer.step()
        self.updates += 1
        if self.average is not None:
            self.average.update(self.model)
        return loss, terms

    def evaluation_model(self) -> torch.nn.Module:
        """The weights validated and saved: the model itself or (train.ema) its moving average; with
        train.bn_batches, a copy whose BatchNorm statistics are recomputed on that many training batches
        without augmentation (once per step)."""
        if not self.recalibrated:
            return self.model if self.average is None else self.average.model
        evaluated = self.snapshot if self.average is None else self.average.model
        if self.calibrated != self.updates:
            if self.average is None:
                evaluated.load_state_dict(self.model.state_dict())
            train = self.config.train
            recalibrate_batchnorm(
                evaluated,
                self.data.images,
                self.data.train,
                self.tokenizer.pad_id,
                self.device,
                train.bn_batches,
                train.batch_size,
                self._autocast,
                self.seed,
            )
            self.calibrated = self.updates
        return evaluated

    # -- loop --------------------------------------------------------------------------------------
    def check_batch(self) -> None:
        """ConfigError when the batch size does not fit the training split or the number of processes."""
        k, n_train = self.config.train.batch_size, len(self.data.train)
        if n_train < k:
            raise ConfigError(f"batch size {k} is larger than the training split ({n_train} dialogues)")
        if k % self.world_size:
            raise ConfigError(f"batch size {k} must be divisible by the number of processes ({self.world_size})")
        if self.config.model.embed_norm == "batch" and k // self.world_size < 2:
            raise ConfigError(
                f"batch size {k} gives each of the {self.world_size} processes {k // self.world_size} dialogue(s) per "
                "step; model.embed_norm batch (BatchNorm over a process's dialogues) needs at least 2"
            )

    def run(self, progress: Callable[[int, dict], None] | None = None) -> dict:
        """Train from `self.start_step` to `self.steps`; checkpoints every `save_every` steps for --resume."""
        config = self.config.train
        k = config.batch_size
        n_train = len(self.data.train)
        self.check_batch()
        if self.start_step >= self.steps:  # a finished run resumed: nothing to train, nothing to save again
            best = self.best_map if self.best_map >= 0 else None
            return {
                "steps": self.steps,
                "seconds": 0.0,
                "best_val_map": best,
                "last_val": {},
                "resumed_from": self.steps,
            }
        per_epoch = n_train // k
        save_every = config.save_every or config.val_every
        check_every_step = self.device.type == "cpu"  # on a GPU, finiteness is checked at log steps only
        self.model.train()
        start = time.perf_counter()
        window_start, window_steps = start, 0
        running: dict[str, torch.Tensor] = {}
        last_val: dict = {}
        with StopSignals() as signals:
            for step in range(self.start_step, self.steps):
                epoch, position = divmod(step, per_epoch)
                rows = self.batch_order(epoch)[position * k : (position + 1) * k]
                lr = cosine_lr(step, self.steps, config.lr, config.min_lr, config.warmup_steps)
                loss, terms = self.step(rows, lr, check=step + 1 if check_every_step else 0)
                for name, value in {"loss": loss, **terms}.items():
                    running[name] = running.get(name, 0.0) + value.detach()
                window_steps += 1
                done = step + 1
                if done % config.log_every == 0 or done == self.steps:
                    running = self.mean_over_ranks(running)
                    check_finite(
                        done,
                        {name: total for name, total in running.items() if name != "loss"},
                        window_steps,
                        self.saved_step,
                    )
                    now = time.perf_counter()
                    record = {"step": done, "epoch": round(step * k / n_train, 3), "lr": lr}
                    record.update({name: round(float(total) / window_steps, 5) for name, total in running.items()})
                    record["dialogues_per_s"] = round(window_steps * k / max(now - window_start, 1e-9), 2)
                    self.log(record)
                    running, window_start, window_steps = {}, now, 0
                    if progress:
                        progress(done, record)
                validation_due = done % config.val_every == 0 or done == self.steps
                if self.rank == 0 and self.data.val is not None and validation_due:
                    last_val = self.validate(done)
                if self.rank == 0 and done % save_every == 0 and done < self.steps:
                    self.save_state(done)
                if signals.received and done < self.steps:
                    if self.rank == 0:
                        self.save_state(done)
                    raise TrainingInterrupted(done, self.run_dir, signals.received)
        if self.rank == 0:
            if self.data.val is None:
                save_weights(self.run_dir / "best.safetensors", self.evaluation_model())
            self.save_state(self.steps)
        return {
            "steps": self.steps,
            "seconds": round(time.perf_counter() - start, 2),
            "best_val_map": self.best_map if self.best_map >= 0 else None,
            "last_val": last_val,
            "resumed_from": self.start_step or None,
        }

    def mean_over_ranks(self, running: dict) -> dict:
        """The logged loss sums averaged over the torchrun processes (unchanged in one process)."""
        if self.world_size == 1:
            return running
        import torch.distributed as dist

        names = list(running)
        values = torch.stack(
            [torch.as_tensor(running[name], dtype=torch.float32, device=self.device) for name in names]
        )
        dist.all_reduce(values)
        return dict(zip(names, values / self.world_size))

    # -- resumable state ---------------------------------------------------------------------------
    def save_state(self, step: int) -> None:
        """train_state.pt (weights, optimizer, step, best val MAP, every random state) and last.safetensors.

        Resuming reads train_state.pt alone, so a kill between the two writes cannot mix steps.
        """
        import random

        model = self.evaluation_model()  # before the state: the average's BatchNorm statistics may be recomputed
        numpy_state = np.random.get_state()
        state = {
            "step": step,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "best_map": self.best_map,
            "optimizer": self.optimizer.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
            "generator": self.generator.get_state(),
            "sampling_generator": self.sampling_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python_rng": random.getstate(),
            "numpy_rng": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        }
        from .io import atomic_path

        with atomic_path(self.run_dir / "train_state.pt", suffix=".pt") as tmp:
            torch.save(state, tmp)
        save_weights(self.run_dir / "last.safetensors", model)
        self.saved_step = step
        self.after_save()

    def load_state(self) -> None:
        """Continue from the run's last checkpoint: weights, optimizer, step, data position, random states."""
        import random

        from .errors import FormatError
        from .model.weights import safe_torch_load

        path = self.run_dir / "train_state.pt"
        if not path.is_file():
            raise FormatError("no train_state.pt to resume from (the run saved no checkpoint yet)", self.run_dir)
        state = safe_torch_load(path)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.average is not None:
                self.average.load_state_dict(state["average"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise FormatError(
                f"the checkpoint does not fit the run's config.json (was config.json edited?): {first}", path
            ) from None
        try:
            step, best_map = state["step"], float(state["best_map"])
            if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= self.steps:
                raise ValueError(f"step {step!r} is not one of the run's 0-{self.steps}")
            if not (best_map == -1.0 or 0.0 <= best_map <= 1.0):
                raise ValueError(f"best_map {best_map!r} is not a MAP")
            self.generator.set_state(state["generator"])
            self.sampling_generator.set_state(state["sampling_generator"])
            torch.set_rng_state(state["torch_rng"])
            if state["cuda_rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            random.setstate(state["python_rng"])
            kind, keys, *rest = state["numpy_rng"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
        except KeyError as exc:
            raise FormatError(f"damaged checkpoint: '{exc.args[0]}' is missing", path) from None
        except (RuntimeError, ValueError, TypeError, AttributeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise FormatError(f"damaged checkpoint: {first}", path) from None
        self.start_step = self.saved_step = step
        self.best_map = best_map

    def validate(self, step: int) -> dict:
        from .scoring import score_tables

        score = "itm" if self.config.train.loss == "itm" else "itc"
        # an ITM model is also ranked by ITC, for the learning curves; selection stays on its own score
        names = ("itm", "itc") if score == "itm" else ("itc",)
        scores = score_tables(
            self.evaluation_model(), self.tokenizer, self.data.val, self.data.images, self.device, names
        )
        try:
            metrics = rank_metrics(scores[score], self.data.val.label)
            itc = rank_metrics(scores["itc"], self.data.val.label) if score == "itm" else {}
        except NonFiniteScores as exc:
            raise TrainingError(
                f"validation scores became NaN or infinite for {exc.rows} of {exc.total} dialogues at "
                f"step {step}; training stopped and {kept_checkpoint(self.saved_step)}"
            ) from None
        record = {"step": step, "split": "val", "score": score, **metrics}
        record.update({f"itc_{name}": value for name, value in itc.items() if name not in ("n", "candidates")})
        if metrics["map"] > self.best_map:
            self.best_map = metrics["map"]
            save_weights(self.run_dir / "best.safetensors", self.evaluation_model())
            record["best"] = True
        self.log(record)
        self.model.train()
        return record

    def _autocast(self):
        from .runtime import autocast

        return autocast(self.device, self.config.train.precision, self.config.model.img_size)


class StopSignals:
    """Turn SIGINT / SIGTERM into a flag the loop checks after each step (main thread only)."""

    active: list[StopSignals] = []  # the blocks now open, innermost last

    def __init__(self):
        self.received: str = ""
        self.previous: dict = {}

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        StopSignals.active.append(self)
        return self

    def _handle(self, signum, frame):
        import signal

        self.received = signal.Signals(signum).name

    def __exit__(self, *exc):
        import signal

        StopSignals.active.remove(self)
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def stop_requested() -> bool:
    """Whether a training running in this process has been asked to stop (it stops after its current step);
    for code that waits inside a training step, such as an `on_log` hook."""
    return any(signals.received for signals in StopSignals.active)


def check_finite(step: int, terms: dict, window: int = 1, saved_step: int = 0) -> None:
    """Raise NonFiniteLoss naming the step and the term when a loss term is NaN or infinite."""
    for name, value in terms.items():
        number = float(value.detach() if hasattr(value, "detach") else value)
        if not math.isfinite(number):
            where = f"step {step}" if window == 1 else f"the {window} steps up to {step}"
            raise NonFiniteLoss(
                f"loss term '{name}' became {number} at {where}; training stopped and {kept_checkpoint(saved_step)}"
            )


def kept_checkpoint(saved_step: int) -> str:
    """What a stopped training leaves to resume from, for its error message."""
    return (
        f"the last good checkpoint (step {saved_step}: last.safetensors, train_state.pt) is kept"
        if saved_step
        else "no checkpoint had been saved yet, so no run folder was left"
    )


def drop_records_after(path: Path, step: int) -> int:
    """Remove the records of metrics.jsonl past `step` (the checkpoint a resumed run continues from); their count.

    A run killed without a chance to save (SIGKILL, a power cut) logged steps after its last checkpoint; they
    are trained again, and kept twice the log would draw its curves back in time.
    """
    import json

    from .io import write_text_atomic

    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)

    def later(line: str) -> bool:
        logged = json.loads(line)["step"] if line.strip() else None
        return isinstance(logged, (int, float)) and not isinstance(logged, bool) and logged > step

    kept = [line for line in lines if not later(line)]
    if len(kept) < len(lines):
        write_text_atomic(path, "".join(kept))
    return len(lines) - len(kept)


class MetricsLog:
    """Append-only JSON lines log of the run (one record per log interval and per validation)."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "a", encoding="utf-8")

    def __call__(self, record: dict) -> None:
        self.handle.write(dumps(record, "a metrics record", self.path) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
