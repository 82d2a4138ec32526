"""`pbr evaluate`: MAP, MRR and R_n@1/2/5 of a run on a split, or of any system's scores file."""

from __future__ import annotations

import click

from .common import guard_outputs, json_option, score_option, which_option


def plot_files() -> dict[str, tuple[str, ...]]:
    """The files --plots writes into its folder."""
    from ..report.evaluate_plots import PLOT_FILES

    return {"plots_dir": PLOT_FILES}


def implied_inputs(kwargs):
    """The run folder evaluated (RUN, else the newest) and its dataset (--data, else the one it was trained on)."""
    if kwargs["scores_file"]:
        return  # --scores reads only the files it names
    from ..datasets import dataset_path
    from ..model.run import resolve_run
    from ..run_evaluation import run_dataset

    run_dir = resolve_run(kwargs["run"])
    yield run_dir
    yield dataset_path(run_dataset(run_dir, kwargs["data"]), build=False)


@click.command()
@click.argument("run", required=False, type=click.Path())
@click.option(
    "--data", type=click.Path(), default=None, help="Dataset folder. Default: the one the run was trained on."
)
@click.option("--split", default="test", show_default=True, help="Split to score.")
@score_option("Ranking score: ITM match probability (the paper) or ITC cosine similarity.")
@which_option("Checkpoint: best on val MAP, or the last step.")
@click.option(
    "--scores",
    "scores_file",
    type=click.Path(),
    default=None,
    help="Evaluate any system's scores instead of a run: HDF5 (ids, scores, label) or JSON lines "
    '({"id", "scores": [...], "label"}; without label, with --data and --split).',
)
@click.option("--scores-out", type=click.Path(), default=None, help="Also write the scores file (.h5).")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(),
    default=None,
    metavar="DIR",
    help="Also draw fig5_intensity.png, fig1b_consistency.png and fig4_tsne.png into this folder "
    "(created if its parent exists; not a folder of other images; needs the plot extra).",
)
@click.option(
    "--sentiment",
    "sentiment_file",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="With --plots: dialogue polarity from this sentiment .h5 (default: scored here with cnsenti).",
)
@click.option(
    "--teacher-features",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="With --plots: sticker polarity from this teacher features .h5 for stickers without an emotion label.",
)
@json_option("Print one JSON object (metrics as fractions).")
@click.pass_obj
@guard_outputs("scores_out", folders=("plots_dir",), folder_files=plot_files, implied=implied_inputs)
def evaluate(
    settings,
    run,
    data,
    split,
    score,
    which,
    scores_file,
    scores_out,
    batch_size,
    plots_dir,
    sentiment_file,
    teacher_features,
    as_json,
):
    """Rank every candidate set of a split and report MAP, MRR, R_n@1, R_n@2, R_n@5.

    RUN is a run folder (default: the most recent one under runs/). Tied scores count as the
    expectation over their orderings, so a model that scores everything equal gets R10@1 = 10%.
    """
    from pathlib import Path

    from click.core import ParameterSource

    from .. import console
    from ..run_evaluation import evaluate_run, evaluate_scores_file

    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    if scores_out and Path(scores_out).suffix.lower() not in (".h5", ".hdf5"):
        raise click.BadParameter(  # HDF5 under a .jsonl name would be read back as JSON lines, and fail
            f"the scores file is HDF5: name it .h5, not {Path(scores_out).name}", param_hint="--scores-out"
        )
    if (sentiment_file or teacher_features) and not plots_dir:
        raise click.UsageError("--sentiment and --teacher-features are inputs of the plots; add --plots DIR")
    if scores_file:
        if run or scores_out or plots_dir:
            raise click.UsageError("--scores evaluates a file on its own; give no RUN, --scores-out or --plots with it")
        ctx = click.get_current_context()
        model_options = ["score", "which", "batch_size"] + ([] if data else ["split"])
        given = [name for name in model_options if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT]
        if given == ["split"]:
            raise click.UsageError(
                "--split chooses the dialogues of --data DATASET; without --data, --scores evaluates the file as it is"
            )
        if given:
            raise click.UsageError(
                f"--{given[0].replace('_', '-')} is an option of a run's evaluation; --scores evaluates the file's own "
                "scores"
            )
        result = evaluate_scores_file(scores_file, data, split)
    else:
        result = evaluate_run(
            run,
            data,
            split,
            score,
            which,
            settings,
            scores_out,
            batch_size,
            plots_dir,
            sentiment_file,
            teacher_features,
        )
    if result is None:
        return  # under torchrun, process 0 reports
    plots = result.get("plots")
    if plots:
        for skipped in plots["skipped"]:
            console.notice(f"skipped {skipped}")
        console.info(f"plots in {plots['folder']}: " + ", ".join(Path(p["path"]).name for p in plots["written"]))
    if as_json:
        console.print_json(result)
        return
    n = result["candidates"]
    names = ["map", "mrr", f"r{n}@1", f"r{n}@2", f"r{n}@5"]
    labels = ["MAP", "MRR", f"R{n}@1", f"R{n}@2", f"R{n}@5"]
    source = result.get("run") or result.get("scores")
    title = f"{source} — {result.get('split', 'scores file')} ({result['n']} dialogues)"
    console.print_table(
        title,
        ["metric", "%"],
        [(label, f"{100 * result[name]:.2f}") for label, name in zip(labels, names) if name in result],
    )
