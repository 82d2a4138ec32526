"""Throughput of `pbr score-sentiment` against cnsenti called per utterance, on a StickerChat-shaped corpus.

The corpus is one long chat stream; every utterance is a sample whose context is the up to 20
utterances before it, so neighbouring samples share most of their context (as in StickerChat).
cnsenti runs on a subset, one `sentiment_calculate` per context utterance as the PBR authors'
script does; `pbr score-sentiment` runs on the whole corpus as a subprocess (process start,
imports, jieba dictionary, reading and writing included). Prints one JSON object.

    python benchmarks/sentiment_throughput.py [--samples 40000] [--cnsenti-samples 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = [
    "我",
    "你",
    "他",
    "她",
    "我们",
    "你们",
    "老板",
    "同事",
    "室友",
    "我妈",
    "小王",
    "猫咪",
    "这只狗",
    "隔壁老李",
    "我弟",
    "班长",
    "大家",
    "那个客服",
    "新来的实习生",
    "我男朋友",
]
TIMES = ["今天", "昨天", "刚才", "早上", "晚上", "周末", "最近", "这几天", "上午", "下班的时候", "半夜", "明天"]
EVENTS = [
    "考试过了",
    "加班到十点",
    "下雨了",
    "吃了火锅",
    "快递到了",
    "被老板骂了",
    "手机摔坏了",
    "抢到票了",
    "发工资了",
    "迟到了",
    "看了电影",
    "跑了五公里",
    "搬家了",
    "感冒了",
    "中奖了",
    "挂科了",
    "堵车一小时",
    "收到礼物",
    "丢了钥匙",
    "升职了",
    "做了蛋糕",
    "打游戏输了",
    "去了海边",
    "停电了",
    "面试通过了",
]
DEGREES = ["非常", "特别", "很", "有点", "超", "太", "十分", "更", "比较", "稍微", "极其", "好", "真", "越来越"]
NEGATORS = ["不", "没有", "别", "不是", "没"]
ENDINGS = ["。", "！", "？", "~", "啊", "吧", "呢", "…", "😂", "😭", "👍", "!!", "", "", " "]
SHORT = ["哈哈哈", "好的", "嗯嗯", "ok", "晚安", "[表情]", "666", "hhh", "收到", "在吗", "？？？", "lol", "真的假的"]
OBJECTS = ["这部电影", "这家店", "新手机", "这个方案", "今天的天气", "那首歌", "这道题", "他的态度", "这次旅行", "宿舍"]


def sentiment_words(rng: random.Random, per_polarity: int = 300) -> tuple[list[str], list[str]]:
    """Short positive and negative words from cnsenti's lists, as they are (damaged entries included)."""
    from pbr_cli.sentiment import load_lexicon

    lexicon = load_lexicon("cnsenti")
    picks = []
    for words in (lexicon.positive, lexicon.negative):
        short = sorted(word for word in words if 1 < len(word.strip()) <= 3)
        picks.append(rng.sample(short, per_polarity))
    return picks[0], picks[1]


def chat_stream(n: int, seed: int = 0) -> list[str]:
    """n varied chat utterances from a phrase grammar, deterministic in `seed`."""
    rng = random.Random(seed)
    positive, negative = sentiment_words(rng)

    def feeling() -> str:
        words = positive if rng.random() < 0.55 else negative
        return (
            (rng.choice(DEGREES) if rng.random() < 0.5 else "")
            + (rng.choice(NEGATORS) if rng.random() < 0.2 else "")
            + rng.choice(words).strip()
        )

    templates = [
        lambda: f"{rng.choice(TIMES)}{rng.choice(SUBJECTS)}{rng.choice(EVENTS)}，{feeling()}{rng.choice(ENDINGS)}",
        lambda: f"{rng.choice(SUBJECTS)}{feeling()}{rng.choice(ENDINGS)}",
        lambda: f"{feeling()}{rng.choice(ENDINGS)}",
        lambda: f"{rng.choice(SUBJECTS)}觉得{rng.choice(OBJECTS)}{feeling()}{rng.choice(ENDINGS)}",
        lambda: f"{rng.choice(TIMES)}{rng.choice(EVENTS)}{rng.choice(ENDINGS)}{rng.choice(SUBJECTS)}{feeling()}",
        lambda: f"{rng.choice(SUBJECTS)}{rng.choice(TIMES)}{rng.choice(EVENTS)}，{rng.choice(SUBJECTS)}呢？",
        lambda: f"{rng.choice(OBJECTS)}{feeling()}，但是{feeling()}{rng.choice(ENDINGS)}",
        lambda: rng.choice(SHORT),
    ]
    weights = [4, 3, 2, 3, 2, 2, 2, 2]
    return [rng.choices(templates, weights)[0]() for _ in range(n)]


def samples_from_stream(stream: list[str], turns: int) -> list[list[str]]:
    """Sample k (k >= 1) replies to stream[k]; its context is the up to `turns` utterances before it."""
    return [stream[max(0, k - turns) : k] for k in range(1, len(stream))]


def run_cnsenti(contexts: list[list[str]]) -> tuple[list[tuple[float, float]], float]:
    """Per-dialogue sums of cnsenti's per-utterance scores, and the seconds that took."""
    from pbr_cli.sentiment import cnsenti_dialogue_sums

    cnsenti_dialogue_sums([["预热"]])  # loads jieba's dictionary outside the timed call
    started = time.perf_counter()
    sums = cnsenti_dialogue_sums(contexts)
    return sums, time.perf_counter() - started


def run_pbr(jsonl: Path, output: Path, workers: int) -> tuple[dict, float]:
    """`pbr score-sentiment` as a subprocess; its JSON summary and the wall-clock seconds."""
    command = [
        sys.executable,
        "-m",
        "pbr_cli.cli",
        "-q",
        "score-sentiment",
        str(jsonl),
        "-o",
        str(output),
        "--workers",
        str(workers),
        "--json",
    ]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"pbr score-sentiment failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40_000, help="samples in the full corpus")
    parser.add_argument("--cnsenti-samples", type=int, default=300, help="samples cnsenti scores")
    parser.add_argument("--turns", type=int, default=20, help="context length (utterances)")
    parser.add_argument("--workers", type=int, default=0, help="pbr --workers (0 = auto)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from pbr_cli.features import read_h5

    contexts = samples_from_stream(chat_stream(args.samples + 1, args.seed), args.turns)
    ids = [f"s{k}" for k in range(len(contexts))]
    # the cnsenti subset: samples from the middle of the stream, all with full contexts
    start = min(len(contexts) // 2, max(0, len(contexts) - args.cnsenti_samples))
    subset = range(start, start + min(args.cnsenti_samples, len(contexts)))

    with tempfile.TemporaryDirectory(prefix="pbr-bench-") as folder:
        jsonl = Path(folder) / "dialogues.jsonl"
        with open(jsonl, "w", encoding="utf-8") as handle:
            for dialogue_id, context in zip(ids, contexts):
                handle.write(json.dumps({"id": dialogue_id, "context": context}, ensure_ascii=False) + "\n")
        output = Path(folder) / "sentiment.h5"
        summary, pbr_seconds = run_pbr(jsonl, output, args.workers)
        scored = read_h5(output, "sentiment")
        reference, cnsenti_seconds = run_cnsenti([contexts[k] for k in subset])

    row_of = {dialogue_id: row for row, dialogue_id in enumerate(scored["ids"])}
    mismatches = sum(
        1
        for k, (pos, neg) in zip(subset, reference)
        if float(scored["raw_pos"][row_of[ids[k]]]).hex() != pos.hex()
        or float(scored["raw_neg"][row_of[ids[k]]]).hex() != neg.hex()
    )
    cnsenti_rate = len(subset) / cnsenti_seconds
    pbr_rate = len(contexts) / pbr_seconds
    print(
        json.dumps(
            {
                "corpus": {
                    "samples": len(contexts),
                    "turns": args.turns,
                    "distinct_utterances": summary["distinct_utterances"],
                    "utterances": summary["utterances"],
                    "with_sentiment": summary["with_sentiment"],
                },
                "cnsenti": {
                    "samples": len(subset),
                    "utterance_calls": sum(len(contexts[k]) for k in subset),
                    "seconds": round(cnsenti_seconds, 3),
                    "samples_per_s": round(cnsenti_rate, 1),
                },
                "pbr": {
                    "samples": len(contexts),
                    "seconds": round(pbr_seconds, 3),
                    "samples_per_s": round(pbr_rate, 1),
                    "seconds_inside": summary["seconds"],
                    "workers": summary["workers"],
                },
                "speedup": round(pbr_rate / cnsenti_rate, 1),
                "identical_on_subset": mismatches == 0,
                "mismatches": mismatches,
                "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
