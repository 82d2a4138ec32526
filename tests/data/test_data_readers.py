"""Every dataset reader on fixtures in its real format: the model it builds, candidate sets, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures_data import (
    MOD_DEBUG_FILE,
    MOD_MEMES,
    STICKERCHAT_SETS,
    edit_record,
    save_image,
    set_line,
    write_imagefolder,
    write_json,
    write_jsonl,
    write_mod,
    write_pbr_dataset,
    write_ser30k,
    write_stickerchat,
)
from pbr_cli.data import detect_dataset_format, open_dataset, open_emotion_images, open_sticker_library
from pbr_cli.data.imagefolder import read_folder_stickers
from pbr_cli.data.stickerchat import join_segmented
from pbr_cli.data.types import N_CANDIDATES
from pbr_cli.emotions import EMOTIONS
from pbr_cli.errors import DataError


def raises_naming(path: Path, *fragments: str):
    """pytest.raises(DataError) whose message starts with `path` and contains every fragment in order."""
    pattern = re.escape(str(path)) + ":" + "".join(".*" + re.escape(f) for f in fragments)
    return pytest.raises(DataError, match=pattern)


def check_candidate_sets(dataset) -> None:
    for dialogues in dataset.splits.values():
        for dialogue in dialogues:
            assert len(dialogue.candidates) == len(set(dialogue.candidates))
            assert dialogue.candidates.count(dialogue.sticker) == 1
            assert all(c in dataset.stickers for c in dialogue.candidates)


# --- pbr folder -----------------------------------------------------------------------------------


def test_pbr_dataset_reads_library_and_splits(tmp_path):
    root = write_pbr_dataset(tmp_path)
    dataset = open_dataset(root)
    assert dataset.format == "pbr" and dataset.root == root and dataset.name == root.name
    assert len(dataset.stickers) == 36 and list(dataset.splits) == ["train", "val", "test"]
    assert [len(dataset.split(s)) for s in ("train", "val", "test")] == [12, 6, 6]
    sticker = dataset.stickers["topic1-s3"]
    assert sticker.topic == "topic1" and sticker.emotion == EMOTIONS[3]
    assert sticker.path == root / "topic1" / "topic1-s3.png" and sticker.path.is_file()
    assert sticker.image().shape == (8, 8, 3)
    first = dataset.split("train")[0]
    assert first.id == "train-0" and first.context == ["你好", "今天考试过了！"] and first.sticker == "topic0-s0"
    assert dataset.filled_from_other_topics == 0


def test_pbr_candidate_sets_are_sound_stable_and_vary(tmp_path):
    root = write_pbr_dataset(tmp_path, per_split=(24, 6, 6))
    first, second = open_dataset(root), open_dataset(root)
    check_candidate_sets(first)
    dialogues = first.split("train")
    for dialogue in dialogues:
        assert len(dialogue.candidates) == N_CANDIDATES
        topic = first.stickers[dialogue.sticker].topic
        assert {first.stickers[c].topic for c in dialogue.candidates} == {topic}
    assert [d.candidates for d in dialogues] == [d.candidates for d in second.split("train")]
    same_truth_topic = [d for d in dialogues if first.stickers[d.sticker].topic == "topic0"]
    assert len({tuple(sorted(d.candidates)) for d in same_truth_topic}) > 1  # negatives differ by record
    assert len({d.candidates.index(d.sticker) for d in dialogues}) > 1  # so does the truth's position


def test_pbr_small_topic_is_filled_and_counted(tmp_path):
    root = write_pbr_dataset(tmp_path, small_topic=4, per_split=(40, 0, 0))  # every sticker is a truth once
    dataset = open_dataset(root)
    check_candidate_sets(dataset)
    tiny = [d for d in dataset.split("train") if dataset.stickers[d.sticker].topic == "tiny"]
    assert len(tiny) == 4 and dataset.filled_from_other_topics == 4
    for dialogue in tiny:
        assert len(dialogue.candidates) == N_CANDIDATES
        topics = [dataset.stickers[c].topic for c in dialogue.candidates]
        assert topics.count("tiny") == 4  # all of its own topic first, the rest from others
    assert dataset.split("val") == []


def test_pbr_fixed_candidates_are_kept(tmp_path):
    root = write_pbr_dataset(tmp_path, fixed_candidates=True)
    dataset = open_dataset(root)
    ids = list(dataset.stickers)
    for dialogue in dataset.split("test"):
        start = ids.index(dialogue.sticker)
        assert dialogue.candidates == [ids[(start + k) % len(ids)] for k in range(10)]
    check_candidate_sets(dataset)


@pytest.mark.parametrize(
    "file_name, line, record_changes, raw_line, expected",
    [
        ("train.jsonl", 3, None, '{"id": "x", "context": ["hi"], ', "malformed JSON"),
        ("train.jsonl", 2, None, "[1, 2]", "expected a JSON object"),
        (
            "train.jsonl",
            2,
            None,
            '{"id": "a", "context": ["hi"], "sticker": "topic0-s1", "id": "b"}',
            "duplicate key 'id'",
        ),
        ("stickers.jsonl", 3, None, '{"id": "z", "topic": "t", "path": "p.png", "meta": {"a": 1, "a": 2}}', "key 'a'"),
        ("train.jsonl", 4, {"sticker": None}, None, "missing required field 'sticker'"),
        ("train.jsonl", 4, {"context": None}, None, "missing required field 'context'"),
        ("train.jsonl", 5, {"sticker": "nope"}, None, "unknown sticker 'nope'"),
        ("train.jsonl", 5, {"id": "train-0"}, None, "duplicate dialogue id 'train-0' (first at train.jsonl line 1)"),
        ("test.jsonl", 2, {"id": "train-0"}, None, "duplicate dialogue id 'train-0'"),
        ("train.jsonl", 2, {"context": []}, None, "empty context"),
        ("train.jsonl", 2, {"context": ["  ", ""]}, None, "empty context"),
        ("train.jsonl", 2, {"context": ["ok", 3]}, None, "'context[1]' must be a string"),
        ("train.jsonl", 2, {"candidates": ["topic0-s5", "topic0-s2"]}, None, "do not contain the ground truth"),
        ("train.jsonl", 2, {"candidates": ["topic0-s1", "ghost"]}, None, "unknown candidate sticker 'ghost'"),
        ("train.jsonl", 2, {"candidates": ["topic0-s1", "topic0-s1"]}, None, "listed twice"),
        ("train.jsonl", 2, {"candidates": []}, None, "'candidates' is empty"),
        ("stickers.jsonl", 3, {"id": "topic0-s0"}, None, "duplicate sticker id 'topic0-s0' (first at line 1)"),
        ("stickers.jsonl", 3, {"topic": None}, None, "missing required field 'topic'"),
        ("stickers.jsonl", 3, {"path": "../outside.png"}, None, "leaves the dataset folder"),
        ("stickers.jsonl", 3, {"path": "/tmp/elsewhere.png"}, None, "is absolute"),
        ("stickers.jsonl", 3, {"path": "topic0/missing.png"}, None, "does not exist"),
        ("stickers.jsonl", 3, {"path": "topic0\\topic0-s2.png"}, None, "separated by '/', not '\\'"),
        ("stickers.jsonl", 3, {"emotion": "joy"}, None, "unknown emotion 'joy'"),
        ("stickers.jsonl", 3, {"id": ["a"]}, None, "'id' must be a string"),
    ],
)
def test_pbr_bad_input_names_file_and_line(tmp_path, file_name, line, record_changes, raw_line, expected):
    root = write_pbr_dataset(tmp_path)
    path = root / file_name
    if raw_line is not None:
        set_line(path, line, raw_line)
    else:
        edit_record(path, line, **record_changes)
    with raises_naming(path, f"line {line}: ", expected):
        open_dataset(root)


def test_pbr_non_utf8_line(tmp_path):
    root = write_pbr_dataset(tmp_path)
    path = root / "val.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = '{"id": "v", "context": ["'.encode() + "你好".encode("gbk") + b'"], "sticker": "topic0-s0"}\n'
    path.write_bytes(b"".join(lines))
    with raises_naming(path, "line 3: not UTF-8"):
        open_dataset(root)


def test_pbr_symlink_out_of_the_folder_and_missing_splits(tmp_path):
    root = write_pbr_dataset(tmp_path)
    save_image(tmp_path / "elsewhere.png", 1)
    os.symlink(tmp_path / "elsewhere.png", root / "link.png")
    edit_record(root / "stickers.jsonl", 2, path="link.png")
    with raises_naming(root / "stickers.jsonl", "line 2: path 'link.png'", "symlink"):
        open_dataset(root)
    other = write_pbr_dataset(tmp_path / "b")
    for split in ("train", "val", "test"):
        (other / f"{split}.jsonl").unlink()
    with raises_naming(other, "no split files"):
        open_dataset(other)


# --- StickerChat ----------------------------------------------------------------------------------


def test_join_segmented():
    assert join_segmented("今天 考试 过 了 ！") == "今天考试过了！"
    assert join_segmented("good  night 晚安") == "good night晚安"
    assert join_segmented("我 用 iPhone 拍 的") == "我用iPhone拍的"
    assert join_segmented("花 了 30 块 ， 好 贵") == "花了30块，好贵"
    assert join_segmented(" see you tomorrow ") == "see you tomorrow"
    assert join_segmented("") == ""


def test_stickerchat_reads_library_records_and_joins_text(tmp_path):
    root = write_stickerchat(tmp_path)
    dataset = open_dataset(root)
    assert dataset.format == "stickerchat"
    assert len(dataset.stickers) == sum(STICKERCHAT_SETS.values())
    sticker = dataset.stickers["1001/3"]
    assert sticker.topic == "1001" and sticker.path == root / "npy_stickers" / "1001" / "3.npy"
    assert dataset.stickers["2002/0"].image().shape == (8, 8, 3)  # stored RGBA
    assert list(dataset.splits) == ["train", "val", "test"]
    first, second = dataset.split("train")[:2]
    assert first.id == "train-1" and first.context == ["今天考试过了！", "恭喜恭喜，晚上吃什么"]
    assert first.sticker == "1001/0"
    assert second.sticker == "2002/1"  # written as "1.npy"
    check_candidate_sets(dataset)
    for dialogue in dataset.split("test"):
        assert len(dialogue.candidates) == N_CANDIDATES
        assert not any(c.endswith(".npy") for c in dialogue.candidates)
    # set 3003 has 4 stickers: its records (2 per split) are filled from other sets
    assert dataset.filled_from_other_topics == 6


def test_stickerchat_candidates_stay_in_the_set(tmp_path):
    dataset = open_dataset(write_stickerchat(tmp_path, sets={"10": 15, "20": 15}, per_split=8))
    for dialogue in dataset.split("train"):
        set_id = dialogue.sticker.split("/")[0]
        assert all(c.startswith(f"{set_id}/") for c in dialogue.candidates)
    assert dataset.filled_from_other_topics == 0


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"current": {"sticker_set_id": "1001", "sticker_id": "99"}}, "unknown sticker '1001/99'"),
        ({"current": {"sticker_set_id": "1001"}}, "missing required field 'current.sticker_id'"),
        ({"current": None}, "missing required field 'current'"),
        ({"current": "1001/1"}, "'current' must be an object"),
        ({"context": "你好"}, "'context' must be an array"),
    ],
)
def test_stickerchat_bad_records(tmp_path, changes, expected):
    root = write_stickerchat(tmp_path)
    path = root / "release_val.json"
    edit_record(path, 4, **changes)
    with raises_naming(path, "line 4: ", expected):
        open_dataset(root)


def test_stickerchat_dialogue_of_stickers_alone_is_left_out_and_said(tmp_path, capsys):
    # real chat: a context of stickers only is data a text model cannot use, not a broken file
    root = write_stickerchat(tmp_path)
    before = len(open_dataset(root).split("val"))
    edit_record(root / "release_val.json", 4, context=[{"text": "", "id": 1}, {"text": "  ", "id": 2}])
    capsys.readouterr()
    dataset = open_dataset(root)
    assert len(dataset.split("val")) == before - 1 and "val-4" not in {d.id for d in dataset.split("val")}
    said = " ".join(capsys.readouterr().err.split())
    assert "release_val.json: 1 sample(s) whose context holds no text (stickers only) left out, e.g. line 4" in said


def test_stickerchat_malformed_line_and_missing_stickers(tmp_path):
    root = write_stickerchat(tmp_path)
    set_line(root / "release_test.json", 2, '{"context": [}')
    with raises_naming(root / "release_test.json", "line 2: malformed JSON"):
        open_dataset(root)
    set_line(root / "release_test.json", 2, '{"context": [], "context": []}')
    with raises_naming(root / "release_test.json", "line 2: duplicate key 'context'"):
        open_dataset(root)
    other = write_stickerchat(tmp_path / "b")
    for path in (other / "npy_stickers").rglob("*.npy"):
        path.unlink()
    with raises_naming(other / "npy_stickers", "no .npy stickers found"):
        open_dataset(other)
    shutil.rmtree(other / "npy_stickers")
    with raises_naming(other, "no npy_stickers/ folder"):
        open_dataset(other)


def test_stickerchat_refuses_one_sticker_twice_and_says_what_it_left_out(tmp_path, capsys):
    root = write_stickerchat(tmp_path)
    stickers = root / "npy_stickers"
    shutil.copy(stickers / "1001" / "3.npy", stickers / "1001" / "extra.npy")
    (stickers / "1001" / "deeper").mkdir()
    shutil.copy(stickers / "1001" / "3.npy", stickers / "1001" / "deeper" / "x.npy")
    shutil.copy(stickers / "1001" / "3.npy", stickers / "loose.npy")
    capsys.readouterr()
    dataset = open_dataset(root)
    assert "1001/extra" in dataset.stickers and "1001/deeper/x" not in dataset.stickers
    said = " ".join(capsys.readouterr().err.split())
    assert (
        f"{stickers}: 2 .npy file(s) outside npy_stickers/<sticker_set_id>/ left out, e.g. '1001/deeper/x.npy'" in said
    )
    shutil.copy(stickers / "1001" / "3.npy", stickers / "1001" / "extra.NPY")  # the same id as extra.npy
    with raises_naming(stickers, "duplicate sticker id '1001/extra'"):
        open_dataset(root)


@pytest.mark.parametrize("text", [12345, 1.5, ["a"]])
def test_stickerchat_refuses_a_message_text_that_is_not_a_string(tmp_path, text):
    root = write_stickerchat(tmp_path)
    edit_record(root / "release_val.json", 2, context=[{"text": "你好"}, {"text": text}])
    with raises_naming(root / "release_val.json", "line 2: 'context[1].text' must be a string"):
        open_dataset(root)
    edit_record(root / "release_val.json", 2, context=[{"text": "你好"}, {"text": None, "sticker_id": 3}])
    assert open_dataset(root).split("val")[1].context == ["你好"]  # a sticker message: no text


def test_a_file_of_a_dataset_folder_says_it_stands_for_the_folder(tmp_path, capsys):
    root = write_stickerchat(tmp_path)
    capsys.readouterr()
    dataset = open_dataset(root / "release_test.json")
    assert list(dataset.splits) == ["train", "val", "test"]
    said = " ".join(capsys.readouterr().err.split())
    assert f"{root / 'release_test.json'}: read as part of its dataset folder {root} (every split)" in said


def test_a_number_with_too_many_digits_is_a_data_error(tmp_path):
    root = write_stickerchat(tmp_path)
    set_line(root / "release_val.json", 3, '{"id": ' + "1" * 5000 + "}")
    with raises_naming(root / "release_val.json", "line 3: malformed JSON: a number with more digits"):
        open_dataset(root)
    mod = write_mod(tmp_path / "mod")
    (mod / "c_train.json").write_text('{"dialogue 1": ' + "9" * 5000 + "}", encoding="utf-8")
    with raises_naming(mod / "c_train.json", "malformed JSON: a number with more digits"):
        open_dataset(mod)


# --- SER30K ---------------------------------------------------------------------------------------


def test_ser30k_reads_labels_topics_and_splits(tmp_path):
    root = write_ser30k(tmp_path)
    images = open_emotion_images(root)
    assert images.format == "ser30k" and images.class_names == EMOTIONS
    assert {name: len(split) for name, split in images.splits.items()} == {"train": 10, "val": 2, "test": 2}
    first = images.splits["train"][0]
    assert first.id == "t0/surprise_0" and first.topic == "t0" and first.label == 0
    assert first.path == root / "Images" / "t0" / "surprise_0.png"
    for split in images.splits.values():
        for image in split:
            assert image.path.name.startswith(EMOTIONS[image.label])  # anno 1..7 in EMOTIONS order
    assert images.splits["test"][0].label == EMOTIONS.index("neutral")
    assert first.image().shape == (8, 8, 3)
    stickers = open_sticker_library(root)
    assert len(stickers) == 14 and stickers[0].emotion == "surprise" and stickers[0].topic == "t0"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"anno": 8}, "'anno' is 8, expected 1..7"),
        ({"anno": "happy"}, "'anno' must be an integer"),
        ({"anno": "²"}, "'anno' must be an integer"),
        ({"file_name": None}, "missing required field 'file_name'"),
        ({"file_name": "missing.png"}, "does not exist"),
        ({"file_name": "../../../x.png"}, "leaves the dataset folder"),
    ],
)
def test_ser30k_bad_annotations(tmp_path, changes, expected):
    root = write_ser30k(tmp_path)
    path = root / "Annotations" / "image-level" / "train.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["annotations"][2].update(changes)
    document["annotations"][2] = {k: v for k, v in document["annotations"][2].items() if v is not None}
    write_json(path, document)
    with raises_naming(path, "annotations[2]: ", expected):
        open_emotion_images(root)


def test_ser30k_malformed_and_duplicate(tmp_path):
    root = write_ser30k(tmp_path)
    path = root / "Annotations" / "image-level" / "val.json"
    path.write_text('{"annotations": [\n{"topic": "t0",\n}', encoding="utf-8")
    with raises_naming(path, "line 3: malformed JSON"):
        open_emotion_images(root)
    path.write_bytes('{"annotations": [\n{"topic": "'.encode() + "表情".encode("gbk") + b'"}]}')
    with raises_naming(path, "line 2: not UTF-8"):
        open_emotion_images(root)
    path.write_text('{"items": []}', encoding="utf-8")
    with raises_naming(path, "'annotations' array"):
        open_emotion_images(root)
    path = root / "Annotations" / "image-level" / "train.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["annotations"].append(document["annotations"][0])
    write_json(path, document)
    with raises_naming(path, "duplicate image id 't0/surprise_0'"):
        open_emotion_images(root)


# --- DSTC10-MOD -----------------------------------------------------------------------------------


def test_mod_dialogues_task_file_and_real_debug_dialogue(tmp_path):
    root = write_mod(tmp_path)
    dataset = open_dataset(root)
    assert dataset.format == "mod" and list(dataset.splits) == ["train", "val", "test_easy"]
    assert set(dataset.stickers) == set(MOD_MEMES)
    assert {s.topic for s in dataset.stickers.values()} == {"mod"}
    assert dataset.stickers["030"].path == root / "meme_set" / "meme0000.jpg"

    train = dataset.split("train")
    assert [(d.id, d.sticker) for d in train] == [
        ("dialogue 1:1", "001"),
        ("dialogue 1:3", "002"),
        ("dialogue 2:2", "004"),
    ]
    assert train[0].context == ["在吗", "在的，怎么啦"]
    assert train[2].context == ["哈哈哈", "笑什么"]

    real = dataset.split("val")  # tests/fixtures/dstc10-mod/debug.json
    assert [d.sticker for d in real] == ["030", "107", "196", "121"]
    assert real[0].context == ["今天冒雨上班！！！！"]
    assert real[2].context[-1] == "明天什么班？" and len(real[3].context) == 8

    task = dataset.split("test_easy")
    assert task[0].context == ["今天冒雨上班！！！！", "哈哈～我今天休～～", "明天什么班？"]
    assert task[0].sticker == "196" and len(task[0].candidates) == 11 and task[0].candidates[-1] == "196"
    assert task[1].context == ["你好", "好久不见"] and len(task[1].candidates) == N_CANDIDATES
    check_candidate_sets(dataset)
    assert dataset.filled_from_other_topics == 0


def test_mod_single_dialogue_file_and_numeric_ids(tmp_path):
    root = write_mod(tmp_path, with_task=False)
    assert detect_dataset_format(root / "c_validation.json") == ("mod", root / "c_validation.json")
    dataset = open_dataset(root / "c_validation.json")
    assert list(dataset.splits) == ["val"] and len(dataset.split("val")) == 4
    mapping = json.loads((root / "img2id.json").read_text(encoding="utf-8"))
    write_json(root / "img2id.json", {name: int(meme_id) for name, meme_id in mapping.items()})
    dataset = open_dataset(root)
    assert [d.sticker for d in dataset.split("val")] == ["30", "107", "196", "121"]


def test_mod_library_without_img2id_uses_file_stems(tmp_path):
    root = tmp_path / "mod"
    for index, meme_id in enumerate(MOD_MEMES):
        save_image(root / "meme_set" / f"{meme_id}.png", index)
    (root / "c_validation.json").write_bytes(MOD_DEBUG_FILE.read_bytes())
    dataset = open_dataset(root)
    assert [d.sticker for d in dataset.split("val")] == ["030", "107", "196", "121"]


@pytest.mark.parametrize(
    "file_name, edit, expected",
    [
        (
            "c_train.json",
            lambda d: d["dialogue 1"][1].update(img_id="999"),
            "'dialogue 1' turn 1: unknown sticker '999'",
        ),
        ("c_train.json", lambda d: d["dialogue 2"].append(7), "'dialogue 2' turn 3: expected a turn object"),
        ("c_test_easy_task2.json", lambda d: d[0]["answer"].update(img_id=""), "record 0: 'answer.img_id' is empty"),
        ("c_test_easy_task2.json", lambda d: d[1].pop("history"), "record 1: missing required field 'history'"),
        ("c_test_easy_task2.json", lambda d: d[0]["candidate"]["set"].remove("196"), "do not contain the ground truth"),
        ("c_test_easy_task2.json", lambda d: d[0]["candidate"]["set"].append("777"), "unknown candidate sticker '777'"),
        ("img2id.json", lambda d: d.update({"meme0001.jpg": "030"}), "duplicate meme id '030'"),
        ("img2id.json", lambda d: d.update({"gone.jpg": "500"}), "'gone.jpg': image 'gone.jpg' does not exist"),
    ],
)
def test_mod_bad_input(tmp_path, file_name, edit, expected):
    root = write_mod(tmp_path)
    path = root / file_name
    document = json.loads(path.read_text(encoding="utf-8"))
    edit(document)
    write_json(path, document)
    with raises_naming(path, expected):
        open_dataset(root)


def test_mod_ids_that_write_one_number_twice_are_refused_not_guessed(tmp_path):
    root = write_mod(tmp_path)
    mapping = json.loads((root / "img2id.json").read_text(encoding="utf-8"))
    first = next(name for name, meme_id in mapping.items() if meme_id == "001")
    shutil.copy(root / "meme_set" / first, root / "meme_set" / "again.jpg")
    write_json(root / "img2id.json", {**mapping, "again.jpg": 1, "odd.jpg": "²"})
    shutil.copy(root / "meme_set" / first, root / "meme_set" / "odd.jpg")
    document = json.loads((root / "c_train.json").read_text(encoding="utf-8"))
    document["dialogue 1"][1]["img_id"] = "0001"  # neither "001" nor "1" as written
    write_json(root / "c_train.json", document)
    with raises_naming(root / "c_train.json", "meme id '0001' is not in img2id.json as written", "'001', '1'"):
        open_dataset(root)
    document["dialogue 1"][1]["img_id"] = "001"  # as written: no doubt
    write_json(root / "c_train.json", document)
    assert open_dataset(root).split("train")[0].sticker == "001"


def test_mod_file_named_like_a_split_but_of_another_shape_is_said(tmp_path, capsys):
    root = write_mod(tmp_path)
    write_json(root / "c_test.json", {"Dialogue_0": []})
    capsys.readouterr()
    open_dataset(root)
    said = " ".join(capsys.readouterr().err.split())
    assert f"{root / 'c_test.json'}: left out, neither a MOD dialogue file" in said


def test_mod_task_record_of_memes_alone_is_left_out_and_said(tmp_path, capsys):
    root = write_mod(tmp_path)
    path = root / "c_test_easy_task2.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    before = len(document)
    document[1].update(history=[" ", {"txt": "", "img_id": "196"}])
    write_json(path, document)
    capsys.readouterr()
    dataset = open_dataset(root)
    assert len(dataset.split("test_easy")) == before - 1
    assert "record 1" in " ".join(capsys.readouterr().err.split())


def test_mod_duplicate_dialogue_key_and_malformed_json(tmp_path):
    root = write_mod(tmp_path)
    path = root / "c_train.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"dialogue 2"', '"dialogue 1"'), encoding="utf-8")
    with raises_naming(path, "duplicate key 'dialogue 1'"):
        open_dataset(root)
    path.write_text(text[:-20], encoding="utf-8")
    with raises_naming(path, "malformed JSON"):
        open_dataset(root)


# --- a split the dataset lacks, when only some splits are read -------------------------------------


@pytest.mark.parametrize(
    "write,available",
    [
        (write_pbr_dataset, "train, val, test"),
        (write_stickerchat, "train, val, test"),
        (write_mod, "train, val, test_easy"),
    ],
)
def test_a_missing_split_lists_the_splits_the_dataset_has(tmp_path, write, available):
    root = write(tmp_path)
    for only in (("nosuch",), ("test", "nosuch")):
        dataset = open_dataset(root, only)
        with raises_naming(root, f"no 'nosuch' split (available: {available})"):
            dataset.split("nosuch")


# --- ImageFolder and plain folders ----------------------------------------------------------------


def test_imagefolder_emotions_case_insensitive(tmp_path):
    root = write_imagefolder(tmp_path)
    images = open_emotion_images(root)
    assert images.format == "imagefolder" and list(images.splits) == ["train"]
    labels = sorted(image.label for image in images.splits["train"])
    assert labels == sorted(list(range(len(EMOTIONS))) * 2)
    for image in images.splits["train"]:
        assert image.path.parent.name.lower() == EMOTIONS[image.label]
        assert image.image().shape == (8, 8, 3)


def test_imagefolder_with_split_folders(tmp_path):
    for split in ("train", "val"):
        write_imagefolder(tmp_path / "set" / split, per_class=1, emotions=("anger", "fear"))
        (tmp_path / "set" / split / "imagefolder").rename(tmp_path / "set" / f"{split}-tmp")
        (tmp_path / "set" / split).rmdir()
        (tmp_path / "set" / f"{split}-tmp").rename(tmp_path / "set" / split)
    images = open_emotion_images(tmp_path / "set")
    assert list(images.splits) == ["train", "val"]
    assert {EMOTIONS[i.label] for i in images.splits["val"]} == {"anger", "fear"}


def test_imagefolder_unknown_class_and_loose_images(tmp_path):
    root = write_imagefolder(tmp_path, per_class=1)
    save_image(root / "Cats" / "a.png", 1)
    with raises_naming(root, "class folder 'Cats' is not an emotion"):
        open_emotion_images(root)
    other = write_imagefolder(tmp_path / "b", per_class=1)
    save_image(other / "loose.png", 1)
    with raises_naming(other, "outside a class folder"):
        open_emotion_images(other)


def test_plain_folder_as_sticker_library(tmp_path):
    root = tmp_path / "stickers"
    save_image(root / "cat" / "a.png", 1)
    save_image(root / "cat" / "happiness" / "b.webp", 2)
    save_image(root / "top.gif", 3)
    save_image(root / ".trash" / "c.png", 4)
    np.save(root / "dog.npy", np.zeros((4, 4, 3), np.uint8))
    stickers = open_sticker_library(root)
    assert [(s.id, s.topic, s.emotion) for s in stickers] == [
        ("cat/a", "cat", None),
        ("cat/happiness/b", "cat/happiness", "happiness"),
        ("dog", "stickers", None),
        ("top", "stickers", None),
    ]
    save_image(root / "cat" / "a.jpg", 5)
    with raises_naming(root, "duplicate sticker id 'cat/a'"):
        read_folder_stickers(root)


# --- detection ------------------------------------------------------------------------------------


def test_open_sticker_library_for_every_layout(tmp_path):
    assert len(open_sticker_library(write_pbr_dataset(tmp_path))) == 36
    assert len(open_sticker_library(write_stickerchat(tmp_path))) == sum(STICKERCHAT_SETS.values())
    assert len(open_sticker_library(write_mod(tmp_path))) == len(MOD_MEMES)
    assert len(open_sticker_library(write_imagefolder(tmp_path, per_class=1))) == len(EMOTIONS)


def test_detection_failures_say_what_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with raises_naming(tmp_path / "empty", "not a dataset", "stickers.jsonl", "release_", "img2id.json"):
        open_dataset(tmp_path / "empty")
    with raises_naming(tmp_path / "missing", "not found"):
        open_dataset(tmp_path / "missing")
    write_jsonl(tmp_path / "notes.jsonl", [{"a": 1}])
    with raises_naming(tmp_path / "notes.jsonl", "not a dataset"):
        open_dataset(tmp_path / "notes.jsonl")
    assert detect_dataset_format(write_pbr_dataset(tmp_path) / "train.jsonl")[0] == "pbr"
    assert detect_dataset_format(write_stickerchat(tmp_path) / "release_val.json")[0] == "stickerchat"


@pytest.mark.parametrize("how", ["folder", "broken-link"])
def test_a_split_name_that_is_no_readable_file_is_refused(tmp_path, how):
    """test.jsonl as a folder or a broken link was left out without a word (then: "no 'test' split")."""
    root = write_pbr_dataset(tmp_path)
    (root / "test.jsonl").unlink()
    if how == "folder":
        (root / "test.jsonl").mkdir()
    else:
        (root / "test.jsonl").symlink_to(tmp_path / "gone.jsonl")
    what = "a folder" if how == "folder" else "a broken symbolic link"
    with raises_naming(root / "test.jsonl", f"is {what}, where the test split's records were expected"):
        open_dataset(root)


def test_split_files_named_otherwise_are_said_not_to_be_read(tmp_path, capsys):
    root = write_pbr_dataset(tmp_path)
    (root / "val.jsonl").rename(root / "dev.jsonl")
    (root / "test.jsonl").rename(root / "TEST.jsonl")
    capsys.readouterr()
    dataset = open_dataset(root)
    assert set(dataset.splits) == {"train"}
    said = " ".join(capsys.readouterr().err.split())
    assert "TEST.jsonl, dev.jsonl not read: split files are named test.jsonl, train.jsonl, val.jsonl" in said


def test_candidate_sets_filled_from_other_topics_are_counted_aloud(tmp_path, capsys):
    root = write_pbr_dataset(tmp_path, small_topic=4, per_split=(40, 6, 6))  # the small topic's stickers are truths
    capsys.readouterr()
    dataset = open_dataset(root)
    said = " ".join(capsys.readouterr().err.split())
    assert dataset.filled_from_other_topics > 0
    assert f"{dataset.filled_from_other_topics} candidate set(s) drawn partly from other topics" in said
    capsys.readouterr()
    open_dataset(write_pbr_dataset(tmp_path / "b"))
    assert "other topics" not in capsys.readouterr().err


def test_an_id_with_a_line_break_stays_on_the_error_line(tmp_path):
    root = write_pbr_dataset(tmp_path)
    edit_record(root / "train.jsonl", 2, sticker="bad\nsticker")
    with raises_naming(root / "train.jsonl", "unknown sticker 'bad\\nsticker'"):
        open_dataset(root)
