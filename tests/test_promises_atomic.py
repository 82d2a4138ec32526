"""README: "every output is written to a temporary file and renamed into place, so an interrupted command never
leaves a half-written file". Each writer is killed (SIGKILL) inside its write and must leave the earlier file
intact, or no file, and nothing a later run would take for output.

The kill is deterministic, not timed: a forked child runs the command with `os.replace` wrapped, and when the
rename onto the writer's target comes, it cuts the temporary file to half its size and SIGKILLs itself. That is
the disk a kill half-way through the write leaves: a partial temporary beside the untouched target. A writer that
does not write through a temporary and a rename never reaches the kill, and its case fails.

What a kill leaves is hidden and is no output: `.<name>.<random><suffix>.tmp` beside the target (no reader opens
hidden or `.tmp` files, and the next atomic write does not mind it), the stale `.<run>.lock` of a run folder
(taken over by the next run) and the `.<run>.<random>.partial` staging folder of a new run (removed by the next
`pbr train -o` of that name, and never picked as "the most recent run").
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from helpers import TRAIN, module_cache, run_pbr
from synthetic import write_emotion_images, write_tiny_dataset

TRAIN_RUN = [*TRAIN, "--val-every", "1"]  # best.safetensors and train_state.pt at step 1, before publishing
RESUME: list[str] = []  # --resume of the 2-step run rewound to step 1: trains step 2, replaces every checkpoint file


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A dataset, a 2-step run of it, emotion images, a teacher and its features, dialogue files."""
    from pbr_cli.teacher import Teacher, build_classifier

    root = tmp_path_factory.mktemp("atomic")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        emotions = write_emotion_images(root / "emotions", per_class=2, size=16)
        Teacher(*build_classifier("tiny", 16)).save(root / "teacher.pt")  # untrained: its features suffice
        for args in (
            ["train", "--data", data, "-o", root / "run", *TRAIN_RUN],
            ["embed", emotions, "--teacher", root / "teacher.pt", "-o", root / "features.h5"],
        ):
            result = run_pbr(*args)
            assert result.exit_code == 0, result.output
    (root / "dialogue.txt").write_text("你好\n我想要猫呀\n", encoding="utf-8")
    (root / "dialogues.jsonl").write_text(
        '{"id": "a", "context": ["你好", "我想要猫呀"]}\n{"id": "b", "context": ["我想要狗吧"]}\n', encoding="utf-8"
    )
    return {"root": root, "data": data, "emotions": emotions, "run": root / "run"}


# ---------------------------------------------------------------------------------------------------------------
# What is complete: each target read back by the reader its consumers use


def h5_of(kind: str) -> Callable[[Path], None]:
    def read(path: Path) -> None:
        from pbr_cli.features import read_h5

        read_h5(path, kind)

    return read


def png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.load()


def safetensors(path: Path) -> None:
    from pbr_cli.model.weights import read_weights

    read_weights(path)


def train_state(path: Path) -> None:
    from pbr_cli.model.weights import safe_torch_load

    assert safe_torch_load(path)["step"] > 0


def teacher(path: Path) -> None:
    """Every tensor and the header's config (not load_teacher: a one-epoch bf16 teacher may hold NaN weights)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    assert load_file(path)
    with safe_open(path, "pt") as handle:
        assert handle.metadata()["format"] and handle.metadata()["config"]


def html(path: Path) -> None:
    assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")


def rankings(path: Path) -> None:
    import json

    assert [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()] == ["a", "b"]


# ---------------------------------------------------------------------------------------------------------------
# The writers


@dataclass
class Writer:
    """A command and the file it writes. `earlier`: the output exists before the killed run (written by the same
    command, or the 2-step run a --resume continues). `new_run`: the target is in a run folder being created."""

    target: str  # relative to the case's output folder
    command: Callable[[dict, Path], list]  # (inputs, output folder) -> pbr arguments
    complete: Callable[[Path], None]
    earlier: bool = True
    new_run: bool = False


def resume(inputs, out):
    return ["train", "--resume", out / "run", *RESUME]


def new_run(inputs, out):
    return ["train", "--data", inputs["data"], "-o", out / "new", *TRAIN_RUN]


def rank(*extra):
    def command(inputs, out):
        return [
            "rank",
            inputs["root"] / "dialogue.txt",
            inputs["data"] / "stickers",
            "--model",
            inputs["run"],
            *[out / part if str(part).endswith((".png", ".html")) else part for part in extra],
        ]

    return command


WRITERS = {
    "scores": Writer(
        "scores.h5", lambda i, out: ["evaluate", i["run"], "--scores-out", out / "scores.h5"], h5_of("scores")
    ),
    "sticker-index": Writer(
        "index.h5",
        lambda i, out: ["embed", i["data"] / "stickers", "--model", i["run"], "-o", out / "index.h5"],
        h5_of("sticker_index"),
    ),
    "anchors": Writer(
        "anchors.h5",
        lambda i, out: ["build-anchors", "--features", i["root"] / "features.h5", "--M", "1", "-o", out / "anchors.h5"],
        h5_of("anchors"),
    ),
    "teacher": Writer(
        "teacher.pt",
        lambda i, out: [
            "teacher-train",
            i["emotions"],
            "--arch",
            "tiny",
            "--img-size",
            "16",
            "--batch-size",
            "6",
            "--epochs",
            "1",
            "-o",
            out / "teacher.pt",
        ],
        teacher,
    ),
    "teacher-features": Writer(
        "features.h5",
        lambda i, out: ["embed", i["emotions"], "--teacher", i["root"] / "teacher.pt", "-o", out / "features.h5"],
        h5_of("teacher_features"),
    ),
    "sentiment": Writer(
        "sentiment.h5", lambda i, out: ["score-sentiment", i["data"], "-o", out / "sentiment.h5"], h5_of("sentiment")
    ),
    "train_state.pt": Writer("run/train_state.pt", resume, train_state),
    "last.safetensors": Writer("run/last.safetensors", resume, safetensors),
    "learning-curves": Writer("run/learning_curves.png", resume, png),
    "new-run-best.safetensors": Writer("new/best.safetensors", new_run, safetensors, earlier=False, new_run=True),
    "new-run-train_state.pt": Writer("new/train_state.pt", new_run, train_state, earlier=False, new_run=True),
    "plots": Writer("plots/fig4_tsne.png", lambda i, out: ["evaluate", i["run"], "--plots", out / "plots"], png),
    "html": Writer("page.html", rank("--html", "page.html"), html),
    "sheet": Writer("sheet.png", rank("--sheet", "sheet.png"), png),
    "rankings": Writer(
        "rankings.jsonl",
        lambda i, out: [
            "rank",
            i["root"] / "dialogues.jsonl",
            i["data"] / "stickers",
            "--model",
            i["run"],
            "-o",
            out / "rankings.jsonl",
        ],
        rankings,
    ),
    "new-scores": Writer(
        "scores.h5",
        lambda i, out: ["evaluate", i["run"], "--scores-out", out / "scores.h5"],
        h5_of("scores"),
        earlier=False,
    ),
    "new-html": Writer("page.html", rank("--html", "page.html"), html, earlier=False),
}


# ---------------------------------------------------------------------------------------------------------------
# The kill


def lands_on(destination: Path, target: Path) -> bool:
    """True for the rename that writes `target`, or its copy in the staging folder of a run being created."""
    if destination == target:
        return True
    staging = fnmatch.fnmatch(destination.parent.name, f".{target.parent.name}.*.partial")
    return staging and destination.name == target.name and destination.parent.parent == target.parent.parent


def killed_inside_write(args: list, target: Path, report: Path) -> tuple[Path, int]:
    """Run `pbr args` in a forked child that SIGKILLs itself inside the write of `target`; (temporary, its size).

    The child cuts the temporary file to half its size, so what is on disk is a partial write, and dies before
    the rename. A child that ends any other way fails the test with the command's output.
    """
    target = target.resolve()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            replace = os.replace

            def replace_or_die(source, destination, *rest, **options):
                if lands_on(Path(destination).resolve(), target):
                    size = os.path.getsize(source)
                    with open(source, "r+b") as handle:
                        handle.truncate(size // 2)
                        os.fsync(handle.fileno())
                    report.write_text(f"{os.path.abspath(source)}\n{size}\n", encoding="utf-8")
                    os.kill(os.getpid(), signal.SIGKILL)
                return replace(source, destination, *rest, **options)

            os.replace = replace_or_die
            result = run_pbr(*args)
            report.write_text(
                f"finished with exit code {result.exit_code} without renaming anything onto {target}:\n{result.output}",
                encoding="utf-8",
            )
        except BaseException as exc:  # noqa: B036 - the child must report and exit whatever happens
            report.write_text(f"failed before the kill: {exc!r}", encoding="utf-8")
        finally:
            os._exit(70)
    deadline = time.monotonic() + 120
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the writer of {target} did not finish within 120 s")
        time.sleep(0.01)
    told = report.read_text(encoding="utf-8") if report.exists() else "(no report)"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, told
    temporary, size = told.splitlines()
    return Path(temporary), int(size)


def tree(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


def hidden_leftover(path: Path) -> bool:
    """A name no reader takes for output: a hidden temporary or lock file, or anything in a hidden staging folder."""
    first = path.parts[0]
    if len(path.parts) > 1 and first.startswith(".") and first.endswith(".partial"):
        return True
    return path.name.startswith(".") and path.name.endswith((".tmp", ".lock", ".partial"))


@pytest.mark.parametrize("name", list(WRITERS))
def test_writer_killed_inside_its_write_leaves_the_earlier_file_or_none(inputs, tmp_path, name):
    writer = WRITERS[name]
    out = tmp_path / "out"
    out.mkdir()
    target = out / writer.target
    args = writer.command(inputs, out)
    if writer.command is resume:
        shutil.copytree(inputs["run"], out / "run")
        import torch  # as if stopped after step 1: a finished run is left as it is

        state = torch.load(out / "run" / "train_state.pt", weights_only=True)
        state["step"] = 1
        torch.save(state, out / "run" / "train_state.pt")
    elif writer.earlier:
        first = run_pbr(*args)
        assert first.exit_code == 0, first.output
    before = target.read_bytes() if writer.earlier else None
    files_before = tree(out)

    temporary, size = killed_inside_write(args, target, tmp_path / "kill-report")

    assert size > 0 and temporary.parent.resolve() in (
        target.parent.resolve(),
        *(p.resolve() for p in out.glob(f".{target.parent.name}.*.partial")),
    )
    if writer.earlier:
        assert target.read_bytes() == before, "the earlier file was changed"
        writer.complete(target)
    else:
        assert not target.exists()
    if writer.new_run:
        assert not (out / "new").exists(), "a half-made run folder was published"
    left = sorted(tree(out) - files_before)
    assert temporary.exists() and left, "the kill left no temporary file: it was not inside the write"
    assert all(hidden_leftover(path) for path in left), left
    if writer.new_run:
        from pbr_cli.errors import FormatError
        from pbr_cli.model.run import resolve_run

        with pytest.raises(FormatError, match="no trained run found"):
            resolve_run(None, base=out)  # `pbr evaluate` without RUN does not pick the staging folder

    again = run_pbr(*args)  # what the kill left is no obstacle to the next run
    assert again.exit_code == 0, again.output
    writer.complete(target)
    if writer.new_run:
        assert not list(out.glob(".new.*.partial")), "the next run did not remove the stale staging folder"
