"""Nothing lost, nothing half-made: outputs never replace inputs, run folders have one writer and appear only
once they hold a checkpoint, the demo writes only into a report folder of its own."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import TRAIN, assert_refused, module_cache, run_pbr
from pbr_cli.errors import OutputError
from pbr_cli.io import Busy, exclusive_lock, refuse_overwriting_inputs
from pbr_cli.runfolder import new_run_dir
from synthetic import EMOTIONS, write_tiny_dataset


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (symlinks as their target text): a picture of the inputs."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            hashes[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            hashes[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A dataset, a teacher, its features, anchors, a sentiment file, a trained run and its sticker index."""
    from pbr_cli.teacher import Teacher, build_classifier

    root = tmp_path_factory.mktemp("guard")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        teacher = Teacher(*build_classifier("tiny", 32)).save(root / "teacher.pt")
        for args in (
            ["embed", data, "--teacher", teacher, "-o", root / "features.h5"],
            ["score-sentiment", data, "-o", root / "sentiment.h5"],
            ["train", "--data", data, "-o", root / "run", *TRAIN],
            ["embed", data / "stickers", "--model", root / "run", "-o", root / "index.h5"],
        ):
            result = run_pbr(*args)
            assert result.exit_code == 0, result.output
        (root / "dialogue.txt").write_text("你好\n今天好开心\n", encoding="utf-8")
        pictures = sorted((data / "stickers").rglob("*.png"))
        for number, emotion in enumerate(EMOTIONS):  # an emotion folder root/<emotion>/*.png for the teacher
            (root / "emotion" / emotion).mkdir(parents=True)
            for copy in range(2):
                shutil.copy(pictures[(2 * number + copy) % len(pictures)], root / "emotion" / emotion / f"{copy}.png")
    return root


def _targets(root: Path) -> dict[str, Path]:
    data = root / "data"
    return {
        "split": data / "train.jsonl",
        "stickers": data / "stickers.jsonl",
        "image": next((data / "stickers").rglob("*.png")),
        "teacher": root / "teacher.pt",
        "features": root / "features.h5",
        "sentiment": root / "sentiment.h5",
        "index": root / "index.h5",
        "dialogue": root / "dialogue.txt",
        "emotion_image": root / "emotion" / EMOTIONS[0] / "0.png",
        "weights": root / "run" / "best.safetensors",
    }


# command -> (arguments before the output, output option, the inputs it may be pointed at)
COMMANDS = {
    "score-sentiment": (lambda r: [r / "data"], "-o", ["split", "stickers"]),
    "embed": (lambda r: [r / "data", "--teacher", r / "teacher.pt"], "-o", ["teacher", "stickers", "image"]),
    "build-anchors": (
        lambda r: ["--teacher", r / "teacher.pt", "--features", r / "features.h5"],
        "-o",
        ["teacher", "features"],
    ),
    "teacher-train": (lambda r: [r / "emotion", "--epochs", "1"], "-o", ["emotion_image"]),
    "rank --sheet": (
        lambda r: [r / "dialogue.txt", r / "index.h5", "--model", r / "run"],
        "--sheet",
        ["index", "dialogue", "weights"],
    ),
    "rank --html": (
        lambda r: [r / "dialogue.txt", r / "index.h5", "--model", r / "run"],
        "--html",
        ["index", "dialogue"],
    ),
    "evaluate": (
        lambda r: [r / "run", "--data", r / "data", "--split", "val"],
        "--scores-out",
        ["weights", "split", "sentiment"],
    ),
}
HOW = ("same-file", "symlink", "hardlink")
CASES = [(command, target, how) for command, (_, _, targets) in COMMANDS.items() for target in targets for how in HOW]


@pytest.mark.parametrize("command,target,how", CASES, ids=[f"{c}-{t}-{h}" for c, t, h in CASES])
def test_output_onto_an_input_is_refused_before_any_work(invoke, world, tmp_path, command, target, how):
    name = command.split()[0]
    before, option, _ = COMMANDS[command]
    arguments = before(world)
    if name == "evaluate" and target == "sentiment":
        arguments += ["--plots", tmp_path / "plots", "--sentiment", world / "sentiment.h5"]
    victim = _targets(world)[target]
    if how == "same-file":
        output = victim
    else:
        output = tmp_path / ("out" + victim.suffix)
        (os.symlink if how == "symlink" else os.link)(victim, output)
    snapshot = tree_hashes(world)
    started = time.perf_counter()
    result = invoke(name, *arguments, option, output)
    assert_refused(result, str(output), "nothing was written")
    assert tree_hashes(world) == snapshot
    assert time.perf_counter() - started < 10  # refused before loading any model or data worth the name


@pytest.mark.parametrize("command", ["score-sentiment", "evaluate"])
def test_an_output_that_a_dataset_file_links_to_is_refused(invoke, world, tmp_path, command):
    """A dataset whose split file is a symbolic link to a file elsewhere: that file is an input too."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(world / "data", data)
    kept = tmp_path / "val_elsewhere.jsonl"
    (data / "val.jsonl").rename(kept)
    (data / "val.jsonl").symlink_to(kept)
    before = kept.read_bytes()
    if command == "score-sentiment":
        result = invoke("score-sentiment", data, "-o", kept)
    else:
        result = invoke("evaluate", world / "run", "--data", data, "--split", "val", "--scores-out", kept)
    assert_refused(result, str(kept), "a symbolic link in", "nothing was written")
    assert kept.read_bytes() == before


def test_guard_allows_replacing_an_earlier_output_inside_the_dataset(invoke, tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    for _ in range(2):
        result = invoke("score-sentiment", data, "-o", data / "sentiment.h5")
        assert result.exit_code == 0, result.output
    with h5py.File(data / "sentiment.h5", "r") as handle:
        assert handle.attrs["kind"] == "sentiment"


def test_guard_library_function_names_the_option(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("x")
    with pytest.raises(OutputError, match=r"--out names the input"):
        refuse_overwriting_inputs({"--out": source}, [source])
    refuse_overwriting_inputs({"--out": tmp_path / "new.h5"}, [source, tmp_path])  # a new file is fine
    refuse_overwriting_inputs({"--out": None}, [source])


# ---------------------------------------------------------------------------------------------------------------
# inputs a command reads without their being named: the run's dataset, the teacher's data, an index's images, the
# newest run, the demo's data


def _implied_case(case: str, world: Path, tmp_path: Path, monkeypatch) -> tuple[list, Path]:
    """(the command line, the input file its output names) for one way of reaching an implied input."""
    from pbr_cli.demo.build import default_demo_dir
    from pbr_cli.teacher import Teacher, build_classifier

    data, run, image = world / "data", world / "run", _targets(world)["image"]
    rank = ["rank", world / "dialogue.txt", world / "index.h5", "--model", run]
    if "newest-run" in case:  # no RUN / --model: the newest run under runs/ of the working folder
        monkeypatch.chdir(tmp_path)
        (tmp_path / "runs").mkdir()
        (tmp_path / "runs" / "latest").symlink_to(run, target_is_directory=True)
    if case == "build-anchors-teacher-data":  # the images the teacher was trained on
        model, config = build_classifier("tiny", 32)
        Teacher(model, config, info={"data": str(world / "emotion")}).save(tmp_path / "teacher.pt")
    if case == "build-anchors-default-teacher":  # teacher.pt of the working folder
        monkeypatch.chdir(tmp_path)
        shutil.copy(world / "teacher.pt", tmp_path / "teacher.pt")
    if case == "rank-jsonl-output":
        (tmp_path / "dialogues.jsonl").write_text('{"id": "a", "context": ["你好"]}\n', encoding="utf-8")
    demo = default_demo_dir()  # the demo dataset, as far as the guard is concerned (in this test's own cache)
    if case == "score-sentiment-demo":
        demo.mkdir(parents=True)
        (demo / "test.jsonl").write_text('{"id": "d1"}\n', encoding="utf-8")
    if case == "teacher-train-demo":
        (demo / "emotion" / EMOTIONS[0]).mkdir(parents=True)
        shutil.copy(image, demo / "emotion" / EMOTIONS[0] / "0.png")
    return {
        "evaluate-run-dataset": (["evaluate", run, "--split", "val", "--scores-out"], data / "test.jsonl"),
        "evaluate-weights-file": (
            ["evaluate", run / "best.safetensors", "--data", data, "--split", "val", "--scores-out"],
            run / "config.json",
        ),
        "evaluate-newest-run": (["evaluate", "--split", "val", "--scores-out"], Path("runs/latest/metrics.jsonl")),
        "evaluate-newest-run-dataset": (["evaluate", "--split", "val", "--scores-out"], data / "val.jsonl"),
        "build-anchors-teacher-data": (
            ["build-anchors", "--teacher", tmp_path / "teacher.pt", "-M", "1", "-o"],
            _targets(world)["emotion_image"],
        ),
        "build-anchors-default-teacher": (["build-anchors", "-M", "1", "-o"], Path("teacher.pt")),
        "rank-index-sheet": ([*rank, "--sheet"], image),
        "rank-index-html": ([*rank, "--html"], image),
        "rank-jsonl-output": (["rank", tmp_path / "dialogues.jsonl", world / "index.h5", "--model", run, "-o"], image),
        "rank-newest-run": (["rank", world / "dialogue.txt", world / "index.h5", "--sheet"], run / "tokenizer.json"),
        "embed-weights-file": (
            ["embed", data / "stickers", "--model", run / "best.safetensors", "-o"],
            run / "run.json",
        ),
        "score-sentiment-demo": (["score-sentiment", "-o"], demo / "test.jsonl"),
        "teacher-train-demo": (
            ["teacher-train", "--arch", "tiny", "--epochs", "1", "--img-size", "32", "-o"],
            demo / "emotion" / EMOTIONS[0] / "0.png",
        ),
    }[case]


IMPLIED = [
    "evaluate-run-dataset",
    "evaluate-weights-file",
    "evaluate-newest-run",
    "evaluate-newest-run-dataset",
    "build-anchors-teacher-data",
    "build-anchors-default-teacher",
    "rank-index-sheet",
    "rank-index-html",
    "rank-jsonl-output",
    "rank-newest-run",
    "embed-weights-file",
    "score-sentiment-demo",
    "teacher-train-demo",
]


@pytest.mark.parametrize("case", IMPLIED)
def test_output_onto_an_implied_input_is_refused(invoke, world, tmp_path, monkeypatch, isolated_cache, case):
    arguments, victim = _implied_case(case, world, tmp_path, monkeypatch)
    content = victim.read_bytes()
    snapshot = tree_hashes(world), tree_hashes(tmp_path), tree_hashes(isolated_cache)
    started = time.perf_counter()
    result = invoke(*arguments, victim)
    assert_refused(result, f"Error: {victim}: ", "nothing was written")
    assert victim.read_bytes() == content
    assert (tree_hashes(world), tree_hashes(tmp_path), tree_hashes(isolated_cache)) == snapshot
    assert time.perf_counter() - started < 10  # refused before loading any model or data worth the name


@pytest.mark.parametrize("figure", ["fig5_intensity.png", "fig4_tsne.png"])
def test_plots_folder_that_would_replace_a_file_of_an_input_folder_is_refused(invoke, world, figure):
    folder = world / "data" / "stickers" / "t0"
    victim = folder / figure
    victim.write_bytes(b"the user's own picture")
    try:
        snapshot = tree_hashes(world)
        for data in ([], ["--data", world / "data"]):  # the run's own dataset, or named
            result = invoke("evaluate", world / "run", *data, "--split", "val", "--plots", folder)
            message = assert_refused(
                result, str(victim), "--plots would replace an existing file", "nothing was written"
            )
            assert f"input folder {world / 'data'}" in message
            assert tree_hashes(world) == snapshot
    finally:
        victim.unlink()


def test_plots_folder_that_holds_sticker_images_is_refused(invoke, world, tmp_path):
    """New plots in a sticker folder would become stickers for `embed` and `rank`, which read every image there."""
    for folder in (world / "data" / "stickers" / "t0", tmp_path / "mine"):
        if not folder.exists():
            folder.mkdir()
            (folder / "sticker.PNG").write_bytes(b"a user's sticker")
        snapshot = tree_hashes(folder)
        result = invoke("evaluate", world / "run", "--split", "val", "--plots", folder)
        assert_refused(result, f"{folder}: holds ", "image(s) other than pbr's plots", "a folder of its own")
        assert tree_hashes(folder) == snapshot


def test_guard_checks_the_files_a_folder_output_writes(tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    plots = data / "stickers" / "t0"
    files = {"--plots": ("fig.png",)}
    refuse_overwriting_inputs({"--plots": plots}, [data], ("--plots",), files)  # new files only: fine
    (plots / "fig.png").write_bytes(b"x")
    with pytest.raises(OutputError, match=r"--plots would replace an existing file inside the input folder"):
        refuse_overwriting_inputs({"--plots": plots}, [data], ("--plots",), files)
    refuse_overwriting_inputs({"--plots": plots}, [tmp_path / "elsewhere"], ("--plots",), files)


def test_two_outputs_naming_one_file_are_refused(invoke, world, tmp_path):
    same = tmp_path / "same.out"
    with pytest.raises(OutputError, match=r"--sheet and --html name the same file"):
        refuse_overwriting_inputs({"--sheet": same, "--html": tmp_path / "." / "same.out"}, [])
    files = {"--plots": ("fig.png",)}
    with pytest.raises(OutputError, match=r"--scores-out and --plots name the same file"):
        refuse_overwriting_inputs({"--scores-out": tmp_path / "fig.png", "--plots": tmp_path}, [], ("--plots",), files)
    refuse_overwriting_inputs({"--sheet": same, "--html": tmp_path / "page.html"}, [])
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n", encoding="utf-8")
    result = invoke("rank", dialogue, world / "index.h5", "--model", world / "run", "--sheet", same, "--html", same)
    assert_refused(result, "--sheet and --html name the same file", not_written=(same,))


# ---------------------------------------------------------------------------------------------------------------
# pbr demo --report


@pytest.mark.parametrize("content", ["teacher.pt", "runs/base/best.safetensors", "notes.txt"])
def test_demo_report_into_a_foreign_folder_is_refused(invoke, tmp_path, content):
    report = tmp_path / "mine"
    (report / content).parent.mkdir(parents=True, exist_ok=True)
    (report / content).write_bytes(b"the user's own file")
    snapshot = tree_hashes(report)
    result = invoke("demo", "--size", "tiny", "--out", tmp_path / "demo", "--report", report, "--steps", "1")
    assert_refused(result, str(report), "not a pbr demo report")
    assert tree_hashes(report) == snapshot
    assert not (tmp_path / "demo").exists()  # refused before the dataset was built


def test_demo_report_folder_is_marked_and_reusable(tmp_path):
    from pbr_cli.demo.pipeline import REPORT_MARKER, check_report_folder, claim_report_folder

    report = tmp_path / "report"
    check_report_folder(report)  # absent: fine
    claim_report_folder(report)
    assert (report / REPORT_MARKER).is_file()
    (report / "teacher.pt").write_bytes(b"an earlier demo's teacher")
    check_report_folder(report)  # the demo's own folder may be written into again
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_report_folder(tmp_path / "file")


# ---------------------------------------------------------------------------------------------------------------
# run folders: one writer, no half-made folder


def test_lock_refuses_a_second_holder_and_is_released(tmp_path):
    lock = tmp_path / ".run.lock"
    with exclusive_lock(lock, "run folder"):
        with pytest.raises(Busy, match=rf"pid {os.getpid()}\b.*writing this run folder"):
            with exclusive_lock(lock, "run folder"):
                pass
    assert not lock.exists()
    with exclusive_lock(lock, "run folder"):  # free again
        pass


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    lock = tmp_path / ".run.lock"
    script = textwrap.dedent(f"""
        import os, sys
        from pbr_cli.io import exclusive_lock
        with exclusive_lock({str(lock)!r}, "run folder"):
            print("held", flush=True)
            sys.stdin.readline()
            os._exit(9)                          # dies holding it: no clean-up runs
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=f"pid {holder.pid}"):
            with exclusive_lock(lock, "run folder"):
                pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    finally:
        holder.kill()
    assert lock.exists()  # left behind by the killed process ...
    with exclusive_lock(lock, "run folder"):  # ... and simply taken over
        pass


def test_second_train_into_the_same_folder_is_refused(world, tmp_path, invoke):
    """While one `pbr train -o X` runs, another (in this process) is refused at once; the first goes on alone
    (one clean run)."""
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "pbr_cli.cli",
        "train",
        "--data",
        str(world / "data"),
        "-o",
        str(out),
        "--steps",
        "100000",
        "-K",
        "4",
        "--img-size",
        "32",
        "--val-every",
        "5",
    ]
    env = {**os.environ, "PBR_CACHE_DIR": str(world / "cache"), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "train_state.pt").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (out / "train_state.pt").exists(), first.communicate()
        second = invoke(*command[3:])  # refused while the first goes on
        assert second.exit_code == 1, second.output
        said = " ".join(second.stderr.split())
        assert "Error: " in said and "another pbr process" in said and "Traceback" not in said, second.output
        assert f"pid {first.pid}" in said and str(out) in "".join(said.split()), said  # a path may wrap
        first.send_signal(signal.SIGINT)
        _, errors = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 130, errors  # interrupted: checkpoint saved, resumable
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [record["step"] for record in records if "split" not in record]
    assert steps == sorted(set(steps))  # one writer: no step logged twice
    assert not (tmp_path / ".run.lock").exists()


@pytest.mark.parametrize("breaker", ["batch-too-large", "nan-loss"])
def test_failed_start_leaves_no_run_folder_and_the_same_command_works_after(
    invoke, world, tmp_path, monkeypatch, breaker
):
    out = tmp_path / "run"
    if breaker == "batch-too-large":
        result = invoke("train", "--data", world / "data", "-o", out, "--steps", "2", "-K", "500", "--img-size", "32")
        assert_refused(result, "batch size 500")
    else:
        from pbr_cli.losses import objective

        real = objective.Objective.__call__
        monkeypatch.setattr(
            objective.Objective,
            "__call__",
            lambda self, *a, **k: {name: value * float("nan") for name, value in real(self, *a, **k).items()},
        )
        result = invoke("train", "--data", world / "data", "-o", out, *TRAIN)
        assert_refused(result, "became nan", "no run folder was left")
        monkeypatch.undo()
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no staging folder, no lock file
    result = invoke("train", "--data", world / "data", "-o", out, *TRAIN)
    assert result.exit_code == 0, result.output
    assert (out / "train_state.pt").is_file() and (out / "best.safetensors").is_file()


def test_unfinished_start_of_an_older_version_is_replaced(invoke, world, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("config.json", "run.json", "tokenizer.json"):
        (out / name).write_text("{}")
    (out / "metrics.jsonl").write_text("")
    result = invoke("train", "--data", world / "data", "-o", out, *TRAIN)
    assert result.exit_code == 0, result.output
    assert (out / "last.safetensors").is_file()


@pytest.mark.parametrize("problem", ["existing-file", "non-empty-folder", "existing-run", "under-a-file", "proc"])
def test_run_folder_that_cannot_be_created_is_refused(invoke, world, tmp_path, problem):
    out = {
        "existing-file": tmp_path / "file",
        "non-empty-folder": tmp_path / "folder",
        "existing-run": world / "run",
        "under-a-file": tmp_path / "file" / "run",
        "proc": Path("/proc/pbr-run"),
    }[problem]
    (tmp_path / "file").write_text("the user's file")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep.txt").write_text("the user's file")
    snapshot = tree_hashes(tmp_path), tree_hashes(world / "run")
    result = invoke("train", "--data", world / "data", "-o", out, *TRAIN)
    needle = {
        "existing-file": "not a folder",
        "non-empty-folder": "not empty",
        "existing-run": "a run already exists",
        "under-a-file": "not a folder",
        "proc": "cannot",
    }[problem]
    assert_refused(result, needle)
    assert (tree_hashes(tmp_path), tree_hashes(world / "run")) == snapshot


def test_new_run_dir_names_the_final_folder_in_write_errors(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(OutputError) as caught:
        with new_run_dir(final) as run:
            assert run.path != final and run.path.parent == tmp_path and run.path.name.startswith(".run.")
            raise OutputError("no space left on device; nothing was written", run.path / "config.json")
    assert str(caught.value).startswith(f"{final / 'config.json'}: no space left")
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_leaves_the_staging_folder_of_a_run_whose_name_starts_like_its_own(tmp_path):
    other = tmp_path / ".run.seed1.abcd1234.partial"  # run "run.seed1" being started by another process
    other.mkdir()
    (other / "config.json").write_text("{}")
    stale = tmp_path / ".run.k3j_x9q2.partial"  # a killed start of "run" itself
    stale.mkdir()
    with new_run_dir(tmp_path / "run") as run:
        run.publish()
    assert (other / "config.json").is_file() and not stale.exists()


def test_a_default_run_folder_being_started_by_another_run_is_passed_over(invoke, world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with exclusive_lock(tmp_path / "runs" / ".tiny-itm.lock", "run folder"):  # another run starting there
        result = invoke("train", "--data", world / "data", *TRAIN, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"] == str(Path("runs") / "tiny-itm-2")
    assert (tmp_path / "runs" / "tiny-itm-2" / "best.safetensors").is_file()


def test_weights_have_the_permissions_of_every_other_output(world):
    modes = {path.name: path.stat().st_mode & 0o777 for path in (world / "run").iterdir() if path.is_file()}
    mask = os.umask(0)
    os.umask(mask)
    expected = 0o666 & ~mask
    assert modes["best.safetensors"] == modes["last.safetensors"] == modes["config.json"] == expected, modes


def test_empty_val_split_is_announced(invoke, tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    (data / "val.jsonl").write_text("")
    result = invoke("train", "--data", data, "-o", tmp_path / "run", *TRAIN)
    assert result.exit_code == 0, result.output
    assert "the val split is empty: no validation" in " ".join(result.output.split())
    assert np.isfinite(json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["loss"])


def test_missing_best_checkpoint_falls_back_to_last_with_a_notice(invoke, world, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(world / "run", run)
    (run / "best.safetensors").unlink()
    result = invoke("evaluate", run, "--data", world / "data", "--split", "val", "--json")
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())  # the console wraps long notices
    assert "has no best.safetensors" in words and "using last.safetensors" in words


def test_evaluate_without_runs_names_its_own_argument(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = assert_refused(invoke("evaluate"), "no trained run found")
    assert "pbr evaluate RUN" in message


def test_demo_report_of_an_earlier_version_is_recognised(tmp_path):
    from pbr_cli.demo.pipeline import REPORT_MARKER, check_report_folder, claim_report_folder

    report = tmp_path / "pbr-demo"
    report.mkdir()
    (report / "results.json").write_text(json.dumps({"data": "d", "report": str(report), "results": {}, "sheets": []}))
    check_report_folder(report)
    claim_report_folder(report)
    assert (report / REPORT_MARKER).is_file()
    (report / "results.json").write_text(json.dumps({"something": "else"}))
    (report / REPORT_MARKER).unlink()
    with pytest.raises(OutputError, match="not a pbr demo report"):
        check_report_folder(report)


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "run", "--scores-out", "run/config.json"],
        ["embed", ".", "--model", "run", "-o", "run/config.json"],
        ["rank", "hi", "run", "--model", "run", "--json", "-o", "run/config.json"],
    ],
)
def test_an_output_onto_an_implied_input_is_refused_before_torch_loads(tmp_path, args):
    """The guards find the run a command would read without loading a model: the refusal is instant."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    probe = textwrap.dedent(
        f"""
        import sys
        from pbr_cli.cli import cli
        try:
            cli({args!r}, prog_name="pbr")
        except SystemExit as exit:
            print("exit", exit.code, "torch" in sys.modules)
        """
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert "names an existing file inside the input folder" in proc.stderr, proc.stderr
    assert proc.stdout.split() == ["exit", "1", "False"], proc.stdout + proc.stderr
    assert (tmp_path / "run" / "config.json").read_text() == "{}"
