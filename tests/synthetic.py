"""Synthetic test data: a small learnable dataset in pbr's folder format, emotion-labelled images, and PNG bytes
that claim any size."""

from __future__ import annotations

import json
import random
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WORDS = "猫狗鱼鸟马牛羊兔龙虎蛇猴鸡猪鼠熊狼鹿象鹅鸭蛙蜂蝶虾蟹"
TOPIC_COLORS = [(250, 220, 200), (200, 230, 250), (220, 250, 200), (250, 250, 190), (230, 210, 250)]
EMOTIONS = ("surprise", "happiness", "disgust", "fear", "sadness", "anger", "neutral")


def _sticker(topic: int, index: int, size: int = 48) -> Image.Image:
    """A topic background, a large disc whose hue identifies the sticker, and a pattern of cells."""
    import colorsys

    image = Image.new("RGB", (size, size), TOPIC_COLORS[topic % len(TOPIC_COLORS)])
    draw = ImageDraw.Draw(image)
    hue = (index * 0.618 + topic * 0.13) % 1.0
    color = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.9, 0.8))
    draw.ellipse([4, 4, size - 4, size - 4], fill=color)
    for bit in range(6):
        if (index + 1) >> bit & 1:
            x, y = 9 + (bit % 3) * 10, 14 + (bit // 3) * 12
            draw.rectangle([x, y, x + 7, y + 9], fill=(20, 20, 20))
    return image


def write_tiny_dataset(
    root: Path,
    n_topics: int = 2,
    per_topic: int = 10,
    n_train: int = 40,
    n_val: int = 12,
    n_test: int = 12,
    seed: int = 0,
) -> Path:
    """Stickers differ by a pattern; each dialogue names its sticker's word, so a model can learn the task."""
    root = Path(root)
    rng = random.Random(seed)
    stickers = []
    for topic in range(n_topics):
        folder = root / "stickers" / f"t{topic}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_topic):
            sticker_id = f"t{topic}s{index}"
            _sticker(topic, index).save(folder / f"{sticker_id}.png")
            stickers.append(
                {
                    "id": sticker_id,
                    "path": f"stickers/t{topic}/{sticker_id}.png",
                    "topic": f"t{topic}",
                    "emotion": EMOTIONS[index % 7],
                }
            )
    with open(root / "stickers.jsonl", "w", encoding="utf-8") as handle:
        for record in stickers:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    openers = ["你好", "在吗", "今天怎么样", "哈哈", "嗯嗯", "好的"]
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        with open(root / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for i in range(count):
                sticker = stickers[rng.randrange(len(stickers))]
                topic, index = int(sticker["id"][1]), int(sticker["id"].split("s")[1])
                word = WORDS[(topic * per_topic + index) % len(WORDS)]
                context = [rng.choice(openers), f"我想要{word}{rng.choice('呀啊吧')}"]
                handle.write(
                    json.dumps({"id": f"{split}{i}", "context": context, "sticker": sticker["id"]}, ensure_ascii=False)
                    + "\n"
                )
    return root


def random_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, 3, size, size), dtype=np.uint8)


# One colour per emotion, far apart in hue, so a tiny network separates the classes in a few epochs.
CLASS_COLOURS = [
    (230, 30, 30),
    (30, 190, 30),
    (30, 30, 230),
    (240, 200, 0),
    (190, 30, 190),
    (0, 190, 190),
    (20, 20, 20),
]


def write_emotion_images(root: Path, per_class: int, seed: int = 0, size: int = 40) -> Path:
    """root/<emotion>/<i>.png: a disc of the emotion's colour at a random place and scale on white."""
    rng = np.random.default_rng(seed)
    for label, emotion in enumerate(EMOTIONS):
        (root / emotion).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = Image.new("RGB", (size, size), (255, 255, 255))
            radius = int(rng.integers(size // 4, size // 2 - 2))
            x, y = rng.integers(radius, size - radius, 2)
            ImageDraw.Draw(image).ellipse([x - radius, y - radius, x + radius, y + radius], fill=CLASS_COLOURS[label])
            image.save(root / emotion / f"{seed}_{index}.png")
    return root


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims width x height pixels (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )
