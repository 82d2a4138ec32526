"""`pbr rank` as library calls: the stickers of a folder or an index ranked for one dialogue (with its sheet and
HTML page), or for every dialogue of a .jsonl file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import console

if TYPE_CHECKING:
    from .index import DialogueRequest, StickerSet
    from .serve import Ranker


DIALOGUE_FILE_SUFFIXES = (".jsonl", ".json")  # a DIALOGUE with one of these (any case) holds many dialogues


def is_dialogue_file(path: str | os.PathLike) -> bool:
    """True when DIALOGUE names a JSON-lines file of many dialogues (.jsonl or .json, any case), not one chat."""
    return os.fspath(path) != "-" and Path(path).suffix.lower() in DIALOGUE_FILE_SUFFIXES


@dataclass
class RankOptions:
    """How `pbr rank` ranks: which model, how many stickers it shows and how they are scored."""

    run: str | os.PathLike | None = None  # run folder (None: the newest under runs/)
    which: str = "best"  # its checkpoint
    top: int = 10  # stickers kept per dialogue
    rerank: int = 32  # ITM re-ranks the ITC top `rerank` (index.DEFAULT_RERANK; this module imports no torch)
    score: str = "itm"
    device: Any = "cpu"
    skip_bad_images: bool = False  # rank past unreadable images in a folder of stickers


@dataclass
class DialogueRanking:
    """The best stickers for one dialogue, and the pictures drawn of them."""

    context: list[str]
    score: str
    stickers: list[dict[str, Any]]  # {"rank", "id", "path", "score"}, best first
    skipped: int  # unreadable images left out of a folder of stickers
    library_size: int  # how many stickers were ranked
    pictures: dict[str, Any]  # {"sheet": {...}, "html": path}: the pictures asked for

    def to_json(self) -> dict[str, Any]:
        return {
            "dialogue": self.context,
            "score": self.score,
            "stickers": self.stickers,
            "skipped": self.skipped,
            **self.pictures,
        }


@dataclass
class FileRanking:
    """The rankings of every dialogue of a .jsonl file."""

    requests: list[DialogueRequest]
    ranked: list[list[tuple[int, float]]]  # per dialogue: (sticker row, score), best first
    records: list[dict[str, Any]]  # per dialogue: {"id", "score", "stickers": the top rows}
    sticker_ids: list[str]


def ranked_rows(sticker_set: StickerSet, ranked: list[tuple[int, float]]) -> list[dict[str, Any]]:
    """{"rank", "id", "path", "score"} of each (row, score), in order."""
    return [
        {"rank": i + 1, "id": sticker_set.ids[r], "path": sticker_set.paths[r], "score": round(s, 6)}
        for i, (r, s) in enumerate(ranked)
    ]


def _load(options: RankOptions, stickers: str | os.PathLike) -> tuple[Ranker, int]:
    from .index import warn_skipped
    from .serve import load_ranker

    skipped: list[str] = []
    ranker = load_ranker(
        options.run, stickers, options.which, options.device, options.rerank, options.skip_bad_images, skipped.extend
    )
    warn_skipped(skipped)
    return ranker, len(skipped)


def _weights(ranker: Ranker, which: str) -> Path:
    from .model.run import weights_file

    return weights_file(Path(ranker.run), which)


def rank_dialogue(
    dialogue: str | os.PathLike,
    stickers: str | os.PathLike,
    options: RankOptions | None = None,
    sheet: str | os.PathLike | None = None,
    html_out: str | os.PathLike | None = None,
    teacher_features: str | os.PathLike | None = None,
) -> DialogueRanking:
    """Rank `stickers` for the dialogue file `dialogue` ('-': stdin); also draw the `sheet` PNG and the `html_out`
    page when asked (sentiment bars from emotion labels, else `teacher_features`)."""
    from .index import rank_stickers, read_dialogue, shortlist
    from .metrics import NonFiniteScores
    from .report.polarity import read_teacher_probs

    teacher = read_teacher_probs(teacher_features) if teacher_features else None
    context = read_dialogue(dialogue)
    o = options or RankOptions()
    ranker, skipped = _load(o, stickers)
    sticker_set = ranker.stickers
    try:
        ranked = rank_stickers(
            ranker.model,
            ranker.tokenizer,
            context,
            sticker_set,
            ranker.device,
            shortlist(o.top, o.rerank, o.score),
            o.score,
            ranker.reload,
        )[: o.top]
    except NonFiniteScores as exc:
        raise exc.of_model(o.score, "stickers", _weights(ranker, o.which)) from None
    if ranker.tokenizer.reads_nothing(context, ranker.model.config.max_len):
        from .data.tokenize import UNREAD_DIALOGUE

        console.warn(f"{'<stdin>' if str(dialogue) == '-' else dialogue}: {UNREAD_DIALOGUE}")
    rows = ranked_rows(sticker_set, ranked)
    pictures = write_pictures(context, rows, stickers, teacher, o.score, len(sticker_set.ids), sheet, html_out)
    return DialogueRanking(context, o.score, rows, skipped, len(sticker_set.ids), pictures)


def rank_dialogue_file(
    path: str | os.PathLike,
    stickers: str | os.PathLike,
    options: RankOptions | None = None,
    batch_size: int = 32,
    output: str | os.PathLike | None = None,
) -> FileRanking:
    """Rank `stickers` for every dialogue of a .jsonl file, in batches; with `output`, write one JSON line per
    dialogue there (atomically)."""
    from .index import rank_dialogues, read_dialogue_requests, shortlist
    from .io import write_text_atomic
    from .metrics import NonFiniteScores
    from .strict_json import dumps

    o = options or RankOptions()
    ranker, _ = _load(o, stickers)
    sticker_set = ranker.stickers
    requests = read_dialogue_requests(Path(path), ranker.rows)
    try:
        with console.progress(total=len(requests), desc="ranking", unit="dialogue") as bar:
            ranked = rank_dialogues(
                ranker.model,
                ranker.tokenizer,
                [(r.context, r.candidates) for r in requests],
                sticker_set,
                ranker.device,
                shortlist(o.top, o.rerank, o.score),
                o.score,
                ranker.reload,
                batch_size,
                bar.update,
            )
    except NonFiniteScores as exc:
        raise exc.of_model(o.score, "stickers", _weights(ranker, o.which)) from None
    records = [
        {"id": request.id, "score": o.score, "stickers": ranked_rows(sticker_set, result[: o.top])}
        for request, result in zip(requests, ranked)
    ]
    max_len = ranker.model.config.max_len
    unread = [r.id for r in requests if ranker.tokenizer.reads_nothing(r.context, max_len)]
    if unread:
        from .data.records import printable

        console.warn(
            f"{path}: {len(unread)} dialogue(s) with no text in the model's vocabulary (every token is [UNK]), e.g. "
            f"'{printable(unread[0], 60)}': their rankings do not follow from what they say"
        )
    if output:
        write_text_atomic(output, "".join(dumps(record, "the rankings", output) + "\n" for record in records))
        console.info(f"{len(records)} rankings: {output}")
    return FileRanking(requests, ranked, records, list(sticker_set.ids))


def write_pictures(
    context: list[str],
    rows: list[dict[str, Any]],
    library: str | os.PathLike,
    teacher,
    score: str,
    library_size: int,
    sheet: str | os.PathLike | None = None,
    html_out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write the sheet PNG and the HTML page that were asked for; returns {"sheet": {...}, "html": path}."""
    if not (sheet or html_out):
        return {}
    from .report.ranked import build_ranking

    ranking = build_ranking(context, rows, library, teacher, score, library_size)
    pictures: dict[str, Any] = {}
    if sheet:
        from .report.fonts import missing_font_message
        from .report.sheet import write_sheet

        written = write_sheet(sheet, ranking)
        if written.text_as_boxes:
            console.notice(missing_font_message())
        console.info(f"sheet: {sheet}")
        pictures["sheet"] = written.to_dict()
    if html_out:
        from .report.html import write_html

        write_html(html_out, ranking)
        console.info(f"page: {html_out}")
        pictures["html"] = str(html_out)
    return pictures
