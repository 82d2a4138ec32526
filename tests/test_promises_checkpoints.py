"""README: "checkpoints load without executing code". One test per loader of a file pbr did not write itself:
`--resume`'s train_state.pt, a BERT folder's pytorch_model.bin (`--txt-model`) and a run's safetensors
(pickled, tampered header, bad bytes). Each is refused with one `Error:` line naming the file, and the pickle
payload, which would create a marker file, never runs. (teacher.pt, `--init` and `--img-weights` are tested
in test_teacher.py and test_bad_inputs.py.)"""

from __future__ import annotations

import json
import shutil
import struct

import pytest
import torch

from helpers import TRAIN, assert_refused, module_cache, run_pbr
from synthetic import write_tiny_dataset


class CreatesMarker:
    """Unpickling this object creates a file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_torch_file(path, marker, tensors: dict | None = None):
    """A torch.save file of tensors and one object whose unpickling creates `marker`."""
    torch.save({**(tensors or {"weight": torch.zeros(2)}), "payload": CreatesMarker(marker)}, path)
    return path


def test_the_payload_runs_when_unpickled_naively(tmp_path):
    """The payload is real: torch.load without weights_only (what pbr never does) creates the marker."""
    marker = tmp_path / "marker"
    evil_torch_file(tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)["payload"].close()
    assert marker.exists()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A dataset and a run of the tiny model trained on it (2 steps, validated once)."""
    root = tmp_path_factory.mktemp("loaders")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        result = run_pbr("train", "--data", data, "-o", root / "run", *TRAIN)
        assert result.exit_code == 0, result.output
    return root, data, root / "run"


def test_resume_refuses_a_pickled_train_state(run, tmp_path):
    _, _, original = run
    folder = tmp_path / "run"
    shutil.copytree(original, folder)
    marker = tmp_path / "marker"
    state = torch.load(folder / "train_state.pt", weights_only=True)
    evil_torch_file(folder / "train_state.pt", marker, {"step": state["step"], "model": state["model"]})
    last = (folder / "last.safetensors").read_bytes()
    result = run_pbr("train", "--resume", folder)
    assert_refused(result, "train_state.pt", "pickled code", folder=tmp_path)
    assert not marker.exists()
    assert (folder / "last.safetensors").read_bytes() == last  # the run is left as it was


def write_bert_folder(folder, weights: dict):
    """A Hugging Face BERT folder (config.json, vocab.txt) whose weights are a pytorch_model.bin."""
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"你好在吗今天怎么样哈嗯的我想要呀啊吧"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "bert",
                "hidden_size": 16,
                "num_attention_heads": 2,
                "intermediate_size": 32,
                "num_hidden_layers": 4,
                "max_position_embeddings": 64,
                "vocab_size": len(vocab),
                "type_vocab_size": 2,
            }
        )
    )
    torch.save(weights, folder / "pytorch_model.bin")
    return folder


def test_txt_model_refuses_a_pickled_pytorch_model_bin(run, tmp_path):
    _, data, _ = run
    marker = tmp_path / "marker"
    bert = write_bert_folder(tmp_path / "bert", {})
    evil_torch_file(bert / "pytorch_model.bin", marker, {"embeddings.word_embeddings.weight": torch.zeros(22, 16)})
    out = tmp_path / "out"
    out.mkdir()
    result = run_pbr("train", "--data", data, "-o", out / "run", *TRAIN, "--txt-model", bert)
    assert_refused(result, "pytorch_model.bin", "pickled code", not_written=(out / "run",), folder=out)
    assert not marker.exists()


def safetensors_bytes(header: dict, payload: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def pickled(marker) -> bytes:
    """A torch.save pickle (with the marker payload) under the name best.safetensors."""
    path = marker.parent / "evil.pt"
    evil_torch_file(path, marker)
    return path.read_bytes()


def header_claims_more_than_the_file(marker) -> bytes:
    """A well-formed header for a 1,000,000-float tensor followed by 8 bytes."""
    return safetensors_bytes({"w": {"dtype": "F32", "shape": [1_000_000], "data_offsets": [0, 4_000_000]}}, b"\0" * 8)


def header_length_beyond_the_file(marker) -> bytes:
    return struct.pack("<Q", 1 << 40) + b"{}"


def header_of_bad_bytes(marker) -> bytes:
    return struct.pack("<Q", 16) + b"\xff\xfe{not json}\x00\x01\x02\x03"


def offsets_overlapping(marker) -> bytes:
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    return safetensors_bytes(header, b"\0" * 12)


TAMPERED = [
    pickled,
    header_claims_more_than_the_file,
    header_length_beyond_the_file,
    header_of_bad_bytes,
    offsets_overlapping,
]


@pytest.mark.parametrize("tamper", TAMPERED, ids=[case.__name__ for case in TAMPERED])
def test_a_tampered_run_safetensors_is_refused(run, tmp_path, tamper):
    _, _, original = run
    folder = tmp_path / "run"
    shutil.copytree(original, folder)
    marker = tmp_path / "marker"
    (folder / "best.safetensors").write_bytes(tamper(marker))
    scores = tmp_path / "scores.h5"
    result = run_pbr("evaluate", folder, "--scores-out", scores)
    assert_refused(result, "best.safetensors", not_written=(scores,), folder=tmp_path)
    assert not marker.exists()
