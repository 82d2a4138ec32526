"""`pbr rank`: rank a folder of stickers (or a sticker index) for one dialogue."""

from __future__ import annotations

import click

from .common import file_option, guard_outputs, json_option, rerank_option, score_option, which_option


def implied_inputs(kwargs):
    """The run folder (--model, else the newest) and, for a sticker index, the folders of the images it refers to
    (the sheet, the page and ITM re-ranking without stored tokens read them)."""
    from pathlib import Path

    from ..features import read_h5_strings
    from ..model.run import resolve_run

    stickers = kwargs["stickers"]
    if Path(stickers).is_file():  # the paths as the sheet and the re-ranking read them, not the embeddings
        yield from sorted(
            {Path(image).parent for image in read_h5_strings(stickers, "sticker_index", "paths") if image}
        )
    yield resolve_run(kwargs["run"])


@click.command()
@click.argument("dialogue", type=click.Path(allow_dash=True))
@click.argument("stickers", type=click.Path())
@click.option(
    "--model", "run", type=click.Path(), default=None, help="Run folder. Default: the most recent under runs/."
)
@click.option("--top", type=int, default=10, show_default=True, help="How many stickers to show.")
@rerank_option("ITM re-ranks the ITC top K, or the top --top when more (ALBEF's retrieval scheme).")
@score_option()
@which_option()
@click.option("--skip-bad-images", is_flag=True, help="Rank past unreadable images (reported) instead of stopping.")
@file_option("--sheet", help="Also draw the dialogue and the top stickers (rank, score, sentiment bar) as a PNG.")
@file_option("--html", "html_out", help="Also write them as one self-contained HTML page (images inlined).")
@file_option(
    "--teacher-features", help="Sentiment bars from this teacher features .h5 for stickers without an emotion label."
)
@file_option("-o", "--output", help="With a JSON-lines DIALOGUE: write the rankings here, one JSON line per dialogue.")
@click.option(
    "--batch-size", type=int, default=32, show_default=True, help="With a JSON-lines DIALOGUE: dialogues per batch."
)
@json_option("Print JSON (with a JSON-lines DIALOGUE: one line per dialogue).")
@click.pass_obj
@guard_outputs("sheet", "html_out", "output", implied=implied_inputs)
def rank(
    settings,
    dialogue,
    stickers,
    run,
    top,
    rerank,
    score,
    which,
    skip_bad_images,
    sheet,
    html_out,
    teacher_features,
    output,
    batch_size,
    as_json,
):
    """Rank STICKERS for the chat in DIALOGUE, best first.

    DIALOGUE is a UTF-8 text file with one utterance per line, oldest first ('-' reads stdin), or
    a JSON-lines file (.jsonl or .json, any case) of many dialogues, one per line: {"id": ...,
    "context": [...]} with an optional "candidates": [sticker ids] to rank only those; they are
    ranked in batches, in one process.
    STICKERS is a folder of images (searched recursively) or a sticker index .h5 from
    `pbr embed --model`. Scores are ITM match probabilities of the ITC top --rerank (or --top) stickers.
    """
    from .. import console
    from ..io import check_output_path
    from ..ranking import RankOptions, is_dialogue_file, rank_dialogue, rank_dialogue_file

    for name, value in (("--top", top), ("--rerank", rerank), ("--batch-size", batch_size)):
        if value < 1:
            raise click.BadParameter(f"must be at least 1, got {value}", param_hint=name)
    batch = is_dialogue_file(dialogue)
    if teacher_features and not (sheet or html_out):
        raise click.UsageError("--teacher-features colours the sentiment bars; add --sheet FILE or --html FILE")
    if batch and (sheet or html_out):
        raise click.UsageError("--sheet and --html draw one dialogue; rank a .jsonl file with --json or -o FILE")
    if output and not batch:
        raise click.UsageError("-o writes the rankings of a .jsonl file of dialogues; for one dialogue use --json")
    for path in (sheet, html_out, output):
        if path:
            check_output_path(path)
    options = RankOptions(run, which, top, rerank, score, settings.torch_device(), skip_bad_images)
    if batch:
        rankings = rank_dialogue_file(dialogue, stickers, options, batch_size, output)
        if as_json:
            for record in rankings.records:
                console.print_json(record)
        elif not output:
            ids = rankings.sticker_ids
            console.print_table(
                f"{len(rankings.requests)} dialogues ranked against {len(ids)} stickers",
                ["id", "top stickers (score)"],
                [
                    (request.id, ", ".join(f"{ids[r]} ({s:.3f})" for r, s in result[:3]))
                    for request, result in zip(rankings.requests, rankings.ranked)
                ],
            )
        return
    ranking = rank_dialogue(dialogue, stickers, options, sheet, html_out, teacher_features)
    if as_json:
        console.print_json(ranking.to_json())
        return
    console.print_table(
        f"{ranking.library_size} stickers ranked for: {ranking.context[-1]}",
        ["rank", "score", "id", "path"],
        [(r["rank"], f"{r['score']:.4f}", r["id"], r["path"]) for r in ranking.stickers],
    )
