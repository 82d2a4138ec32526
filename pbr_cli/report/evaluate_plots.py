"""The pictures of `pbr evaluate --plots`: Fig. 5, Fig. 1b and Fig. 4 for a scored split."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import OutputError
from .polarity import StickerPolarity, read_teacher_probs, sticker_polarity

if TYPE_CHECKING:
    from ..data.batches import SplitTable
    from ..data.types import Dialogue, StickerDataset

INTENSITY_FILE = "fig5_intensity.png"
CONSISTENCY_FILE = "fig1b_consistency.png"
TSNE_FILE = "fig4_tsne.png"
PLOT_FILES = (INTENSITY_FILE, CONSISTENCY_FILE, TSNE_FILE)  # what --plots writes into its folder
TSNE_MAX_STICKERS = 2000
TSNE_FEATURE = "image-tower v_cls"


def check_plots_request(folder: str | os.PathLike) -> Path:
    """Fail before any work when the plots folder cannot be made or written, or matplotlib is missing."""
    from ..io import check_output_path
    from .plots import require_matplotlib

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError("exists and is not a folder; --plots names a folder", folder)
    if folder.is_dir():
        from ..data.images import IMAGE_SUFFIXES, is_hidden

        images = [
            entry.name
            for entry in folder.iterdir()
            if entry.suffix.lower() in IMAGE_SUFFIXES and entry.name not in PLOT_FILES and not is_hidden(entry.name)
        ]
        if images:
            raise OutputError(
                f"holds {len(images)} image(s) other than pbr's plots (e.g. {sorted(images)[0]}); the plots would "
                "join them as stickers for `pbr embed` and `pbr rank` — give --plots a folder of its own",
                folder,
            )
    # an existing folder must take the files; a new one is made inside an existing, writable parent
    check_output_path(folder / INTENSITY_FILE if folder.is_dir() else folder)
    require_matplotlib()
    return folder


def split_dialogue_polarity(
    dataset: StickerDataset, split: str, dialogues: Sequence[Dialogue], sentiment_file: str | os.PathLike | None
) -> tuple[np.ndarray, str]:
    """((D, 2) [pos, neg] of every dialogue, where it came from): the sentiment file, else scored here."""
    from ..data.contexts import joiner
    from ..sentiment import dialogue_polarity, normalise, score_dialogues

    if sentiment_file is not None:
        return dialogue_polarity(sentiment_file, [d.id for d in dialogues], split), str(sentiment_file)
    join = joiner(dataset.format)
    scores = score_dialogues([[join(utterance) for utterance in d.context] for d in dialogues])
    pos, neg = normalise(scores.raw_pos, scores.raw_neg)
    return np.stack([pos, neg], axis=1), "cnsenti, scored here"


@dataclass
class EvaluationPlots:
    """Everything the plots need besides the scores, gathered (and checked) before the split is scored."""

    folder: Path
    dialogue_polarity: np.ndarray  # (D, 2) [pos, neg] per dialogue of the split
    dialogue_source: str
    sticker_rows: np.ndarray  # (U,) library indices of the split's candidate stickers
    sticker_polarity: StickerPolarity  # of those stickers, aligned with sticker_rows
    notes: list[str] = field(default_factory=list)

    @classmethod
    def prepare(
        cls,
        folder: str | os.PathLike,
        dataset: StickerDataset,
        split: str,
        table: SplitTable,
        sentiment_file: str | os.PathLike | None = None,
        teacher_features: str | os.PathLike | None = None,
    ) -> "EvaluationPlots":
        """Read dialogue and sticker polarity for the split; bad or incomplete files raise before scoring."""
        folder = check_plots_request(folder)
        dialogues = dataset.split(split)
        polarity, source = split_dialogue_polarity(dataset, split, dialogues, sentiment_file)
        teacher = read_teacher_probs(teacher_features) if teacher_features is not None else None
        library = list(dataset.stickers.values())
        rows = np.unique(table.candidates)
        stickers = sticker_polarity([library[row].id for row in rows], [library[row].emotion for row in rows], teacher)
        return cls(folder, polarity, source, rows, stickers)

    def truth_polarity(self, table: SplitTable) -> np.ndarray:
        """(D,) polarity of each dialogue's ground-truth sticker, NaN where unknown."""
        return self.sticker_polarity.values[np.searchsorted(self.sticker_rows, table.truth)]

    def write(self, model, device, images: np.ndarray, table: SplitTable, scores: np.ndarray, seed: int = 0) -> dict:
        """Draw the three figures into the folder; returns {"folder", "written": [...], "skipped": [...]}."""
        from ..metrics import per_row_metrics
        from .plots import plot_consistency, plot_intensity, plot_tsne

        n_candidates = scores.shape[1]
        per_row = per_row_metrics(scores, table.label, (1,))
        truth = self.truth_polarity(table)
        known = self.sticker_polarity.known
        source = self.sticker_polarity.source
        self.folder.mkdir(exist_ok=True)
        written = [
            plot_intensity(
                self.folder / INTENSITY_FILE,
                self.dialogue_polarity[:, 0],
                per_row["ap"],
                per_row[f"r{n_candidates}@1"],
                truth,
                n_candidates,
                sticker_source=source,
            )
        ]
        skipped: list[str] = []
        if not np.isfinite(truth).any():
            needs = "needs sticker polarity: the dataset has no emotion labels, so pass --teacher-features FILE"
            skipped += [
                f"the sticker panel of {INTENSITY_FILE}: {needs}",
                f"{CONSISTENCY_FILE}: {needs}",
                f"{TSNE_FILE}: {needs}",
            ]
            return self._summary(written, skipped)
        written.append(
            plot_consistency(self.folder / CONSISTENCY_FILE, self.dialogue_polarity, truth, sticker_source=source)
        )
        rows = self.sticker_rows[known]
        if len(rows) < 3:
            skipped.append(f"{TSNE_FILE}: t-SNE needs at least 3 stickers with a known polarity, got {len(rows)}")
            return self._summary(written, skipped)
        if len(rows) > TSNE_MAX_STICKERS:
            rows = np.sort(np.random.default_rng(seed).choice(rows, TSNE_MAX_STICKERS, replace=False))
        features = image_cls_features(model, images, rows, device)
        polarity = self.sticker_polarity.values[np.searchsorted(self.sticker_rows, rows)]
        written.append(
            plot_tsne(
                self.folder / TSNE_FILE,
                features,
                polarity,
                TSNE_FEATURE,
                TSNE_MAX_STICKERS,
                seed,
                sticker_source=source,
            )
        )
        return self._summary(written, skipped)

    def _summary(self, written: list, skipped: list[str]) -> dict:
        for name in (CONSISTENCY_FILE, TSNE_FILE):  # a skipped figure's file from an earlier evaluation would
            if any(line.startswith(f"{name}:") for line in skipped):  # pass for this one's
                (self.folder / name).unlink(missing_ok=True)
        return {
            "folder": str(self.folder),
            "dialogue_polarity": self.dialogue_source,
            "sticker_polarity": self.sticker_polarity.source or None,
            "written": [plot.to_dict() for plot in written],
            "skipped": skipped,
        }


def image_cls_features(model, images: np.ndarray, rows: np.ndarray, device, batch_size: int = 256) -> np.ndarray:
    """(U, C_V) float32 image-tower v_cls of the library stickers `rows`, encoded batch by batch."""
    from ..scoring import encode_library

    features = []
    for start in range(0, len(rows), batch_size):
        tokens, _ = encode_library(model, images, rows[start : start + batch_size], device, batch_size)
        features.append(tokens[:, 0].float().cpu().numpy())  # (B, C_V)
    return np.concatenate(features)
