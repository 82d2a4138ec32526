"""Learning curves from a run's metrics.jsonl: val MAP / R@1 and every loss term against the step (PNG)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import FormatError
from .plots import PlotFile, _new_figure, _save

# Loss terms in the order they are drawn; any other logged term follows them.
LOSS_ORDER = ("loss", "i2t", "t2i", "itm", "itm_list", "ekd", "intra", "inter")
NOT_LOSSES = {"step", "epoch", "lr", "dialogues_per_s"}


def read_metrics(path: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """(training log records, validation records) of a metrics.jsonl file."""
    path = Path(path)
    train, val = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FormatError(f"cannot read the metrics log ({exc.strerror})", path) from None
    except UnicodeDecodeError:
        raise FormatError("the metrics log is not UTF-8 text", path) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise FormatError(f"line {number} is not JSON", path) from None
        if not isinstance(record, dict) or "step" not in record:
            raise FormatError(f"line {number} is not a metrics record", path)
        (val if record.get("split") == "val" else train).append(record)
    return train, val


def loss_terms(records: list[dict]) -> list[str]:
    names = {
        key
        for record in records
        for key, value in record.items()
        if key not in NOT_LOSSES and isinstance(value, (int, float))
    }
    return [n for n in LOSS_ORDER if n in names] + sorted(names - set(LOSS_ORDER))


def plot_learning_curves(path: str | os.PathLike, runs: dict[str, str | os.PathLike]) -> PlotFile:
    """One column per run (label -> metrics.jsonl): val MAP and R@1 above, the loss terms below."""
    from matplotlib.ticker import MaxNLocator

    logs = {label: read_metrics(metrics) for label, metrics in runs.items()}
    figure, axes = _new_figure(4.6 * len(logs), 6.4, columns=len(logs), rows=2)
    panels = 0
    for column, (label, (train, val)) in enumerate(logs.items()):
        top, bottom = axes[0][column], axes[1][column]
        if val:
            steps = [r["step"] for r in val]
            n = val[-1].get("candidates", 10)
            score = val[-1].get("score", "").upper()
            curves = [
                ("map", f"MAP {score}".strip(), "-o"),
                (f"r{n}@1", f"R{n}@1 {score}".strip(), "-s"),
                ("itc_map", "MAP ITC", "--o"),
                (f"itc_r{n}@1", f"R{n}@1 ITC", "--s"),
            ]
            for key, name, style in curves:
                values = [100 * r[key] for r in val if key in r]
                if len(values) == len(steps):
                    top.plot(steps, values, style, markersize=3, label=f"val {name}")
            top.set_ylim(0, 100)
            top.legend(fontsize=8, loc="upper left")
            panels += 1
        else:
            top.text(0.5, 0.5, "no validation records", ha="center", va="center", transform=top.transAxes)
        top.set_title(label, fontsize=10)
        top.set_ylabel("%")
        top.grid(alpha=0.3)
        for name in loss_terms(train):
            points = [(r["step"], r[name]) for r in train if isinstance(r.get(name), (int, float))]
            if points:
                xs, ys = zip(*points)
                marker = "o" if len(points) < 3 else None  # a line of one point would draw nothing
                bottom.plot(xs, ys, linewidth=1.2, marker=marker, markersize=3, label=name)
        if train:
            bottom.legend(fontsize=8, loc="upper right", ncol=2)
            panels += 1
        for axis in (top, bottom):
            axis.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # steps: no 19.5
        bottom.set_xlabel("step")
        bottom.set_ylabel("loss")
        bottom.grid(alpha=0.3)
    return _save(figure, path, panels)


def write_learning_curves(path: str | os.PathLike, runs: dict[str, str | os.PathLike]) -> str | None:
    """`plot_learning_curves` where matplotlib (the `plot` extra) is installed; the path written, else None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    return str(plot_learning_curves(path, runs).path)
