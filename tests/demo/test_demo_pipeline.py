"""`pbr demo` runs the whole pipeline end to end (tiny dataset, a few steps) and writes its report."""

import json

from PIL import Image


def test_demo_pipeline_writes_results_plots_and_sheets(invoke, tmp_path):
    report = tmp_path / "report"
    result = invoke("demo", "--size", "tiny", "--steps", "3", "--teacher-epochs", "1", "--report", report, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("base", "pbr"):
        metrics = summary["results"][name]
        assert metrics["n"] == 20 and 0 <= metrics["map"] <= 1
        for plot in ("fig5_intensity.png", "fig1b_consistency.png", "fig4_tsne.png"):
            assert (report / "plots" / name / plot).is_file()
    config = json.loads((report / "runs" / "pbr" / "config.json").read_text())["train"]
    assert config["ekd"] == "anchors" and config["negatives"] == "phsm"
    assert config["intra_weight"] == 0.5 and config["inter_weight"] == 0.5
    assert len(summary["sheets"]) == 3
    with Image.open(summary["sheets"][0]) as sheet:
        assert sheet.width > 200 and sheet.height > 100
    table = (report / "results.md").read_text()
    assert "Base" in table and "PBR" in table
    teacher = summary["teacher"]  # the demo knows the emotion of all 4 x 14 stickers
    assert teacher["library_stickers"] == 4 * 14 and 0 <= teacher["library_accuracy"] <= 1
    assert 0 <= teacher["test_accuracy"] <= 1
    assert f"{100 * teacher['library_accuracy']:.1f}% on the 56 library stickers" in table
    for name in ("teacher.pt", "anchors.h5", "stickers_teacher.h5", "sentiment.h5", "scores_base.h5"):
        assert (report / name).is_file(), name
