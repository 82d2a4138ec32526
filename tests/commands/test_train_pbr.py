"""Every Table 3 / Table 5 configuration trains for a few steps on the tiny model; mismatched inputs are refused."""

import json

import numpy as np
import pytest
import torch

from helpers import run_pbr
from pbr_cli.data.pbrfolder import read_pbr_dataset
from pbr_cli.features import write_h5
from synthetic import write_tiny_dataset

EMOTIONS = ["surprise", "happiness", "disgust", "fear", "sadness", "anger", "neutral"]
BASE = ["--steps", "2", "-K", "4", "--val-every", "2", "--img-size", "32", "--json"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pbr-inputs")
    data = write_tiny_dataset(root / "data")
    dataset = read_pbr_dataset(data)
    rng = np.random.default_rng(0)
    ids = list(dataset.stickers)
    features = rng.random((len(ids), 16)).astype(np.float32)
    probs = rng.dirichlet(np.ones(7), len(ids)).astype(np.float32)
    attrs = {"teacher_hash": "teacher-a", "dim": 16, "class_names": EMOTIONS}
    write_h5(root / "feats.h5", "teacher_features", {"ids": ids, "features": features, "probs": probs}, attrs)
    m = 2
    write_h5(
        root / "anchors.h5",
        "anchors",
        {"anchors": rng.random((7 * m, 16)).astype(np.float32), "emotion": np.repeat(np.arange(7), m)},
        {**attrs, "M": m},
    )
    write_h5(
        root / "other_anchors.h5",
        "anchors",
        {"anchors": rng.random((7 * m, 16)).astype(np.float32), "emotion": np.repeat(np.arange(7), m)},
        {**attrs, "teacher_hash": "teacher-b", "M": m},
    )
    write_h5(
        root / "wide_anchors.h5",
        "anchors",
        {"anchors": rng.random((7 * m, 8)).astype(np.float32), "emotion": np.repeat(np.arange(7), m)},
        {**attrs, "dim": 8, "M": m},
    )
    result = run_pbr("score-sentiment", data, "-o", root / "sentiment.h5")
    assert result.exit_code == 0, result.output
    return root, data


EKD = ["--anchors", "{anchors}", "--teacher-features", "{feats}"]
EKD_PHSM = [*EKD, "--sentiment", "{sentiment}"]  # with the teacher's polarity (the default) unless said
STUDENT = ["--phsm-emotion", "student"]

# (name, extra options): Table 3 rows, Table 5 variants, the PHSM emotion sources and random negatives
CONFIGURATIONS = [
    ("base", []),
    ("ekd", EKD),
    ("ekd-distance", [*EKD, "--ekd-similarity", "distance"]),
    ("intra", ["--intra"]),
    ("inter", ["--inter"]),
    ("tscl", ["--intra", "--inter"]),
    ("phsm-teacher", ["--teacher-features", "{feats}", "--sentiment", "{sentiment}"]),
    ("ekd-phsm-student", [*EKD_PHSM, *STUDENT]),
    ("ekd-intra-phsm", [*EKD_PHSM, *STUDENT, "--intra"]),
    ("ekd-inter-phsm", [*EKD_PHSM, *STUDENT, "--inter"]),
    ("full", [*EKD_PHSM, "--intra", "--inter"]),
    ("ekd-logits", ["--teacher-features", "{feats}", "--ekd", "logits"]),
    ("ekd-features", ["--teacher-features", "{feats}", "--ekd", "features"]),
    ("random-negatives", ["--negatives", "random"]),
    ("text-mask", ["--text-mask", "0.3"]),
    ("itm-pairs-of-the-paper", ["--itm-negatives", "1", "--itm-list-weight", "0"]),
    ("itm-listwise", ["--itm-negatives", "3", "--itm-list-weight", "0.5"]),
    ("full-itm-listwise", [*EKD_PHSM, "--itm-negatives", "2", "--itm-list-weight", "1"]),
]


def test_ekd_similarity_sets_the_targets_and_the_teacher_polarity(inputs):
    from pbr_cli.anchors import pseudo_labels
    from pbr_cli.emotions import fold_emotions
    from pbr_cli.features import read_h5
    from pbr_cli.knowledge import load_emotion_knowledge
    from pbr_cli.losses.phsm import sticker_polarity

    root, data = inputs
    features = read_h5(root / "feats.h5", "teacher_features")
    anchors = read_h5(root / "anchors.h5", "anchors")
    ids = list(features["ids"])[::-1]  # rows follow the ids asked for
    order = np.arange(len(ids))[::-1]
    found = {}
    for similarity in ("dot", "distance"):
        knowledge = load_emotion_knowledge(ids, features, str(root / "anchors.h5"), "anchors", 2.0, similarity)
        expected = pseudo_labels(features["features"][order], anchors["anchors"], 2.0, similarity)
        np.testing.assert_allclose(knowledge.ekd_target, expected, rtol=1e-5, atol=1e-7)
        polarity = sticker_polarity(torch.from_numpy(fold_emotions(expected, 2) * 2)).numpy()
        np.testing.assert_allclose(knowledge.sticker_polarity, polarity, rtol=1e-5, atol=1e-6)
        found[similarity] = knowledge.ekd_target
    assert np.abs(found["dot"] - found["distance"]).max() > 1e-3  # the choice reaches the targets


@pytest.mark.parametrize("name,extra", CONFIGURATIONS, ids=[c[0] for c in CONFIGURATIONS])
def test_configuration_trains(invoke, inputs, tmp_path, name, extra):
    root, data = inputs
    paths = {"anchors": root / "anchors.h5", "feats": root / "feats.h5", "sentiment": root / "sentiment.h5"}
    args = [a.format(**paths) for a in extra]
    result = invoke("train", "--data", data, "-o", tmp_path / name, *BASE, *args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / name / "metrics.jsonl").read_text().splitlines()[0])
    config = json.loads((tmp_path / name / "config.json").read_text())["train"]
    expected_terms = {"i2t", "t2i", "itm"}
    if "--anchors" in extra or "--ekd" in extra:
        expected_terms.add("ekd")
    expected_terms |= {flag[2:] for flag in ("--intra", "--inter") if flag in extra}
    if config["itm_list_weight"]:
        expected_terms.add("itm_list")
    assert config["ekd_similarity"] == ("distance" if "--ekd-similarity" in extra else "dot")
    assert config["text_mask"] == (0.3 if "--text-mask" in extra else 0.0)
    for option, key in (("--itm-negatives", "itm_negatives"), ("--itm-list-weight", "itm_list_weight")):
        if option in extra:
            assert config[key] == pytest.approx(float(extra[extra.index(option) + 1]))
    terms = set(record) - {"step", "epoch", "lr", "loss", "dialogues_per_s"}
    assert terms == expected_terms, record  # each asked-for component runs, no other
    assert all(np.isfinite(record[term]) for term in expected_terms)
    # eq. 10: L = I2T + T2I + SDM + alpha EKD + beta Intra + gamma Inter (tiny: alpha 3.0; the flags: 0.5)
    weights = {"ekd": config["ekd_weight"], "intra": config["intra_weight"], "inter": config["inter_weight"]}
    weights["itm_list"] = config["itm_list_weight"]
    assert config["ekd_weight"] == 3.0 and config["intra_weight"] in (0.0, 0.5) and config["inter_weight"] in (0.0, 0.5)
    assert record["loss"] == pytest.approx(sum(weights.get(t, 1.0) * record[t] for t in terms), abs=5e-5)
    assert config["negatives"] == ("phsm" if "--sentiment" in extra else "random" if "random" in name else "semantic")


@pytest.mark.parametrize("anchors,message", [("other_anchors.h5", "another teacher"), ("wide_anchors.h5", "dimension")])
def test_mismatched_anchors_are_refused_naming_both_files(invoke, inputs, tmp_path, anchors, message):
    root, data = inputs
    result = invoke(
        "train",
        "--data",
        data,
        "-o",
        tmp_path / "run",
        *BASE,
        "--anchors",
        root / anchors,
        "--teacher-features",
        root / "feats.h5",
    )
    assert result.exit_code != 0
    assert message in result.output and anchors in result.output and "feats.h5" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--ekd", "logits"], "teacher features"),
        (["--negatives", "phsm"], "--sentiment"),
        (["--anchors", "{anchors}"], "teacher"),
        (["--phsm-emotion", "student", "--negatives", "phsm", "--sentiment", "{sentiment}"], "--ekd anchors"),
    ],
)
def test_missing_component_inputs_are_explained(invoke, inputs, tmp_path, extra, message):
    root, data = inputs
    args = [a.format(anchors=root / "anchors.h5", sentiment=root / "sentiment.h5") for a in extra]
    result = invoke("train", "--data", data, "-o", tmp_path / "run", *BASE, *args)
    assert result.exit_code != 0 and message in result.output, result.output


@pytest.mark.parametrize(
    "negatives, pool, most",
    [("semantic", "own", 9), ("phsm", "own", 9), ("phsm", "batch", 39), ("random", "batch", 9)],
)
def test_more_itm_negatives_than_the_pool_holds_is_said(negatives, pool, most, capsys):
    """A dialogue's own candidates (or, with PHSM's batch pool, the batch's) cap the negative stickers drawn."""
    from pbr_cli.model.config import load_run_config
    from pbr_cli.training import note_capped_negatives

    config = load_run_config("tiny")
    config.train.loss, config.train.negatives, config.train.phsm_pool, config.train.batch_size = (
        "itm",
        negatives,
        pool,
        4,
    )
    for asked, said in ((most, False), (most + 1, True)):
        config.train.itm_negatives = asked
        capsys.readouterr()
        note_capped_negatives(config, n_candidates=10)
        out = " ".join(capsys.readouterr().err.split())
        assert (f"--itm-negatives {asked} is more than the {most} " in out) is said, out


def test_train_says_when_itm_negatives_pass_the_pool(invoke, inputs, tmp_path):
    _, data = inputs
    result = invoke("train", "--data", data, "-o", tmp_path / "run", *BASE, "--itm-negatives", "12")
    assert result.exit_code == 0, result.output
    assert "--itm-negatives 12 is more than the 9 of a dialogue's other candidates" in " ".join(result.output.split())
