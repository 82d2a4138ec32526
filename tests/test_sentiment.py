"""cnsenti-exact sentiment scoring, polarity normalisation, the sentiment file and `pbr score-sentiment`."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import fixtures_data
from pbr_cli.cli import cli
from pbr_cli.data.contexts import read_contexts
from pbr_cli.features import read_h5
from pbr_cli.sentiment import (
    SentimentScorer,
    cnsenti_dialogue_sums,
    dialogue_polarity,
    load_lexicon,
    normalise,
    score_dialogues,
    score_utterances,
    write_sentiment_file,
)

FILLERS = [
    "我",
    "今天",
    "你",
    "的",
    "了",
    "吗",
    "和",
    "但是",
    "真的",
    "这个",
    "他们",
    "天气",
    "考试",
    "老板",
    "吃饭",
    "觉得",
    "一下",
    "哈哈",
    "嗯",
    "呢",
]
PUNCTUATION = ["。", "！", "？", "；", ";", ".", "!", "?", "\n", "，", "、", "~", "…", "!!", "。。。", "?!"]
LATIN = ["hello", "OK", "ok啦", "3.14", "a-b", "C++", "100%", "www.example.com", "lol", "A.I."]
EMOJI = ["😂", "👍🏻", "❤️", "🙃", "👨‍👩‍👧", "[微笑]", "(╯°□°)╯", "ヽ(✿ﾟ▽ﾟ)ノ"]
BLANKS = [" ", "  ", "\t", "\u3000", " \n "]

# Cases that leave the whole-number fast path: halves, products past 2**53, sums that round.
EDGE_CASES = [
    "",
    " ",
    "\n\n",
    "！！！",
    "。",
    "不开心",
    "你 好",
    "非常非常非常高兴",
    "有点有点有点难过",
    "非常" * 40 + "开心",
    "有点" * 60 + "开心，开心开心",
    "有点" * 30 + "开心" + "我" * 20 + "非常" * 30 + "难过",
    "不" * 7 + "开心",
    "不是不开心",
    "非常不开心，有点难过",
    "开心难过开心难过！难过难过",
    "我 今天 很 开心 ， 你 呢",
    "我好开心啊，非常非常非常高兴！今天我得了一百分，我很兴奋开心，愉快，开心",
]


def _generated_utterances(n: int, seed: int = 7) -> list[str]:
    """n varied utterances: lexicon words (damaged entries too), degree words, negators and the rest."""
    rng = random.Random(seed)
    lexicon = load_lexicon("cnsenti")
    positive, negative = sorted(lexicon.positive), sorted(lexicon.negative)
    degree = sorted(word for words, _ in lexicon.degree for word in words)
    negators = sorted(lexicon.negators)
    pools = [
        (positive, 0.18),
        (negative, 0.18),
        (degree, 0.14),
        (negators, 0.1),
        (FILLERS, 0.18),
        (PUNCTUATION, 0.08),
        (LATIN, 0.05),
        (EMOJI, 0.05),
        (BLANKS, 0.04),
    ]
    utterances = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(0, 14)):
            pool = rng.choices([p for p, _ in pools], [w for _, w in pools])[0]
            word = rng.choice(pool)
            words.append(word.strip() if (pool is positive or pool is negative) and rng.random() < 0.7 else word)
        joiner = " " if rng.random() < 0.25 else ""  # a quarter word-segmented, as StickerChat stores text
        utterances.append(joiner.join(words))
    return utterances


@pytest.fixture(scope="module")
def cnsenti_reference():
    """(texts, cnsenti pos, cnsenti neg) for ~1,000 utterances, computed by cnsenti itself."""
    from cnsenti import Sentiment

    from pbr_cli.runtime import quiet_jieba

    quiet_jieba()
    senti = Sentiment()
    texts = EDGE_CASES + _generated_utterances(1000)
    results = [senti.sentiment_calculate(text) for text in texts]
    return texts, [result["pos"] for result in results], [result["neg"] for result in results]


def _same(a, b) -> bool:
    """Bit-for-bit equality as float64 (sign of zero included)."""
    return float(a).hex() == float(b).hex()


# ---- the scorer -----------------------------------------------------------------------------------


def test_scores_equal_cnsenti_bit_for_bit(cnsenti_reference):
    texts, ref_pos, ref_neg = cnsenti_reference
    scorer = SentimentScorer("cnsenti")
    wrong = [
        (text, (ref_pos[i], ref_neg[i]), scorer.score(text))
        for i, text in enumerate(texts)
        if not (_same(scorer.score(text)[0], ref_pos[i]) and _same(scorer.score(text)[1], ref_neg[i]))
    ]
    assert not wrong, wrong[:5]
    # the set exercises what matters: negative scores, halves, both polarities, nothing at all
    assert any(p < 0 for p in ref_pos) and any(float(p) % 1 for p in ref_pos + ref_neg)
    assert any(p > 0 and n > 0 for p, n in zip(ref_pos, ref_neg)) and any(p == n == 0 for p, n in zip(ref_pos, ref_neg))


def test_scores_are_python_floats_and_known_quirks_hold():
    scorer = SentimentScorer()
    assert scorer.score("") == (0.0, 0.0) and isinstance(scorer.score("开心")[0], float)
    assert scorer.score("不开心") == (-1.0, 0.0)  # a negated positive word: negative pos
    assert scorer.score("你 好") == (2.0, 0.0)  # a single space is a positive HowNet entry
    assert scorer.score("开心我我") == (3.0, 0.0)  # counted once more for every later word
    assert scorer.score("感激不尽") == (0.0, 0.0)  # only "感激不尽 " (trailing space) is listed


def test_clean_lexicon_lets_damaged_entries_match():
    exact, clean = SentimentScorer("cnsenti"), SentimentScorer("clean")
    assert "感激不尽 " in exact.lexicon.positive and "感激不尽" not in exact.lexicon.positive
    assert clean.score("感激不尽") == (1.0, 0.0) != exact.score("感激不尽")
    assert " " not in clean.lexicon.positive and all(word == word.strip() for word in clean.lexicon.negative)


def test_unknown_lexicon_is_a_config_error():
    from pbr_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown lexicon"):
        load_lexicon("hownet-2")


def test_worker_processes_give_cnsenti_scores(cnsenti_reference, tmp_path, monkeypatch):
    import os

    import pbr_cli.sentiment

    texts, ref_pos, ref_neg = cnsenti_reference
    started = tmp_path / "workers"
    init_worker = pbr_cli.sentiment._init_worker

    def recording_init(lexicon):  # runs in each worker process as it starts
        with open(started, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        init_worker(lexicon)

    monkeypatch.setattr(pbr_cli.sentiment, "_init_worker", recording_init)
    scores = score_utterances(texts * 2, workers=2)  # more than one batch, so two processes share the work
    workers = set(started.read_text(encoding="utf-8").split()) if started.exists() else set()
    assert len(workers) == 2 and str(os.getpid()) not in workers
    expected = list(zip(ref_pos, ref_neg)) * 2
    assert len(scores) == len(expected)
    assert all(_same(a[0], b[0]) and _same(a[1], b[1]) for a, b in zip(scores, expected))


def test_dialogue_sums_follow_the_context_and_count_distinct_utterances():
    contexts = [["我好开心", "不开心"], ["不开心", "你 好", "有点难过"], [], ["开心"]]
    scores = score_dialogues(contexts)
    expected = cnsenti_dialogue_sums(contexts)
    assert [(p, n) for p, n in zip(scores.raw_pos, scores.raw_neg)] == expected
    assert scores.raw_pos.dtype == np.float64
    assert (scores.utterances, scores.distinct_utterances) == (6, 5)
    assert scores.with_sentiment == pytest.approx(0.75)


def test_context_sums_add_utterances_one_by_one_in_order():
    from pbr_cli.sentiment import _sums_in_order

    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 25, size=300)
    values = rng.normal(size=(int(lengths.sum()), 2)) * 10.0 ** rng.integers(-8, 9, size=(int(lengths.sum()), 1))
    expected, start = [], 0
    for length in lengths:
        total = [0.0, 0.0]
        for pos, neg in values[start : start + length].tolist():
            total = [total[0] + pos, total[1] + neg]
        expected.append(total)
        start += length
    assert _sums_in_order(values, lengths).tolist() == expected


# ---- polarity -------------------------------------------------------------------------------------


def test_normalise_sums_to_one_and_splits_evenly_without_sentiment():
    pos, neg = normalise([3.0, 0.0, 0.0, 2.5], [1.0, 0.0, 4.0, 2.5])
    assert pos.dtype == np.float32 and neg.dtype == np.float32
    np.testing.assert_allclose(pos, [0.75, 0.5, 0.0, 0.5])
    np.testing.assert_allclose(pos + neg, 1.0)


def test_normalise_moves_negative_scores_to_the_other_side():
    pos, neg = normalise([-1.0, 2.0, -1.0, -2.0], [0.0, -1.0, 1.0, -2.0])
    np.testing.assert_allclose(pos, [0.0, 1.0, 0.0, 0.5])
    np.testing.assert_allclose(neg, [1.0, 0.0, 1.0, 0.5])


def test_sentiment_file_round_trip_and_dialogue_polarity(tmp_path):
    path = write_sentiment_file(tmp_path / "s.h5", ["a", "b", "c"], [3.0, 0.0, -1.0], [1.0, 0.0, 0.0], "cnsenti")
    data = read_h5(path, "sentiment")
    assert list(data["ids"]) == ["a", "b", "c"] and data.attrs["lexicon"] == "cnsenti"
    np.testing.assert_array_equal(data["raw_pos"], [3.0, 0.0, -1.0])
    np.testing.assert_allclose(dialogue_polarity(data, ["c", "a"]), [[0.0, 1.0], [0.75, 0.25]])
    from pbr_cli.errors import DataError

    with pytest.raises(DataError, match="no sentiment for 1 dialogue"):
        dialogue_polarity(path, ["a", "zz"])


def test_a_sentiment_file_scored_from_another_dataset_is_warned_of(tmp_path, capsys):
    from pbr_cli.knowledge import load_dialogue_polarity

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder in (ours, theirs):
        folder.mkdir()
    cases = {str(theirs): True, str(ours): False, str(ours / "train.jsonl"): False, "relative/place": False}
    for source, warned in cases.items():
        path = write_sentiment_file(tmp_path / "s.h5", ["a", "b"], [1.0, 0.0], [0.0, 1.0], "cnsenti", source=source)
        capsys.readouterr()
        polarity = load_dialogue_polarity(str(path), ["b", "a"], "train", ours)
        np.testing.assert_allclose(polarity, [[0.0, 1.0], [1.0, 0.0]])
        said = " ".join(capsys.readouterr().err.split())
        assert (f"was scored from {theirs}, not from this dataset ({ours})" in said) == warned, source


def test_score_sentiment_records_the_absolute_source(tmp_path, monkeypatch):
    from click.testing import CliRunner

    root = fixtures_data.write_pbr_dataset(tmp_path)
    monkeypatch.chdir(root.parent)
    result = CliRunner().invoke(cli, ["score-sentiment", root.name, "-o", "s.h5"])
    assert result.exit_code == 0, result.output
    assert read_h5(root.parent / "s.h5", "sentiment").attrs["source"] == str(root.resolve())


# ---- reading dialogues ----------------------------------------------------------------------------


def _fake_dataset(monkeypatch, tmp_path, dataset_format: str, splits: dict[str, list[tuple[str, list[str]]]]):
    """Stand in for `pbr_cli.data.open_dataset`, so this module's id and joining rules are tested alone."""
    import pbr_cli.data
    from pbr_cli.data.types import Dialogue, StickerDataset

    dataset = StickerDataset(
        name="fake",
        root=tmp_path,
        format=dataset_format,
        stickers={},
        splits={name: [Dialogue(id=i, context=c, sticker="s1") for i, c in rows] for name, rows in splits.items()},
    )
    monkeypatch.setattr(pbr_cli.data, "open_dataset", lambda path: dataset)


def test_dataset_ids_get_the_split_only_when_they_repeat(monkeypatch, tmp_path):
    _fake_dataset(
        monkeypatch, tmp_path, "pbr", {"train": [("d1", ["开心"]), ("d2", ["难过"])], "val": [("d3", ["好"])]}
    )
    loaded = read_contexts(tmp_path)
    assert (loaded.ids, loaded.id_format) == (["d1", "d2", "d3"], "id")
    assert read_contexts(tmp_path, "val").ids == ["d3"]
    _fake_dataset(monkeypatch, tmp_path, "mod", {"train": [("1", ["开心"])], "test": [("1", ["难过"])]})
    loaded = read_contexts(tmp_path)
    assert (loaded.ids, loaded.id_format) == (["train/1", "test/1"], "split/id")


def test_stickerchat_text_is_joined_before_scoring(monkeypatch, tmp_path):
    _fake_dataset(monkeypatch, tmp_path, "stickerchat", {"train": [("0", ["今天 很 开心", "不 开心"])]})
    assert read_contexts(tmp_path).contexts == [["今天很开心", "不开心"]]


def test_command_reads_real_dataset_layouts(runner, tmp_path):
    # what the fixtures write, by hand: pbr dialogue i has 2 + i % 3 utterances from UTTERANCES; StickerChat
    # line i has two segmented texts, joined back (ids are split-line)
    pbr_contexts = {
        f"{split}-{i}": [fixtures_data.UTTERANCES[(i + k) % 6] for k in range(2 + i % 3)]
        for split, count in (("train", 12), ("val", 6), ("test", 6))
        for i in range(count)
    }
    joined = ("今天考试过了！", "恭喜恭喜，晚上吃什么", "good night晚安", "我用iPhone拍的")
    chat_contexts = {f"val-{i + 1}": [joined[i % 4], joined[(i + 1) % 4]] for i in range(6)}
    for root, split, contexts in [
        (fixtures_data.write_pbr_dataset(tmp_path), "all", pbr_contexts),
        (fixtures_data.write_stickerchat(tmp_path), "val", chat_contexts),
    ]:
        out = tmp_path / f"{root.name}.h5"
        result = runner.invoke(cli, ["score-sentiment", str(root), "--split", split, "-o", str(out), "--json"])
        assert result.exit_code == 0, result.output
        data = read_h5(out, "sentiment")
        assert list(data["ids"]) == list(contexts) and json.loads(result.stdout)["dialogues"] == len(contexts)
        expected = cnsenti_dialogue_sums(contexts.values())
        assert [(p, n) for p, n in zip(data["raw_pos"], data["raw_neg"])] == expected


# ---- the command ----------------------------------------------------------------------------------

DIALOGUES = [
    {"id": "d1", "context": ["你好", "今天考试过了，我非常开心！", "太好了"]},
    {"id": "d2", "context": ["今天考试过了，我非常开心！", "但是我有点难过", "不开心"]},
    {"id": 3, "context": ["在吗", "嗯"]},
    {"id": "d4", "context": []},
]


def _write_jsonl(path, records, raw_lines=()):
    lines = [json.dumps(record, ensure_ascii=False) for record in records] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_command_writes_cnsenti_sums_and_polarity(runner, tmp_path):
    jsonl = _write_jsonl(tmp_path / "dialogues.jsonl", DIALOGUES)
    out = tmp_path / "sentiment.h5"
    result = runner.invoke(cli, ["score-sentiment", str(jsonl), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 dialogues" in result.stdout and "7 distinct utterances" in result.stdout
    data = read_h5(out, "sentiment")
    assert list(data["ids"]) == ["d1", "d2", "3", "d4"]
    expected = cnsenti_dialogue_sums([record["context"] for record in DIALOGUES])
    assert [(p, n) for p, n in zip(data["raw_pos"], data["raw_neg"])] == expected
    np.testing.assert_allclose(data["pos"] + data["neg"], 1.0, rtol=1e-6)
    assert (data["pos"][2], data["neg"][2]) == (0.5, 0.5)
    assert data.attrs["lexicon"] == "cnsenti" and data.attrs["id_format"] == "id"


def test_command_json_summary_and_clean_lexicon(runner, tmp_path):
    jsonl = _write_jsonl(tmp_path / "dialogues.jsonl", [{"id": "x", "context": ["感激不尽", "在吗"]}])
    out = tmp_path / "clean.h5"
    result = runner.invoke(
        cli, ["score-sentiment", str(jsonl), "-o", str(out), "--lexicon", "clean", "--workers", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dialogues"] == 1 and summary["distinct_utterances"] == 2 and summary["with_sentiment"] == 1.0
    assert summary["lexicon"] == "clean" and summary["workers"] == 1  # one batch needs one process
    data = read_h5(out, "sentiment")
    assert data["raw_pos"][0] == 1.0 and data.attrs["lexicon"] == "clean"


@pytest.mark.parametrize(
    "raw_line, records, needle",
    [
        ('{"id": "bad", "context": [', DIALOGUES[:2], "line 3: malformed JSON"),
        ('{"id": "nocontext", "utterances": ["开心"]}', DIALOGUES[:1], "line 2: missing required field 'context'"),
    ],
)
def test_bad_input_lines_are_one_line_errors_naming_file_and_line(runner, tmp_path, raw_line, records, needle):
    jsonl = _write_jsonl(tmp_path / "broken.jsonl", records, [raw_line])
    out = tmp_path / "sentiment.h5"
    result = runner.invoke(cli, ["score-sentiment", str(jsonl), "-o", str(out)])
    assert result.exit_code != 0
    message = result.output.strip().splitlines()[-1]
    assert str(jsonl) in message and needle in message
    assert "Traceback" not in result.output
    assert not out.exists()


def test_output_in_a_missing_folder_fails_before_scoring(runner, tmp_path):
    jsonl = _write_jsonl(tmp_path / "dialogues.jsonl", DIALOGUES)
    out = tmp_path / "missing" / "sentiment.h5"
    result = runner.invoke(cli, ["score-sentiment", str(jsonl), "-o", str(out)])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and str(out.parent) in result.output
    assert not out.parent.exists()


@pytest.mark.parametrize("inside", ["sentiment.h5", "sub/sentiment.h5"])
def test_output_inside_a_file_says_it_is_a_file(runner, tmp_path, inside):
    jsonl = _write_jsonl(tmp_path / "dialogues.jsonl", DIALOGUES)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a folder\n", encoding="utf-8")
    result = runner.invoke(cli, ["score-sentiment", str(jsonl), "-o", str(notes / inside)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"Error: {notes}: is a file, not a folder; the output cannot go inside it"
    ]
    assert notes.read_text(encoding="utf-8") == "not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dialogues.jsonl", "notes.txt"]  # nothing written


def test_split_option_needs_a_dataset_folder(runner, tmp_path):
    jsonl = _write_jsonl(tmp_path / "dialogues.jsonl", DIALOGUES)
    result = runner.invoke(cli, ["score-sentiment", str(jsonl), "--split", "train", "-o", str(tmp_path / "s.h5")])
    assert result.exit_code != 0 and "--split train needs a dataset" in result.output


def test_without_input_the_demo_dataset_is_scored(runner, tmp_path, monkeypatch):
    import pbr_cli.demo.build

    root = fixtures_data.write_pbr_dataset(tmp_path)
    monkeypatch.setattr(pbr_cli.demo.build, "ensure_demo", lambda seed=0: root)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["score-sentiment", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["input"] == str(root)
    assert len(read_h5(tmp_path / "sentiment.h5", "sentiment")) == 12 + 6 + 6
