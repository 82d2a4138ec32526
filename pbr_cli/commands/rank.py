"""`pbr rank`: rank a folder of stickers (or a sticker index) for one dialogue."""

from __future__ import annotations

import click


@click.command()
@click.argument("dialogue", type=click.Path(allow_dash=True))
@click.argument("stickers", type=click.Path())
@click.option("--model", "run", type=click.Path(), default=None, help="Run folder. Default: the most recent under runs/.")
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def rank(settings, dialogue, stickers, run, top, rerank, score, which, skip_bad_images, sheet, html_out,
         teacher_features, as_json):
    """Rank STICKERS for the chat in DIALOGUE, best first.

    DIALOGUE is a UTF-8 text file with one utterance per line, oldest first ('-' reads stdin).
    STICKERS is a folder of images (searched recursively) or a sticker index .h5 from
    `pbr embed --model`. Scores are ITM match probabilities of the ITC top --rerank stickers.
    """
    from pathlib import Path

    from .. import console
    from ..index import folder_sticker_set, load_index, rank_stickers, read_dialogue
    from ..io import check_output_path
    from ..metrics import NonFiniteScores
    from ..model.checkpoint import load_run, resolve_run, weights_file
    from ..report.polarity import read_teacher_probs

    for name, value in (("--top", top), ("--rerank", rerank)):
        if value < 1:
            raise click.BadParameter(f"must be at least 1, got {value}", param_hint=name)
    if teacher_features and not (sheet or html_out):
        raise click.UsageError("--teacher-features colours the sentiment bars; add --sheet FILE or --html FILE")
    for output in (sheet, html_out):
        if output:
            check_output_path(output)
    teacher = read_teacher_probs(teacher_features) if teacher_features else None
    context = read_dialogue(dialogue)
    device = settings.torch_device()
    model, config, tokenizer, model_hash = load_run(run, which, device)
    skipped = 0
    if Path(stickers).is_file():
        sticker_set = load_index(stickers, model_hash, config.model.embed_dim, device)
        reload = _reloader(sticker_set.paths, config.model.img_size)
    else:
        sticker_set, pixels, skipped = folder_sticker_set(model, stickers, config.model.img_size, device,
                                                          skip_bad_images)
        reload = lambda rows: pixels[rows]  # noqa: E731
    if skipped:
        console.warn(f"skipped {skipped} unreadable image(s)")
    try:
        ranked = rank_stickers(model, tokenizer, context, sticker_set, device, rerank, score, reload)[:top]
    except NonFiniteScores as exc:
        raise exc.of_model(score, "stickers", weights_file(resolve_run(run), which)) from None
    rows = [{"rank": i + 1, "id": sticker_set.ids[r], "path": sticker_set.paths[r], "score": round(s, 6)}
            for i, (r, s) in enumerate(ranked)]
    pictures = _write_pictures(context, rows, stickers, teacher, score, len(sticker_set.ids), sheet, html_out)
    if as_json:
        console.print_json({"dialogue": context, "score": score, "stickers": rows, "skipped": skipped, **pictures})
        return
    console.print_table(f"{len(sticker_set.ids)} stickers ranked for: {context[-1]}", ["rank", "score", "id", "path"],
                        [(r["rank"], f"{r['score']:.4f}", r["id"], r["path"]) for r in rows])


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


def _reloader(paths, img_size):
    """Decode the index's top-k stickers for ITM re-ranking (indexes built with --no-tokens)."""
    from pathlib import Path

    from ..data.cache import decode_stickers
    from ..data.types import Sticker

    def reload(rows):
        stickers = [Sticker(id=str(r), topic="", path=Path(paths[r])) for r in rows]
        return decode_stickers(stickers, img_size)[0]
    return reload
