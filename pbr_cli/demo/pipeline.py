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


@dataclass
class DemoPlan:
    """Sizes of the demo pipeline; the defaults run in minutes on a 2-core CPU."""

    data: Path
    report: Path
    seed: int = 0
    teacher_epochs: int = 12
    teacher_img_size: int = 128
    anchors_m: int = 20
    steps: int = 600
    batch_size: int = 16
    sheets: int = 3
    extra_train_args: list[str] = field(default_factory=list)


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


def run_pipeline(plan: DemoPlan) -> dict:
    """teacher -> anchors -> teacher features -> sentiment -> Base and PBR -> evaluation, plots, sheets."""
    report, data = plan.report, plan.data
    report.mkdir(parents=True, exist_ok=True)
    runs = report / "runs"
    for name in ("base", "pbr"):
        if (runs / name / "config.json").exists():
            import shutil

            shutil.rmtree(runs / name)
    seed = ["--seed", str(plan.seed)]
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name, function, *args):
        start = time.perf_counter()
        result = function(*args)
        timings[name] = round(time.perf_counter() - start, 1)
        return result

    teacher = report / "teacher.pt"
    timed("teacher", run_step, "1/7 emotion teacher", [*seed, "teacher-train", str(data / "emotion"), "--arch", "tiny",
                                                    "--img-size", str(plan.teacher_img_size), "--epochs",
                                                    str(plan.teacher_epochs), "-o", str(teacher)])
    timed("anchors", run_step, "2/7 emotion anchors", [
        *seed, "embed", str(data / "emotion"), "--teacher", str(teacher), "-o", str(report / "ser_teacher.h5")])
    run_step("2/7 emotion anchors", [*seed, "build-anchors", "--teacher", str(teacher), "--features",
                                     str(report / "ser_teacher.h5"), "--M", str(plan.anchors_m), "--on-small-class",
                                     "shrink", "-o", str(report / "anchors.h5")])
    timed("sticker features", run_step, "3/7 teacher features of the sticker library", [
        *seed, "embed", str(data), "--teacher", str(teacher), "-o", str(report / "stickers_teacher.h5")])
    timed("sentiment", run_step, "4/7 dialogue sentiment", [
        *seed, "score-sentiment", str(data), "-o", str(report / "sentiment.h5")])
    common = ["--data", str(data), "--config", "tiny", "--steps", str(plan.steps), "-K", str(plan.batch_size),
              *plan.extra_train_args]
    timed("train base", run_step, "5/7 train Base (ITC + ITM, semantic hard negatives)", [
        *seed, "train", *common, "-o", str(runs / "base")])
    timed("train pbr", run_step, "6/7 train PBR (EKD + TSCL + PHSM)", [
        *seed, "train", *common, "-o", str(runs / "pbr"), "--teacher-features", str(report / "stickers_teacher.h5"),
        "--anchors", str(report / "anchors.h5"), "--sentiment", str(report / "sentiment.h5"), "--intra", "--inter"])
    console.err.rule("7/7 evaluate on the test split, plots and sticker sheets", style="cyan")
    results = {}
    (report / "plots").mkdir(exist_ok=True)
    for name in ("base", "pbr"):
        start = time.perf_counter()
        results[name] = json_step([*seed, "-q", "evaluate", str(runs / name), "--split", "test", "--json",
                                   "--scores-out", str(report / f"scores_{name}.h5"), "--plots",
                                   str(report / "plots" / name), "--sentiment", str(report / "sentiment.h5"),
                                   "--teacher-features", str(report / "stickers_teacher.h5")])
        timings[f"evaluate {name}"] = round(time.perf_counter() - start, 1)
    sheets = write_sheets(plan, runs / "pbr")
    summary = {"data": str(data), "report": str(report), "seed": plan.seed, "steps": plan.steps,
               "results": {name: {k: v for k, v in r.items() if k not in ("plots",)} for name, r in results.items()},
               "sheets": sheets, "seconds": round(time.perf_counter() - started, 1), "timings": timings}
    from ..io import write_text_atomic

    write_text_atomic(report / "results.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(report / "results.md", results_markdown(summary))
    return summary


def write_sheets(plan: DemoPlan, run: Path) -> list[str]:
    """Ranked sticker sheets (PNG and HTML) for the first test dialogues, over their candidate sets."""
    from ..data import open_dataset

    dataset = open_dataset(plan.data)
    written = []
    sheet_dir = plan.report / "sheets"
    sheet_dir.mkdir(parents=True, exist_ok=True)
    for dialogue in dataset.split("test")[: plan.sheets]:
        text_file = sheet_dir / f"{dialogue.id}.txt"
        text_file.write_text("\n".join(dialogue.context) + "\n", encoding="utf-8")
        candidates = sheet_dir / f"{dialogue.id}_candidates"
        candidates.mkdir(exist_ok=True)
        for sticker_id in dialogue.candidates:
            source = dataset.stickers[sticker_id].path
            target = candidates / Path(source).name
            if not target.exists():
                target.write_bytes(Path(source).read_bytes())
        json_step(["-q", "rank", str(text_file), str(candidates), "--model", str(run), "--top", "6", "--json",
                   "--sheet", str(sheet_dir / f"{dialogue.id}.png"), "--html", str(sheet_dir / f"{dialogue.id}.html")])
        written.append(str(sheet_dir / f"{dialogue.id}.png"))
    return written


def results_markdown(summary: dict) -> str:
    lines = ["| model | MAP | MRR | R10@1 | R10@2 | R10@5 |", "|---|---|---|---|---|---|"]
    for name, label in (("base", "Base (ITC + ITM)"), ("pbr", "PBR (EKD + TSCL + PHSM)")):
        r = summary["results"][name]
        n = r["candidates"]
        lines.append(f"| {label} | " + " | ".join(f"{100 * r[k]:.2f}" for k in
                                                  ("map", "mrr", f"r{n}@1", f"r{n}@2", f"r{n}@5")) + " |")
    return "\n".join(lines) + "\n"


def print_results(summary: dict) -> None:
    rows = []
    for name, label in (("base", "Base (ITC + ITM)"), ("pbr", "PBR (EKD + TSCL + PHSM)")):
        r = summary["results"][name]
        n = r["candidates"]
        rows.append([label] + [f"{100 * r[k]:.2f}" for k in ("map", "mrr", f"r{n}@1", f"r{n}@2", f"r{n}@5")])
    n = summary["results"]["base"]["candidates"]
    console.print_table(f"Demo test split ({summary['results']['base']['n']} dialogues, {summary['steps']} steps each)",
                        ["model", "MAP", "MRR", f"R{n}@1", f"R{n}@2", f"R{n}@5"], rows)
    console.out.print(f"report: {summary['report']} (results.md, plots/, sheets/, runs/); "
                      f"{summary['seconds']:.0f} s in all", markup=False)
