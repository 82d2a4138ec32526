"""The `pbr demo` pipeline: every step of PBR on the demo dataset, Base against full PBR, and a report folder.

Each step runs the same command a user would type (in-process), so the demo exercises exactly the
command-line tools and leaves their files in the report folder for inspection.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import console
from ..strict_json import dumps


@dataclass
class DemoPlan:
    """Sizes of the demo pipeline; the defaults run in minutes on a 2-core CPU."""

    data: Path
    report: Path
    seed: int = 0
    teacher_epochs: int | None = None     # None: teacher-train's default (enough steps for the small emotion set)
    teacher_img_size: int = 64
    anchors_m: int = 20
    steps: int = 1200
    batch_size: int = 16
    sheets: int = 3
    extra_train_args: list[str] = field(default_factory=list)
    reuse: bool = False   # keep teacher, anchors, features and sentiment files already in the report folder


def run_step(title: str, args: list[str]) -> None:
    """Run one `pbr` command in-process, announcing it as a user would type it."""
    from ..cli import cli

    console.err.rule(title, style="cyan")
    console.info("$ pbr " + " ".join(args))
    cli.main(args, prog_name="pbr", standalone_mode=False)


def json_step(args: list[str]) -> dict:
    """Run a `pbr ... --json` command in-process and return its JSON result."""
    import contextlib
    import io

    from ..cli import cli

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        cli.main(args, prog_name="pbr", standalone_mode=False)
    return json.loads(buffer.getvalue().strip().splitlines()[-1])


REPORT_MARKER = ".pbr-demo-report"   # in every folder the demo made; only such a folder is written into again


def check_report_folder(report: Path) -> None:
    """OutputError unless `report` is absent, empty, or a report folder an earlier `pbr demo` made."""
    from ..errors import OutputError

    if not report.exists() and not report.is_symlink():
        return
    if not report.is_dir():
        raise OutputError("exists and is not a folder; choose another --report; nothing was written", report)
    if any(report.iterdir()) and not (report / REPORT_MARKER).is_file() and not _earlier_report(report):
        raise OutputError(f"folder exists and is not a pbr demo report (no {REPORT_MARKER} in it); the demo "
                          "replaces the files in its report folder, so choose another --report; nothing was written",
                          report)


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


def prepare_inputs(plan: DemoPlan, timings: dict | None = None) -> dict[str, Path]:
    """Steps 1–4: teacher, anchors, teacher features of the library, dialogue sentiment (kept when present)."""
    report, data = plan.report, plan.data
    claim_report_folder(report)
    seed = ["--seed", str(plan.seed)]
    paths = {"teacher": report / "teacher.pt", "ser_features": report / "ser_teacher.h5",
             "anchors": report / "anchors.h5", "features": report / "stickers_teacher.h5",
             "sentiment": report / "sentiment.h5"}
    steps = [
        ("teacher", "1/7 emotion teacher",
         ["teacher-train", str(data / "emotion"), "--arch", "tiny", "--img-size", str(plan.teacher_img_size),
          *(["--epochs", str(plan.teacher_epochs)] if plan.teacher_epochs else []), "-o", str(paths["teacher"])]),
        ("ser_features", "2/7 emotion anchors: teacher features of its own data",
         ["embed", str(data / "emotion"), "--teacher", str(paths["teacher"]), "-o", str(paths["ser_features"])]),
        ("anchors", "2/7 emotion anchors: per-emotion K-Means",
         ["build-anchors", "--teacher", str(paths["teacher"]), "--features", str(paths["ser_features"]), "--M",
          str(plan.anchors_m), "--on-small-class", "shrink", "-o", str(paths["anchors"])]),
        ("features", "3/7 teacher features of the sticker library",
         ["embed", str(data), "--teacher", str(paths["teacher"]), "-o", str(paths["features"])]),
        ("sentiment", "4/7 dialogue sentiment", ["score-sentiment", str(data), "-o", str(paths["sentiment"])]),
    ]
    for key, title, args in steps:
        if plan.reuse and paths[key].is_file():
            console.info(f"{title}: reusing {paths[key]}")
            continue
        start = time.perf_counter()
        run_step(title, [*seed, *args])
        if timings is not None:
            timings[key] = round(time.perf_counter() - start, 1)
    return paths


def pbr_args(paths: dict[str, Path]) -> list[str]:
    """The options of the full PBR model: EKD with anchors, PHSM with teacher polarity, TSCL intra + inter."""
    return ["--teacher-features", str(paths["features"]), "--anchors", str(paths["anchors"]),
            "--sentiment", str(paths["sentiment"]), "--intra", "--inter"]


def train_and_evaluate(plan: DemoPlan, name: str, extra: list[str], seed: int, title: str, paths: dict[str, Path],
                       plots: bool = False) -> dict:
    """Train one variant into report/runs/NAME and return its test metrics."""
    run = plan.report / "runs" / name
    if (run / "config.json").exists():
        import shutil

        shutil.rmtree(run)
    common = ["--data", str(plan.data), "--config", "tiny", "--steps", str(plan.steps), "-K", str(plan.batch_size),
              *plan.extra_train_args]
    run_step(title, ["--seed", str(seed), "train", *common, *extra, "-o", str(run)])
    evaluate = ["--seed", str(seed), "-q", "evaluate", str(run), "--split", "test", "--json"]
    itc = json_step([*evaluate, "--score", "itc"])
    if plots:
        (plan.report / "plots").mkdir(exist_ok=True)
        evaluate += ["--scores-out", str(plan.report / f"scores_{name}.h5"),
                     "--plots", str(plan.report / "plots" / name),
                     "--sentiment", str(paths["sentiment"]), "--teacher-features", str(paths["features"])]
    result = json_step(evaluate)
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
    results = {}
    for name, title, extra in (("base", "5/7 train Base (ITC + ITM, semantic hard negatives)", []),
                               ("pbr", "6/7 train PBR (EKD + TSCL + PHSM)", pbr_args(paths))):
        start = time.perf_counter()
        results[name] = train_and_evaluate(plan, name, extra, plan.seed, title, paths, plots=True)
        timings[name] = round(time.perf_counter() - start, 1)
    curves = write_demo_curves(plan.report)
    console.err.rule("7/7 ranked sticker sheets", style="cyan")
    sheets = write_sheets(plan, plan.report / "runs" / "pbr")
    summary = {"data": str(plan.data), "report": str(plan.report), "seed": plan.seed, "steps": plan.steps,
               "results": {name: {k: v for k, v in r.items() if k != "plots"} for name, r in results.items()},
               "sheets": sheets, "learning_curves": curves, "seconds": round(time.perf_counter() - started, 1),
               "timings": timings}
    from ..io import write_text_atomic

    results = plan.report / "results.json"
    write_text_atomic(results, dumps(summary, "the demo results", results, indent=2) + "\n")
    write_text_atomic(plan.report / "results.md", results_markdown(summary))
    return summary


def write_demo_curves(report: Path) -> str | None:
    """plots/learning_curves.png: Base and PBR side by side (val MAP / R@1 by ITM and ITC, loss terms)."""
    from ..report.curves import write_learning_curves

    (report / "plots").mkdir(exist_ok=True)
    return write_learning_curves(report / "plots" / "learning_curves.png",
                                 {label: report / "runs" / name / "metrics.jsonl" for name, label in MODELS})


def write_sheets(plan: DemoPlan, run: Path) -> list[str]:
    """Ranked sticker sheets (PNG and HTML) for the first test dialogues, over their candidate sets."""
    from ..data import open_dataset
    from ..io import write_bytes_atomic, write_text_atomic

    dataset = open_dataset(plan.data)
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
                write_bytes_atomic(target, Path(source).read_bytes())   # a later demo keeps what exists
        json_step(["-q", "rank", str(text_file), str(candidates), "--model", str(run), "--top", "6", "--json",
                   "--teacher-features", str(plan.report / "stickers_teacher.h5"),
                   "--sheet", str(sheet_dir / f"{dialogue.id}.png"), "--html", str(sheet_dir / f"{dialogue.id}.html")])
        written.append(str(sheet_dir / f"{dialogue.id}.png"))
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
    return "\n".join(lines) + "\n"


def print_results(summary: dict) -> None:
    header, rows = result_rows(summary)
    console.print_table(f"Demo test split ({summary['results']['base']['n']} dialogues, {summary['steps']} steps each)",
                        header, rows)
    console.out.print(f"report: {summary['report']} (results.md, plots/, sheets/, runs/); "
                      f"{summary['seconds']:.0f} s in all", markup=False)
