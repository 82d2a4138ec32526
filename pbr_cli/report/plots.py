"""The paper's analysis plots as PNG files: metrics by sentiment intensity (Fig. 5), consistency (Fig. 1b) and
t-SNE (Fig. 4)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..io import atomic_path
from .polarity import polarity_classes

DPI = 110
INSTALL_HINT = "pip install 'pbr-cli[plot]'"
POSITIVE_COLOR = "#d62728"  # red, as the sentiment bars of the sticker sheets
NEGATIVE_COLOR = "#1f5fbf"  # blue
NEUTRAL_COLOR = "#9a9a9a"
COUNT_COLOR = "#c9d6e8"
CLASS_COLORS = {"positive": POSITIVE_COLOR, "negative": NEGATIVE_COLOR, "neutral": NEUTRAL_COLOR}


@dataclass
class PlotFile:
    """A written picture: where it is and how many panels (axes with data) it has."""

    path: Path
    panels: int

    def to_dict(self) -> dict:
        return {"path": str(self.path), "panels": self.panels}


@dataclass
class Bins:
    """Samples grouped by a score in 0..1 into bins centred on 0, 1/(B-1), .., 1: counts and per-bin means.

    Centring the bins on the grid puts 0, 0.5 (for an odd B) and 1 (the polarity of negative, neutral and
    positive emotion labels) each in the middle of a bin.
    """

    centres: np.ndarray  # (B,)
    counts: np.ndarray  # (B,) int
    means: dict[str, np.ndarray]  # name -> (B,) float, NaN for an empty bin

    @property
    def width(self) -> float:
        return float(self.centres[1] - self.centres[0])

    @property
    def filled(self) -> np.ndarray:  # (B,) bool
        return self.counts > 0


def require_matplotlib() -> None:
    """Raise ConfigError with the install command when matplotlib (the `plot` extra) is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(f"plots need matplotlib, which is not installed: {INSTALL_HINT}") from None


def bin_by_score(score: np.ndarray, values: dict[str, np.ndarray], n_bins: int) -> Bins:
    """Group rows by `score` (clipped to 0..1) into `n_bins` >= 2 bins centred on i / (n_bins - 1)."""
    score = np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0)
    index = np.rint(score * (n_bins - 1)).astype(np.int64)
    counts = np.bincount(index, minlength=n_bins)
    means = {}
    for name, value in values.items():
        sums = np.bincount(index, weights=np.asarray(value, dtype=np.float64), minlength=n_bins)
        means[name] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Bins(np.linspace(0.0, 1.0, n_bins), counts, means)


def _new_figure(width: float, height: float, columns: int = 1, rows: int = 1):
    """A matplotlib Figure on the Agg canvas (no pyplot, no global state) and its axes (a row; a grid for rows > 1)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, (list(axes[0]) if rows == 1 else [list(row) for row in axes])


def _save(figure, path: str | os.PathLike, panels: int) -> PlotFile:
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, facecolor="white")
    return PlotFile(Path(path), panels)


def _finite_rows(*arrays: np.ndarray) -> np.ndarray:
    keep = np.ones(len(arrays[0]), dtype=bool)
    for array in arrays:
        keep &= np.isfinite(np.asarray(array, dtype=np.float64))
    return keep


def _count_bars(axis, bins: Bins, color: str = COUNT_COLOR, numbered: bool = True):
    """Sample counts as bars on `axis` (its own y scale); numbered in a band along the top, clear of the data."""
    bars = axis.bar(bins.centres, bins.counts, width=bins.width * 0.85, color=color, edgecolor="none", zorder=1)
    axis.set_ylim(0, max(int(bins.counts.max()), 1) * (1.3 if numbered else 1.12))
    axis.set_ylabel("samples")
    if numbered:
        for centre, count in zip(bins.centres, bins.counts):
            if count:
                axis.text(
                    centre,
                    0.985,
                    str(int(count)),
                    transform=axis.get_xaxis_transform(),
                    ha="center",
                    va="top",
                    fontsize=7,
                    color="#555555",
                )
    return bars


def _intensity_axis(axis, label: str, bins: Bins) -> None:
    axis.set_xlim(-bins.width / 2, 1 + bins.width / 2)
    axis.set_xticks(np.linspace(0, 1, 6))
    axis.set_xlabel(f"{label}: 0 negative .. 1 positive")


def plot_intensity(
    path: str | os.PathLike,
    dialogue_pos: np.ndarray,
    average_precision: np.ndarray,
    hit_at_1: np.ndarray,
    sticker_pos: np.ndarray | None = None,
    n_candidates: int = 10,
    n_bins: int = 11,
    sticker_source: str = "",
) -> PlotFile:
    """Fig. 5: MAP and R_n@1 (lines, %) against dialogue and, when known, sticker sentiment intensity (bins).

    `dialogue_pos` (N,) is each dialogue's positive polarity; `sticker_pos` (N,) the ground-truth sticker's
    (NaN rows are left out of that panel). Bins are centred on 0, 0.1, .., 1 for the default 11; bars on the
    right axis count the samples of each bin, and the numbers along the top repeat the counts.
    """
    panels = [("dialogue sentiment intensity", np.asarray(dialogue_pos, dtype=np.float64), "")]
    if sticker_pos is not None and np.isfinite(sticker_pos).any():
        note = f"\n(sticker polarity from {sticker_source})" if sticker_source else ""
        panels.append(("sticker sentiment intensity", np.asarray(sticker_pos, dtype=np.float64), note))
    figure, axes = _new_figure(5.2 * len(panels), 4.3, len(panels))
    recall_name = f"R{n_candidates}@1"
    for axis, (label, intensity, note) in zip(axes, panels):
        keep = _finite_rows(intensity)
        bins = bin_by_score(intensity[keep], {"map": average_precision[keep], "r1": hit_at_1[keep]}, n_bins)
        counts_axis = axis.twinx()
        bars = _count_bars(counts_axis, bins)
        axis.set_zorder(counts_axis.get_zorder() + 1)  # lines in front of the bars
        axis.patch.set_visible(False)
        filled = bins.filled
        (map_line,) = axis.plot(bins.centres[filled], 100 * bins.means["map"][filled], "o-", color="#2b7bba")
        (recall_line,) = axis.plot(bins.centres[filled], 100 * bins.means["r1"][filled], "s--", color="#e07b00")
        _intensity_axis(axis, label, bins)
        axis.set_ylim(0, 118)  # the top band holds the sample counts
        axis.set_yticks(range(0, 101, 20))
        axis.set_ylabel("%")
        axis.set_title(f"by {label}, n = {int(keep.sum())}{note}", fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    figure.legend(
        [map_line, recall_line, bars],
        ["MAP", recall_name, "samples per bin"],
        loc="outside lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    figure.suptitle("Effect of sentiment intensity on ranking (Fig. 5)", fontsize=11)
    return _save(figure, path, len(panels))


def plot_consistency(
    path: str | os.PathLike,
    dialogue_polarity: np.ndarray,
    sticker_pos: np.ndarray,
    n_bins: int = 15,
    sticker_source: str = "",
) -> PlotFile:
    """Fig. 1b: samples per dialogue-sentiment bin (bars) and the mean Euclidean distance (line) between the
    dialogue's (pos, neg) and the ground-truth sticker's (p, 1 - p); the distance is at most sqrt(2).
    The paper's 15 intervals become 15 bins centred on 0, 1/14, .., 1 (so 0.5, no sentiment word, is one).
    """
    dialogue_polarity = np.asarray(dialogue_polarity, dtype=np.float64)
    sticker_pos = np.asarray(sticker_pos, dtype=np.float64)
    keep = _finite_rows(sticker_pos)
    if not keep.any():
        raise DataError("no ground-truth sticker has a known polarity; nothing to plot")
    dialogue_polarity, sticker_pos = dialogue_polarity[keep], sticker_pos[keep]
    sticker_polarity = np.stack([sticker_pos, 1.0 - sticker_pos], axis=1)
    distance = np.linalg.norm(dialogue_polarity - sticker_polarity, axis=1)  # (N,)
    bins = bin_by_score(dialogue_polarity[:, 0], {"distance": distance}, n_bins)
    figure, (axis,) = _new_figure(6.4, 4.3)
    bars = _count_bars(axis, bins, color="#5b8fd1", numbered=False)
    _intensity_axis(axis, "dialogue sentiment", bins)
    distance_axis = axis.twinx()
    filled = bins.filled
    (line,) = distance_axis.plot(bins.centres[filled], bins.means["distance"][filled], "o-", color="black")
    bound = distance_axis.axhline(math.sqrt(2), color="#777777", linestyle=":")
    distance_axis.set_ylim(0, math.sqrt(2) * 1.08)
    distance_axis.set_ylabel("Euclidean distance of (pos, neg)")
    source = f"\nsticker polarity from {sticker_source}" if sticker_source else ""
    axis.set_title(
        f"Dialogue-sticker sentiment consistency (Fig. 1b): n = {len(distance)}, "
        f"mean distance {distance.mean():.3f}{source}",
        fontsize=10,
    )
    figure.legend(
        [bars, line, bound],
        ["samples per bin", "mean distance dialogue-sticker", "upper bound √2"],
        loc="outside lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    return _save(figure, path, 1)


def tsne_points(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 2) t-SNE of (N, C) features with a fixed random state (PCA init; perplexity capped for small N)."""
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float32)
    if len(features) < 3:
        raise DataError(f"t-SNE needs at least 3 stickers, got {len(features)}")
    perplexity = float(max(1.0, min(30.0, (len(features) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def plot_tsne(
    path: str | os.PathLike,
    features: np.ndarray,
    sticker_pos: np.ndarray,
    feature_name: str,
    max_points: int = 2000,
    seed: int = 0,
    sticker_source: str = "",
) -> PlotFile:
    """Fig. 4: t-SNE of up to `max_points` sticker features (a seeded sample), coloured by polarity class."""
    features = np.asarray(features)
    sticker_pos = np.asarray(sticker_pos, dtype=np.float64)
    if len(features) > max_points:
        chosen = np.sort(np.random.default_rng(seed).choice(len(features), max_points, replace=False))
        features, sticker_pos = features[chosen], sticker_pos[chosen]
    points = tsne_points(features, seed)
    classes = polarity_classes(sticker_pos)
    figure, (axis,) = _new_figure(6.0, 5.4)
    for name in ("negative", "neutral", "positive", "unknown"):
        rows = classes == name
        if rows.any():
            axis.scatter(
                points[rows, 0],
                points[rows, 1],
                s=14 if len(points) > 300 else 30,
                color=CLASS_COLORS.get(name, "#dddddd"),
                alpha=0.8,
                edgecolors="none",
                label=f"{name} ({int(rows.sum())})",
            )
    axis.set_xticks([])
    axis.set_yticks([])
    source = f", polarity from {sticker_source}" if sticker_source else ""
    axis.set_title(
        f"t-SNE of {len(points)} sticker features: {feature_name} (Fig. 4)\ncoloured by sentiment polarity{source}",
        fontsize=10,
    )
    axis.legend(loc="best", fontsize=8, framealpha=0.9, markerscale=1.2)
    return _save(figure, path, 1)
