"""Small datasets written in each real on-disk format (pbr, StickerChat, SER30K, DSTC10-MOD, ImageFolder).

Every writer takes a parent folder, creates its dataset in a subfolder and returns that subfolder.
Images are tiny (8x8) and each sticker has its own colour, so tests can tell them apart.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image

from pbr_cli.emotions import EMOTIONS

MOD_DEBUG_FILE = Path(__file__).parent / "fixtures" / "dstc10-mod" / "debug.json"  # one real MOD dialogue
MOD_DEBUG_MEMES = ("030", "107", "121", "196")  # the img_ids it uses

UTTERANCES = ("你好", "今天考试过了！", "太好了，晚上去吃火锅吧", "好累啊", "下雨了，没带伞", "哈哈哈真的吗")


def colour(index: int) -> tuple[int, int, int]:
    """A distinct colour for sticker `index`."""
    return ((index * 53) % 256, (index * 97 + 40) % 256, (index * 29 + 80) % 256)


def save_image(path: Path, index: int, size: int = 8, mode: str = "RGB") -> Path:
    """A flat image of `colour(index)` in any format PIL writes from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (size, size), colour(index))
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path)
    return path


def save_npy(path: Path, index: int, size: int = 8, channels: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((size, size, channels), dtype=np.uint8)
    pixels[..., :3] = colour(index)
    if channels == 4:
        pixels[..., 3] = 255
    np.save(path, pixels)
    return path


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def write_json(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def set_line(path: Path, number: int, text: str) -> None:
    """Replace line `number` (1-based) of a text file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit_record(path: Path, number: int, /, **changes) -> None:
    """Change fields of the JSON object on line `number`; a value of None removes the field."""
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[number - 1])
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    set_line(path, number, json.dumps(record, ensure_ascii=False))


def _context(index: int) -> list[str]:
    return [UTTERANCES[(index + k) % len(UTTERANCES)] for k in range(2 + index % 3)]


def write_pbr_dataset(
    parent: Path,
    n_topics: int = 3,
    per_topic: int = 12,
    per_split: tuple[int, int, int] = (12, 6, 6),
    small_topic: int = 0,
    fixed_candidates: bool = False,
) -> Path:
    """A pbr dataset folder: `n_topics` topics of `per_topic` stickers (plus a topic 'tiny' of `small_topic`).

    Dialogue i of each split takes sticker i (mod library size) as truth; with `fixed_candidates` the
    test split lists its truth plus the next 9 stickers of the library as candidates.
    """
    root = parent / "pbr-dataset"
    stickers: list[dict[str, Any]] = []
    topics = [(f"topic{t}", per_topic) for t in range(n_topics)] + ([("tiny", small_topic)] if small_topic else [])
    for topic, count in topics:
        for k in range(count):
            sticker_id = f"{topic}-s{k}"
            relative = f"{topic}/{sticker_id}.png"
            save_image(root / relative, len(stickers))
            stickers.append(
                {"id": sticker_id, "path": relative, "topic": topic, "emotion": EMOTIONS[k % len(EMOTIONS)]}
            )
    write_jsonl(root / "stickers.jsonl", stickers)
    ids = [s["id"] for s in stickers]
    offset = 0
    for split, count in zip(("train", "val", "test"), per_split):
        records = []
        for i in range(count):
            truth = ids[(offset + i) % len(ids)]
            record: dict[str, Any] = {"id": f"{split}-{i}", "context": _context(i), "sticker": truth}
            if fixed_candidates and split == "test":
                start = ids.index(truth)
                record["candidates"] = [ids[(start + k) % len(ids)] for k in range(10)]
            records.append(record)
        write_jsonl(root / f"{split}.jsonl", records)
        offset += count
    return root


STICKERCHAT_SETS = {"1001": 12, "2002": 12, "3003": 4}  # set 3003 is smaller than a candidate set
SEGMENTED = ("今天 考试 过 了 ！", "恭喜 恭喜 ， 晚上 吃 什么", "good night 晚安", "我 用 iPhone 拍 的")


def write_stickerchat(parent: Path, sets: dict[str, int] | None = None, per_split: int = 6) -> Path:
    """A StickerChat folder: release_{train,val,test}.json JSON lines and npy_stickers/<set>/<id>.npy.

    Sticker ids inside a set are numbers; records name them sometimes with and sometimes without '.npy'.
    The first sticker of each set is stored as RGBA.
    """
    root = parent / "stickerchat"
    sets = STICKERCHAT_SETS if sets is None else sets
    index = 0
    for set_id, count in sets.items():
        for k in range(count):
            save_npy(root / "npy_stickers" / set_id / f"{k}.npy", index, channels=4 if k == 0 else 3)
            index += 1
        mapping = "".join(f"{k}\t😀\n" for k in range(count))
        (root / "npy_stickers" / set_id / "emoji_mapping.txt").write_text(mapping, encoding="utf-8")
    set_ids = list(sets)
    for split in ("train", "val", "test"):
        records = []
        for i in range(per_split):
            set_id = set_ids[i % len(set_ids)]
            sticker = i % sets[set_id]
            context = [
                {
                    "text": SEGMENTED[(i + k) % len(SEGMENTED)],
                    "id": 100 + k,
                    "from_id": 7 + k % 2,
                    "reply_to_msg_id": 99 + k if k else None,
                }
                for k in range(2)
            ]
            current = {
                "sticker_set_id": set_id,
                "sticker_id": f"{sticker}.npy" if i % 2 else str(sticker),
                "sticker_alt": "😀",
                "from_id": 7,
                "id": 200,
            }
            records.append({"context": context, "current": current})
        write_jsonl(root / f"release_{split}.json", records)
    return root


def write_ser30k(parent: Path, topics: int = 2) -> Path:
    """A SER30K folder: one image per emotion and topic; train gets all, val/test one topic each."""
    root = parent / "ser30k"
    annotations: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
    for t in range(topics):
        topic = f"t{t}"
        for label, emotion in enumerate(EMOTIONS):
            file_name = f"{emotion}_{t}.png"
            save_image(root / "Images" / topic / file_name, t * 10 + label)
            item = {"topic": topic, "file_name": file_name, "anno": label + 1, "text": f"{emotion} 贴纸"}
            annotations["train" if label < 5 else ("val" if label == 5 else "test")].append(item)
    for split, items in annotations.items():
        write_json(root / "Annotations" / "image-level" / f"{split}.json", {"annotations": items})
    return root


MOD_MEMES = MOD_DEBUG_MEMES + tuple(f"{k:03d}" for k in range(1, 11))


def write_mod(parent: Path, with_debug: bool = True, with_task: bool = True) -> Path:
    """A DSTC10-MOD folder: img2id.json, meme_set/*.jpg, c_train.json (dialogues), c_test_easy_task2.json.

    With `with_debug`, the real dialogue of tests/fixtures/dstc10-mod/debug.json becomes c_validation.json.
    """
    root = parent / "mod"
    img2id = {}
    for index, meme_id in enumerate(MOD_MEMES):
        file_name = f"meme{index:04d}.jpg"
        save_image(root / "meme_set" / file_name, index)
        img2id[file_name] = meme_id
    write_json(root / "img2id.json", img2id)
    dialogues = {
        "dialogue 1": [
            {"speaker_id": "[speaker1]", "txt": "在吗"},
            {"speaker_id": "[speaker2]", "txt": "在的，怎么啦", "img_id": "001", "emotion_id": 3},
            {"speaker_id": "[speaker1]", "txt": "我考试过了！"},
            {"speaker_id": "[speaker2]", "txt": "太棒了", "img_id": "002", "emotion_id": 1},
        ],
        "dialogue 2": [
            {"speaker_id": "[speaker1]", "img_id": "003"},  # a meme before any text: no sample
            {"speaker_id": "[speaker2]", "txt": "哈哈哈"},
            {"speaker_id": "[speaker1]", "txt": "笑什么", "img_id": "004"},
        ],
    }
    write_json(root / "c_train.json", dialogues)
    if with_debug:
        shutil.copyfile(MOD_DEBUG_FILE, root / "c_validation.json")
    if with_task:
        task = [
            {
                "history": [
                    {"speaker_id": "[speaker1]", "txt": "今天冒雨上班！！！！", "img_id": "030"},
                    {"speaker_id": "[speaker2]", "txt": "哈哈～我今天休～～", "img_id": "107"},
                    {"speaker_id": "[speaker1]", "txt": "明天什么班？"},
                ],
                "candidate": {
                    "speaker_id": "[speaker1]",
                    "set": ["001", "002", "003", "004", "005", "006", "007", "008", "009", "010", "196"],
                },
                "answer": {"speaker_id": "[speaker1]", "img_id": "196"},
            },
            {
                "history": ["你好", "好久不见"],
                "answer": {"speaker_id": "[speaker2]", "img_id": "005"},
            },
        ]
        write_json(root / "c_test_easy_task2.json", task)
    return root


def write_imagefolder(parent: Path, per_class: int = 2, emotions: Iterable[str] = EMOTIONS) -> Path:
    """root/<Emotion>/*: class folders named after emotions (capitalised, to test case-insensitivity)."""
    root = parent / "imagefolder"
    suffixes = (".png", ".jpg", ".webp", ".gif")
    index = 0
    for emotion in emotions:
        for k in range(per_class):
            save_image(root / emotion.capitalize() / f"img{k}{suffixes[index % len(suffixes)]}", index)
            index += 1
    return root
