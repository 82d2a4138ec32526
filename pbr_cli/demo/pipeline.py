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
    from ..training import TrainOptions


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
    parallel: bool | None = None  # train Base in a second process beside the teacher and PBR; None: on a CPU
    # with 2 or more threads (two one-thread trainings do ~1.4x the work of one two-thread training)

    def settings(self, seed: int | None = None) -> Settings:
        """The global options of a step: this plan's device, and `seed` (default: the plan's)."""
        from ..cli import Settings

        return Settings(device=self.device, seed=self.seed if seed is None else seed, deterministic=True)


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


def _globals(seed: int) -> list[str]:
    """The global options of every step's command line: the demo's seed, and deterministic kernels."""
    return ["--deterministic", "--seed", str(seed)]


def train_teacher_step(plan: DemoPlan, paths: dict[str, Path], title: str) -> None:
    """`pbr teacher-train` on the demo's emotion set."""
    from ..summaries import print_teacher_report
    from ..teacher import train_teacher_file

    images, output, epochs = plan.data / "emotion", paths["teacher"], plan.teacher_epochs or None
    announce(
        title,
        [
            *_globals(plan.seed),
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

    announce(title, [*_globals(plan.seed), "embed", str(images), "--teacher", str(paths["teacher"]), "-o", str(output)])
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
            *_globals(plan.seed),
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

    announce(title, [*_globals(plan.seed), "score-sentiment", str(plan.data), "-o", str(paths["sentiment"])])
    print_sentiment(score_sentiment_file(plan.data, paths["sentiment"]))


INPUT_STEPS: tuple[tuple[str, str, Callable[[DemoPlan, dict[str, Path], str], None]], ...] = (
    ("teacher", "1/7 emotion teacher", train_teacher_step),
    ("ser_features", "2/7 emotion anchors: teacher features of its own data", embed_emotion_set_step),
    ("anchors", "2/7 emotion anchors: per-emotion K-Means", build_anchors_step),
    ("features", "3/7 teacher features of the sticker library", embed_library_step),
    ("sentiment", "4/7 dialogue sentiment", score_sentiment_step),
)


def prepare_inputs(
    plan: DemoPlan, timings: dict | None = None, after_step: Callable[[], None] | None = None
) -> dict[str, Path]:
    """Steps 1–4: teacher, anchors, teacher features of the library, dialogue sentiment (kept when present).

    `after_step()` is called after each step that ran."""
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
        if after_step is not None:
            after_step()
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
            *_globals(settings.seed),
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


def train_options(plan: DemoPlan, name: str, extra: dict[str, Any]) -> TrainOptions:
    """The TrainOptions of variant NAME: the plan's, then `extra` (TrainOptions fields), into report/runs/NAME."""
    from ..training import TrainOptions

    return TrainOptions(
        **{
            "data": str(plan.data),
            "config": "tiny",
            "steps": plan.steps,
            "batch_size": plan.batch_size,
            **plan.train_options,
            **extra,
            "out": str(plan.report / "runs" / name),
        }
    )


def saved_step_of_same_run(options: TrainOptions, settings: Settings) -> int | None:
    """The step report/runs/NAME saved (its train_state.pt) when that run was started with these very options,
    seed, kernels and pbr version, and after every input file it reads was last changed; else None."""
    from .. import __version__
    from ..model.weights import safe_torch_load
    from ..training import INPUT_PATHS, stored_options

    run = Path(options.out)
    try:
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))
        started = (run / "run.json").stat().st_mtime
        expected = {key: value for key, value in stored_options(options).items() if key != "out"}
        stored = {key: value for key, value in info["options"].items() if key != "out"}
        same = (stored, info["seed"], info["deterministic"], info["pbr_version"]) == (
            expected,
            settings.seed,
            settings.deterministic,
            __version__,
        )
        inputs = [Path(getattr(options, key)) for key in INPUT_PATHS if getattr(options, key)]
        if not same or any(path.is_file() and path.stat().st_mtime > started for path in inputs):
            return None
        step = safe_torch_load(run / "train_state.pt")["step"]
    except Exception:  # noqa: BLE001 - anything missing or unreadable: not a run to keep
        return None
    return step if isinstance(step, int) and 0 < step <= options.steps else None


def train_model(
    plan: DemoPlan,
    name: str,
    extra: dict[str, Any],
    seed: int,
    title: str | None,
    on_log: Callable[[int, dict], None] | None = None,
    reuse: bool = False,
) -> Path:
    """Train one variant (see `train_options`) into report/runs/NAME, replacing an earlier one; the run folder.

    `on_log(step, record)` is called in this process at every log step of the training. With `reuse`, an
    earlier run of the same options (see `saved_step_of_same_run`) is kept when finished and resumed when not.
    """
    from ..summaries import print_training
    from ..training import TrainOptions, run_training

    options = train_options(plan, name, extra)
    run = Path(options.out)
    step = saved_step_of_same_run(options, plan.settings(seed)) if reuse else None
    if step is not None and step == options.steps:
        announce(title, [*_globals(seed), "train", *options.command_args()])
        console.info(f"kept: {run} finished these {step} steps with the same options and inputs")
        return run
    if step is not None:
        announce(title, [*_globals(seed), "train", "--resume", str(run)])
        print_training(run_training(TrainOptions(), plan.settings(seed), resume=str(run), on_log=on_log))
        return run
    if (run / "config.json").exists():
        import shutil

        shutil.rmtree(run)
    announce(title, [*_globals(seed), "train", *options.command_args()])
    print_training(run_training(options, plan.settings(seed), on_log=on_log))
    return run


def _scores(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k in ("map", "mrr") or k.startswith("r")}


def evaluate_model(
    plan: DemoPlan, name: str, seed: int, paths: dict[str, Path], plots: bool = False, itc: dict | None = None
) -> dict:
    """Test metrics of report/runs/NAME by ITM, with its ITC-scored metrics (`itc`, or evaluated here) under "itc".

    `plots`: also the scores file report/scores_NAME.h5 and the figures under report/plots/NAME.
    """
    run, settings = plan.report / "runs" / name, plan.settings(seed)
    if itc is None:
        itc = _scores(_evaluate(run, settings, "itc"))
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
    result["itc"] = itc
    return result


def train_and_evaluate(
    plan: DemoPlan,
    name: str,
    extra: dict[str, Any],
    seed: int,
    title: str,
    paths: dict[str, Path],
    plots: bool = False,
    reuse: bool = False,
) -> dict:
    """Train one variant into report/runs/NAME (see `train_model`, also for `reuse`) and evaluate it on the test
    split."""
    train_model(plan, name, extra, seed, title, reuse=reuse)
    return evaluate_model(plan, name, seed, paths, plots)


def _train_in_background(job: tuple, results) -> None:
    """A worker process: train one model with `threads` threads, its output to `log`; sends ("ok", ITC-scored test
    metrics and seconds) or ("error", the exception) through the pipe end `results`."""
    import os
    import signal
    import sys
    import traceback

    import torch

    plan, name, extra, title, threads, log = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops this process
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    torch.set_num_threads(threads)
    try:
        from ..runtime import deterministic_algorithms

        start = time.perf_counter()
        with deterministic_algorithms(plan.settings().deterministic):
            run = train_model(plan, name, extra, plan.seed, title)
            itc = _scores(_evaluate(run, plan.settings(), "itc"))
        results.send(("ok", {"itc": itc, "seconds": time.perf_counter() - start}))
    except BaseException as error:  # noqa: BLE001 - every failure goes to the parent, whole where it pickles
        from ..errors import PbrError

        if isinstance(error, PbrError):
            print(f"Error: {error}", file=sys.stderr, flush=True)
        else:
            traceback.print_exc()
        try:
            results.send(("error", error))
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
            results.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))
    finally:
        results.close()


class BackgroundTraining:
    """One model trained in a spawned worker process with a share of the threads, while this process works on.

    `check` (called between this process's steps and at its training's log steps) raises the worker's error at
    once. `hand_off_at(step)` is the `on_log` hook of this process's own training: from that step on it waits
    for the worker and takes its threads. The step is fixed, not the moment the worker ends, so every training
    step runs on the same number of threads in every run, and with deterministic kernels a demo run twice gives
    the same numbers. `close` stops a worker still running (SIGTERM: in training it saves a checkpoint and
    stops, as `pbr train` does).
    """

    def __init__(self, plan: DemoPlan, name: str, extra: dict[str, Any], title: str, log: Path):
        import multiprocessing

        import torch

        self.name, self.log = name, log
        self.total = torch.get_num_threads()
        threads = max(1, self.total // 2)
        torch.set_num_threads(max(1, self.total - threads))
        context = multiprocessing.get_context("spawn")
        self.results, sender = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_train_in_background, args=((plan, name, extra, title, threads, str(log)), sender), daemon=True
        )
        self.process.start()
        sender.close()
        self.outcome: tuple[str, Any] | None = None
        self.waited: float | None = None  # seconds the hand-off waited for the worker, once it has taken its threads

    def _receive(self, wait: bool) -> tuple[str, Any] | None:
        if self.outcome is None and (wait or self.results.poll() or not self.process.is_alive()):
            try:
                self.outcome = self.results.recv()
            except EOFError:
                self.process.join()
                from ..errors import TrainingError

                self.outcome = (
                    "error",
                    TrainingError(
                        f"the process training {self.name} stopped (exit code {self.process.exitcode}); "
                        "its output is in this file",
                        self.log,
                    ),
                )
        return self.outcome

    def check(self) -> None:
        """The worker's error raised here once it has failed; nothing else (the threads stay as they are)."""
        outcome = self._receive(wait=False)
        if outcome is not None and outcome[0] == "error":
            raise outcome[1]

    def hand_off_at(self, step: int) -> Callable[[int, dict], None]:
        """An `on_log(step, record)` hook: before `step`, `check`; at the first log step from `step` on, wait for
        the worker to finish and take its threads (its error raised here)."""

        taken = False

        def hook(at: int, record: dict | None = None) -> None:
            nonlocal taken
            if at < step or taken:
                self.check()
                return
            start = time.perf_counter()
            if self._receive(wait=False) is None:
                from ..engine import stop_requested

                console.info(f"step {at}: waiting for {self.name} to finish, then on with all {self.total} threads")
                while not self.results.poll(0.5) and self.process.is_alive():
                    if stop_requested():  # Ctrl-C: the training stops after this step, and `close` the worker
                        return
            self.result()
            taken, self.waited = True, round(time.perf_counter() - start, 1)

        return hook

    def result(self) -> dict:
        """Wait for the worker; its result (its threads back to this process), or its exception raised here."""
        import torch

        outcome = self._receive(wait=True)
        if outcome[0] == "error":
            raise outcome[1]
        if torch.get_num_threads() != self.total:
            torch.set_num_threads(self.total)
        return outcome[1]

    def close(self) -> None:
        """Wait for a finished worker to exit; stop one still running (SIGTERM, then SIGKILL after 60 s)."""
        import torch

        if self.process.is_alive() and self.outcome is None:
            self.process.terminate()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.results.close()
        torch.set_num_threads(self.total)


def hand_off_step(plan: DemoPlan) -> int:
    """The step of PBR's training from which it waits for Base and trains on all threads: half its steps.

    Base starts with the teacher, PBR after steps 1-4, and a one-thread Base step is a little faster than a
    one-thread PBR step; on the machines measured Base ended when PBR was about half-way (2 cores: near its
    step 620 of 1200), so PBR seldom waits long, nor trains long on one thread beside an idle core."""
    return max(1, plan.steps // 2)


def runs_in_parallel(plan: DemoPlan) -> bool:
    """Whether Base trains in a second process (see DemoPlan.parallel)."""
    import torch

    if plan.parallel is not None:
        return plan.parallel
    return plan.settings().torch_device().type == "cpu" and torch.get_num_threads() >= 2


def run_pipeline(plan: DemoPlan) -> dict:
    """teacher -> anchors -> teacher features -> sentiment -> Base and PBR -> evaluation, plots, sheets."""
    from ..io import exclusive_lock
    from ..runtime import deterministic_algorithms

    check_report_folder(plan.report)
    plan.report.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(plan.report.parent / f".{plan.report.name}.lock", "demo report folder"):
        with deterministic_algorithms(plan.settings().deterministic):
            return _run_pipeline(plan)


BASE = ("base", "5/7 train Base (ITC + ITM, semantic hard negatives)")
PBR = ("pbr", "6/7 train PBR (EKD + TSCL + PHSM)")


def _run_pipeline(plan: DemoPlan) -> dict:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    claim_report_folder(plan.report)
    import shutil

    for earlier in ("logs", "sheets"):  # an earlier run's (another seed, size or schedule) would be mixed in
        shutil.rmtree(plan.report / earlier, ignore_errors=True)
    background = None
    if runs_in_parallel(plan):
        log = plan.report / "logs" / "base.log"
        log.parent.mkdir(exist_ok=True)
        announce(BASE[1], [*_globals(plan.seed), "train", *train_options(plan, BASE[0], {}).command_args()])
        console.info(f"Base trains in a second process beside steps 1-4 and PBR; its output: {log}")
        background = BackgroundTraining(plan, BASE[0], {}, BASE[1], log)
    try:
        results, teacher = _train_models(plan, timings, background)
    finally:
        if background is not None:
            background.close()
    curves = write_demo_curves(plan.report)
    console.err.rule("7/7 ranked sticker sheets", style="cyan")
    sheets = write_sheets(plan, plan.report / "runs" / "pbr")
    summary = {
        "data": str(plan.data),
        "report": str(plan.report),
        "seed": plan.seed,
        "steps": plan.steps,
        "parallel": background is not None,
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


def _train_models(
    plan: DemoPlan, timings: dict[str, float], background: BackgroundTraining | None
) -> tuple[dict[str, dict], dict]:
    """Steps 1-6: the inputs, then Base and PBR trained and evaluated (Base in `background` when given).

    Returns each model's test metrics and what is known of the teacher's accuracy."""
    from ..data import open_dataset
    from .checks import teacher_summary

    paths = prepare_inputs(plan, timings, background.check if background else None)
    teacher = teacher_summary(paths["teacher"], paths["features"], open_dataset(plan.data))
    results: dict[str, Any] = {}
    here = [(PBR, pbr_options(paths))] if background is not None else [(BASE, {}), (PBR, pbr_options(paths))]
    for (name, title), extra in here:
        start = time.perf_counter()
        hand_off = background.hand_off_at(hand_off_step(plan)) if background else None
        train_model(plan, name, extra, plan.seed, title, on_log=hand_off)
        results[name] = evaluate_model(plan, name, plan.seed, paths, plots=True)
        timings[name] = round(time.perf_counter() - start, 1)
    if background is not None:
        console.info("waiting for Base to finish ...")
        base = background.result()
        start = time.perf_counter()
        results[BASE[0]] = evaluate_model(plan, BASE[0], plan.seed, paths, plots=True, itc=base["itc"])
        timings[BASE[0]] = round(base["seconds"] + time.perf_counter() - start, 1)
        if background.waited is not None:
            timings["pbr_waited_for_base"] = background.waited  # at the hand-off step
    return {name: results[name] for name, _ in (BASE, PBR)}, teacher


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
                write_bytes_atomic(target, Path(source).read_bytes())
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
