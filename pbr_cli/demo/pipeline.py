"""The `pbr demo` pipeline: every step of PBR on the demo dataset, Base against full PBR, and a report folder.

Each step calls the library function its command calls and prints the `pbr` command line that does the same,
so the report folder holds the files the command-line tools make, and a user can rerun any step by hand.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .. import console
from ..strict_json import dumps

if TYPE_CHECKING:
    from ..cli import Settings


@dataclass
class DemoPlan:
    """Sizes of the demo pipeline; the defaults run in minutes on a 2-core CPU."""

    data: Path
    report: Path
    seed: int = 0
    teacher_epochs: int | None = None  # None: teacher-train's default (enough steps for the small emotion set)
    teacher_img_size: int = 64
    anchors_m: int = 20
    steps: int = 1200
    batch_size: int = 16
    sheets: int = 3
    train_options: dict[str, Any] = field(default_factory=dict)  # more TrainOptions fields, for every model
    reuse: bool = False  # keep teacher, anchors, features and sentiment files already in the report folder
    device: str = "auto"  # `pbr --device` of every step

    def settings(self, seed: int | None = None) -> Settings:
        """The global options of a step: this plan's device, and `seed` (default: the plan's)."""
        from ..cli import Settings

        return Settings(device=self.device, seed=self.seed if seed is None else seed)


def announce(title: str | None, args: Sequence[str]) -> None:
    """Open a step: its title as a rule (when given) and the `pbr` command line that does the same by hand."""
    if title is not None:
        console.err.rule(title, style="cyan")
    console.info("$ pbr " + shlex.join(args))


REPORT_MARKER = ".pbr-demo-report"  # in every folder the demo made; only such a folder is written into again


def check_report_folder(report: Path) -> None:
    """OutputError unless `report` is absent, empty, or a report folder an earlier `pbr demo` made."""
    from ..errors import OutputError

    if not report.exists() and not report.is_symlink():
        return
    if not report.is_dir():
        raise OutputError("exists and is not a folder; choose another --report; nothing was written", report)
    if any(report.iterdir()) and not (report / REPORT_MARKER).is_file() and not _earlier_report(report):
        raise OutputError(
            f"folder exists and is not a pbr demo report (no {REPORT_MARKER} in it); the demo "
            "replaces the files in its report folder, so choose another --report; nothing was written",
            report,
        )


def _earlier_report(report: Path) -> bool:
    """A report folder of a pbr from before the marker: its results.json is the demo's summary."""
    try:
        summary = json.loads((report / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and {"data", "report", "results", "sheets"} <= set(summary)


def claim_report_folder(report: Path) -> None:
    """Create the report folder (after `check_report_folder`) and mark it as the demo's."""
    from ..errors import OutputError
    from ..io import write_text_atomic

    check_report_folder(report)
    try:
        report.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report folder: {exc.strerror or exc}", report) from None
    if not (report / REPORT_MARKER).is_file():
        write_text_atomic(report / REPORT_MARKER, "a report folder of `pbr demo`; it may replace every file here\n")


def _seed(seed: int) -> list[str]:
    return ["--seed", str(seed)]


def train_teacher_step(plan: DemoPlan, paths: dict[str, Path], title: str) -> None:
    """`pbr teacher-train` on the demo's emotion set."""
    from ..summaries import print_teacher_report
    from ..teacher import train_teacher_file

    images, output, epochs = plan.data / "emotion", paths["teacher"], plan.teacher_epochs or None
    announce(
        title,
        [
            *_seed(plan.seed),
            "teacher-train",
            str(images),
            "--arch",
            "tiny",
            "--img-size",
            str(plan.teacher_img_size),
            *(["--epochs", str(epochs)] if epochs else []),
            "-o",
            str(output),
        ],
    )
    print_teacher_report(
        train_teacher_file(
            output,
            images,
            arch="tiny",
            img_size=plan.teacher_img_size,
            epochs=epochs,
            device=plan.settings().torch_device(),
            seed=plan.seed,
        )
    )


def _embed_with_teacher(plan: DemoPlan, paths: dict[str, Path], title: str, images: Path, output: Path) -> None:
    from ..summaries import print_teacher_features
    from ..teacher import embed_folder

    announce(title, [*_seed(plan.seed), "embed", str(images), "--teacher", str(paths["teacher"]), "-o", str(output)])
    print_teacher_features(embed_folder(images, paths["teacher"], output, 64, False, plan.settings().torch_device()))


def embed_emotion_set_step(plan: DemoPlan, paths: dict[str, Path], title: str) -> None:
    """`pbr embed --teacher` of the teacher's own emotion set (the anchors' input)."""
    _embed_with_teacher(plan, paths, title, plan.data / "emotion", paths["ser_features"])


def embed_library_step(plan: DemoPlan, paths: dict[str, Path], title: str) -> None:
    """`pbr embed --teacher` of the sticker library (EKD targets and sticker polarity)."""
    _embed_with_teacher(plan, paths, title, plan.data, paths["features"])


def build_anchors_step(
    plan: DemoPlan, paths: dict[str, Path], title: str, m: int | None = None, output: Path | None = None
) -> None:
    """`pbr build-anchors` from the emotion set's teacher features: M anchors per emotion (default the plan's)."""
    from ..knowledge import anchors_file
    from ..summaries import print_anchors

    m = plan.anchors_m if m is None else m
    output = paths["anchors"] if output is None else output
    announce(
        title,
        [
            *_seed(plan.seed),
            "build-anchors",
            "--teacher",
            str(paths["teacher"]),
            "--features",
            str(paths["ser_features"]),
            "--M",
            str(m),
            "--on-small-class",
            "shrink",
            "-o",
            str(output),
        ],
    )
    _, summary = anchors_file(
        output,
        m,
        "shrink",
        plan.seed,
        paths["teacher"],
        None,
        paths["ser_features"],
        64,
        plan.settings().torch_device(),
    )
    print_anchors(summary)


def score_sentiment_step(plan: DemoPlan, paths: dict[str, Path], title: str) -> None:
    """`pbr score-sentiment` of every dialogue of the demo dataset."""
    from ..sentiment import score_sentiment_file
    from ..summaries import print_sentiment

    announce(title, [*_seed(plan.seed), "score-sentiment", str(plan.data), "-o", str(paths["sentiment"])])
    print_sentiment(score_sentiment_file(plan.data, paths["sentiment"]))


INPUT_STEPS: tuple[tuple[str, str, Callable[[DemoPlan, dict[str, Path], str], None]], ...] = (
    ("teacher", "1/7 emotion teacher", train_teacher_step),
    ("ser_features", "2/7 emotion anchors: teacher features of its own data", embed_emotion_set_step),
    ("anchors", "2/7 emotion anchors: per-emotion K-Means", build_anchors_step),
    ("features", "3/7 teacher features of the sticker library", embed_library_step),
    ("sentiment", "4/7 dialogue sentiment", score_sentiment_step),
)


def prepare_inputs(plan: DemoPlan, timings: dict | None = None) -> dict[str, Path]:
    """Steps 1–4: teacher, anchors, teacher features of the library, dialogue sentiment (kept when present)."""
    report = plan.report
    claim_report_folder(report)
    paths = {
        "teacher": report / "teacher.pt",
        "ser_features": report / "ser_teacher.h5",
        "anchors": report / "anchors.h5",
        "features": report / "stickers_teacher.h5",
        "sentiment": report / "sentiment.h5",
    }
    for key, title, step in INPUT_STEPS:
        if plan.reuse and paths[key].is_file():
            console.info(f"{title}: reusing {paths[key]}")
            continue
        start = time.perf_counter()
        step(plan, paths, title)
        if timings is not None:
            timings[key] = round(time.perf_counter() - start, 1)
    return paths


def pbr_options(paths: dict[str, Path]) -> dict[str, Any]:
    """The options of the full PBR model: EKD with anchors, PHSM with teacher polarity, TSCL intra + inter."""
    return {
        "teacher_features": str(paths["features"]),
        "anchors": str(paths["anchors"]),
        "sentiment": str(paths["sentiment"]),
        "intra": True,
        "inter": True,
    }


def _evaluate(run: Path, settings: Settings, score: str, **files: str) -> dict:
    """`pbr evaluate RUN --split test` (with `files`: the scores file and the plots), quietly."""
    from ..run_evaluation import evaluate_run

    flags = {
        "scores_out": "--scores-out",
        "plots_dir": "--plots",
        "sentiment_file": "--sentiment",
        "teacher_features": "--teacher-features",
    }
    announce(
        None,
        [
            *_seed(settings.seed),
            "evaluate",
            str(run),
            "--split",
            "test",
            *(["--score", score] if score != "itm" else []),
            *(arg for name, path in files.items() for arg in (flags[name], path)),
        ],
    )
    with console.quiet():
        return evaluate_run(str(run), None, "test", score, "best", settings, **files)


def train_and_evaluate(
    plan: DemoPlan, name: str, extra: dict[str, Any], seed: int, title: str, paths: dict[str, Path], plots: bool = False
) -> dict:
    """Train one variant (TrainOptions fields `extra` over the plan's) into report/runs/NAME; its test metrics."""
    from ..summaries import print_training
    from ..training import TrainOptions, run_training

    run = plan.report / "runs" / name
    if (run / "config.json").exists():
        import shutil

        shutil.rmtree(run)
    options = TrainOptions(
        **{
            "data": str(plan.data),
            "config": "tiny",
            "steps": plan.steps,
            "batch_size": plan.batch_size,
            **plan.train_options,
            **extra,
            "out": str(run),
        }
    )
    settings = plan.settings(seed)
    announce(title, [*_seed(seed), "train", *options.command_args()])
    print_training(run_training(options, settings))
    itc = _evaluate(run, settings, "itc")
    files = {}
    if plots:
        (plan.report / "plots").mkdir(exist_ok=True)
        files = {
            "scores_out": str(plan.report / f"scores_{name}.h5"),
            "plots_dir": str(plan.report / "plots" / name),
            "sentiment_file": str(paths["sentiment"]),
            "teacher_features": str(paths["features"]),
        }
    result = _evaluate(run, settings, "itm", **files)
    result["itc"] = {k: v for k, v in itc.items() if k in ("map", "mrr") or k.startswith("r")}
    return result


def run_pipeline(plan: DemoPlan) -> dict:
    """teacher -> anchors -> teacher features -> sentiment -> Base and PBR -> evaluation, plots, sheets."""
    from ..io import exclusive_lock

    check_report_folder(plan.report)
    plan.report.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(plan.report.parent / f".{plan.report.name}.lock", "demo report folder"):
        return _run_pipeline(plan)


def _run_pipeline(plan: DemoPlan) -> dict:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    paths = prepare_inputs(plan, timings)
    from ..data import open_dataset
    from .checks import teacher_summary

    teacher = teacher_summary(paths["teacher"], paths["features"], open_dataset(plan.data))
    results = {}
    for name, title, extra in (
        ("base", "5/7 train Base (ITC + ITM, semantic hard negatives)", {}),
        ("pbr", "6/7 train PBR (EKD + TSCL + PHSM)", pbr_options(paths)),
    ):
        start = time.perf_counter()
        results[name] = train_and_evaluate(plan, name, extra, plan.seed, title, paths, plots=True)
        timings[name] = round(time.perf_counter() - start, 1)
    curves = write_demo_curves(plan.report)
    console.err.rule("7/7 ranked sticker sheets", style="cyan")
    sheets = write_sheets(plan, plan.report / "runs" / "pbr")
    summary = {
        "data": str(plan.data),
        "report": str(plan.report),
        "seed": plan.seed,
        "steps": plan.steps,
        "results": {name: {k: v for k, v in r.items() if k != "plots"} for name, r in results.items()},
        "teacher": teacher,
        "sheets": sheets,
        "learning_curves": curves,
        "seconds": round(time.perf_counter() - started, 1),
        "timings": timings,
    }
    from ..io import write_text_atomic

    results = plan.report / "results.json"
    write_text_atomic(results, dumps(summary, "the demo results", results, indent=2) + "\n")
    write_text_atomic(plan.report / "results.md", results_markdown(summary))
    return summary


def write_demo_curves(report: Path) -> str | None:
    """plots/learning_curves.png: Base and PBR side by side (val MAP / R@1 by ITM and ITC, loss terms)."""
    from ..report.curves import write_learning_curves

    (report / "plots").mkdir(exist_ok=True)
    return write_learning_curves(
        report / "plots" / "learning_curves.png",
        {label: report / "runs" / name / "metrics.jsonl" for name, label in MODELS},
    )


def write_sheets(plan: DemoPlan, run: Path) -> list[str]:
    """Ranked sticker sheets (PNG and HTML) for the first test dialogues, over their candidate sets."""
    from ..data import open_dataset
    from ..io import write_bytes_atomic, write_text_atomic
    from ..ranking import RankOptions, rank_dialogue

    dataset = open_dataset(plan.data)
    device = plan.settings().torch_device()
    features = plan.report / "stickers_teacher.h5"
    written = []
    sheet_dir = plan.report / "sheets"
    sheet_dir.mkdir(parents=True, exist_ok=True)
    for dialogue in dataset.split("test")[: plan.sheets]:
        text_file = sheet_dir / f"{dialogue.id}.txt"
        write_text_atomic(text_file, "\n".join(dialogue.context) + "\n")
        candidates = sheet_dir / f"{dialogue.id}_candidates"
        candidates.mkdir(exist_ok=True)
        for sticker_id in dialogue.candidates:
            source = dataset.stickers[sticker_id].path
            target = candidates / Path(source).name
            if not target.exists():
                write_bytes_atomic(target, Path(source).read_bytes())  # a later demo keeps what exists
        sheet, page = sheet_dir / f"{dialogue.id}.png", sheet_dir / f"{dialogue.id}.html"
        announce(
            None,
            [
                "rank",
                str(text_file),
                str(candidates),
                "--model",
                str(run),
                "--top",
                "6",
                "--teacher-features",
                str(features),
                "--sheet",
                str(sheet),
                "--html",
                str(page),
            ],
        )
        with console.quiet():
            rank_dialogue(
                str(text_file),
                str(candidates),
                RankOptions(str(run), top=6, device=device),
                teacher_features=str(features),
                sheet=str(sheet),
                html_out=str(page),
            )
        written.append(str(sheet))
    return written


MODELS = (("base", "Base (ITC + ITM)"), ("pbr", "PBR (EKD + TSCL + PHSM)"))


def result_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Rows of the results table: each model scored by ITM (the paper) and by ITC similarity."""
    n = summary["results"]["base"]["candidates"]
    keys = ("map", "mrr", f"r{n}@1", f"r{n}@2", f"r{n}@5")
    rows = []
    for name, label in MODELS:
        result = summary["results"][name]
        for score, metrics in (("ITM", result), ("ITC", result.get("itc", {}))):
            if metrics:
                rows.append([label, score] + [f"{100 * metrics[k]:.2f}" for k in keys])
    return ["model", "score", "MAP", "MRR", f"R{n}@1", f"R{n}@2", f"R{n}@5"], rows


def results_markdown(summary: dict) -> str:
    header, rows = result_rows(summary)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    line = teacher_line(summary)
    return "\n".join(lines) + "\n" + (f"\n{line}\n" if line else "")


def teacher_line(summary: dict) -> str:
    """'teacher: 96.7% on its emotion test split, 88.5% on the 504 library stickers' (what is known of it)."""
    teacher = summary.get("teacher") or {}
    parts = []
    if teacher.get("test_accuracy") is not None:
        parts.append(f"{100 * teacher['test_accuracy']:.1f}% on its emotion test split")
    if teacher.get("library_accuracy") is not None:
        parts.append(
            f"{100 * teacher['library_accuracy']:.1f}% on the {teacher['library_stickers']} library "
            "stickers' true emotions"
        )
    return "teacher: " + ", ".join(parts) if parts else ""


def print_results(summary: dict) -> None:
    header, rows = result_rows(summary)
    console.print_table(
        f"Demo test split ({summary['results']['base']['n']} dialogues, {summary['steps']} steps each)", header, rows
    )
    if teacher_line(summary):
        console.result(teacher_line(summary))
    console.out.print(
        f"report: {summary['report']} (results.md, plots/, sheets/, runs/); {summary['seconds']:.0f} s in all",
        markup=False,
    )
