"""`pbr rank`: rank a folder of stickers (or a sticker index) for one dialogue."""

from __future__ import annotations

import click

from .common import guard_outputs


@click.command()
@click.argument("dialogue", type=click.Path(allow_dash=True))
@click.argument("stickers", type=click.Path())
@click.option("--model", "run", type=click.Path(), default=None,
              help="Run folder. Default: the most recent under runs/.")
@click.option("--top", type=int, default=10, show_default=True, help="How many stickers to show.")
@click.option("--rerank", type=int, default=128, show_default=True,
              help="ITM re-ranks the ITC top K (ALBEF's retrieval scheme).")
@click.option("--score", type=click.Choice(["itm", "itc"]), default="itm", show_default=True)
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--skip-bad-images", is_flag=True, help="Rank past unreadable images (reported) instead of stopping.")
@click.option("--sheet", type=click.Path(dir_okay=False), default=None,
              help="Also draw the dialogue and the top stickers (rank, score, sentiment bar) as a PNG.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None,
              help="Also write them as one self-contained HTML page (images inlined).")
@click.option("--teacher-features", type=click.Path(dir_okay=False), default=None,
              help="Sentiment bars from this teacher features .h5 for stickers without an emotion label.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="With a .jsonl DIALOGUE: write the rankings here, one JSON line per dialogue.")
@click.option("--batch-size", type=int, default=32, show_default=True,
              help="With a .jsonl DIALOGUE: dialogues per batch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with a .jsonl DIALOGUE: one line per dialogue).")
@click.pass_obj
@guard_outputs("sheet", "html_out", "output")
def rank(settings, dialogue, stickers, run, top, rerank, score, which, skip_bad_images, sheet, html_out,
         teacher_features, output, batch_size, as_json):
    """Rank STICKERS for the chat in DIALOGUE, best first.

    DIALOGUE is a UTF-8 text file with one utterance per line, oldest first ('-' reads stdin), or
    a .jsonl file of many dialogues, one per line: {"id": ..., "context": [...]} with an optional
    "candidates": [sticker ids] to rank only those; they are ranked in batches, in one process.
    STICKERS is a folder of images (searched recursively) or a sticker index .h5 from
    `pbr embed --model`. Scores are ITM match probabilities of the ITC top --rerank stickers.
    """
    from pathlib import Path

    from .. import console
    from ..index import load_sticker_set, rank_stickers, read_dialogue
    from ..io import check_output_path
    from ..metrics import NonFiniteScores
    from ..model.run import load_run, resolve_run, weights_file
    from ..report.polarity import read_teacher_probs

    for name, value in (("--top", top), ("--rerank", rerank), ("--batch-size", batch_size)):
        if value < 1:
            raise click.BadParameter(f"must be at least 1, got {value}", param_hint=name)
    batch = str(dialogue).endswith(".jsonl")
    if teacher_features and not (sheet or html_out):
        raise click.UsageError("--teacher-features colours the sentiment bars; add --sheet FILE or --html FILE")
    if batch and (sheet or html_out):
        raise click.UsageError("--sheet and --html draw one dialogue; rank a .jsonl file with --json or -o FILE")
    if output and not batch:
        raise click.UsageError("-o writes the rankings of a .jsonl file of dialogues; for one dialogue use --json")
    for path in (sheet, html_out, output):
        if path:
            check_output_path(path)
    teacher = read_teacher_probs(teacher_features) if teacher_features else None
    context = None if batch else read_dialogue(dialogue)
    device = settings.torch_device()
    model, config, tokenizer, model_hash = load_run(run, which, device)
    sticker_set, reload, skipped = load_sticker_set(model, config, model_hash, stickers, device, skip_bad_images)
    if skipped:
        console.warn(f"skipped {skipped} unreadable image(s)")
    if batch:
        _rank_batch(Path(dialogue), model, tokenizer, sticker_set, reload, device, top, rerank, score, batch_size,
                    output, as_json, weights_file(resolve_run(run), which))
        return
    try:
        ranked = rank_stickers(model, tokenizer, context, sticker_set, device, rerank, score, reload)[:top]
    except NonFiniteScores as exc:
        raise exc.of_model(score, "stickers", weights_file(resolve_run(run), which)) from None
    rows = _rows(sticker_set, ranked)
    pictures = _write_pictures(context, rows, stickers, teacher, score, len(sticker_set.ids), sheet, html_out)
    if as_json:
        console.print_json({"dialogue": context, "score": score, "stickers": rows, "skipped": skipped, **pictures})
        return
    console.print_table(f"{len(sticker_set.ids)} stickers ranked for: {context[-1]}", ["rank", "score", "id", "path"],
                        [(r["rank"], f"{r['score']:.4f}", r["id"], r["path"]) for r in rows])


def _rows(sticker_set, ranked) -> list[dict]:
    return [{"rank": i + 1, "id": sticker_set.ids[r], "path": sticker_set.paths[r], "score": round(s, 6)}
            for i, (r, s) in enumerate(ranked)]


def _rank_batch(path, model, tokenizer, sticker_set, reload, device, top, rerank, score, batch_size, output,
                as_json, weights) -> None:
    """Rank every dialogue of a .jsonl file; one JSON line each to -o FILE (atomically) and/or stdout."""
    from .. import console
    from ..index import rank_dialogues, read_dialogue_requests
    from ..io import write_text_atomic
    from ..metrics import NonFiniteScores
    from ..strict_json import dumps

    requests = read_dialogue_requests(path, {sticker_id: row for row, sticker_id in enumerate(sticker_set.ids)})
    try:
        with console.progress(total=len(requests), desc="ranking", unit="dialogue") as bar:
            ranked = rank_dialogues(model, tokenizer, [(r.context, r.candidates) for r in requests], sticker_set,
                                    device, rerank, score, reload, batch_size, bar.update)
    except NonFiniteScores as exc:
        raise exc.of_model(score, "stickers", weights) from None
    records = [{"id": request.id, "score": score, "stickers": _rows(sticker_set, result[:top])}
               for request, result in zip(requests, ranked)]
    if output:
        write_text_atomic(output, "".join(dumps(record, "the rankings", output) + "\n" for record in records))
        console.info(f"{len(records)} rankings: {output}")
    if as_json:
        for record in records:
            console.print_json(record)
    elif not output:
        console.print_table(f"{len(requests)} dialogues ranked against {len(sticker_set.ids)} stickers",
                            ["id", "top stickers (score)"],
                            [(request.id, ", ".join(f"{sticker_set.ids[r]} ({s:.3f})" for r, s in result[:3]))
                             for request, result in zip(requests, ranked)])


def _write_pictures(context, rows, library, teacher, score, library_size, sheet, html_out) -> dict:
    """Write the --sheet PNG and --html page that were asked for; returns {"sheet": {...}, "html": path}."""
    from .. import console

    if not (sheet or html_out):
        return {}
    from ..report.ranked import build_ranking

    ranking = build_ranking(context, rows, library, teacher, score, library_size)
    pictures: dict = {}
    if sheet:
        from ..report.fonts import missing_font_message
        from ..report.sheet import write_sheet

        written = write_sheet(sheet, ranking)
        if written.text_as_boxes:
            console.notice(missing_font_message())
        console.info(f"sheet: {sheet}")
        pictures["sheet"] = written.to_dict()
    if html_out:
        from ..report.html import write_html

        write_html(html_out, ranking)
        console.info(f"page: {html_out}")
        pictures["html"] = str(html_out)
    return pictures

