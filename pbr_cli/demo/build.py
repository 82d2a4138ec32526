"""Build the synthetic demo dataset (sticker library, dialogues, SER30K-style emotion set) from one seed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..emotions import EMOTIONS
from ..errors import ConfigError, DataError, OutputError
from ..strict_json import dumps

if TYPE_CHECKING:
    from PIL import Image

GENERATOR_VERSION = 2
MANIFEST = "demo.json"
MANIFEST_KIND = "pbr-demo"
SPLITS = ("train", "val", "test")
SPLIT_SHARES = (0.8, 0.1, 0.1)
EMOTION_SET_DIR = "emotion"
IMAGE_SIZE = 128

# How often each emotion is the ground-truth sticker's (happiness first, as in chat data).
DIALOGUE_EMOTION_WEIGHTS: dict[str, float] = {
    "surprise": 0.12,
    "happiness": 0.24,
    "disgust": 0.11,
    "fear": 0.12,
    "sadness": 0.14,
    "anger": 0.13,
    "neutral": 0.14,
}
# The emotion set's class balance, imbalanced like SER30K's (disgust and fear rare).
EMOTION_SET_WEIGHTS: dict[str, float] = {
    "surprise": 0.12,
    "happiness": 0.3,
    "disgust": 0.05,
    "fear": 0.06,
    "sadness": 0.17,
    "anger": 0.12,
    "neutral": 0.18,
}
EMOTION_SET_SHARES = (0.7, 0.15, 0.15)
PLAIN_POSE_RATE = 0.3  # share of emotion-set images without a gesture or prop


@dataclass(frozen=True)
class DemoSize:
    """How big a demo dataset is."""

    name: str
    library_topics: int  # sticker characters in the library (topics)
    variants_per_topic: int  # gestures/props per topic; each topic has 7 emotions x this many stickers
    teacher_characters: int  # other characters, for the emotion-labelled set
    teacher_images: int  # emotion-labelled images per teacher character
    dialogues: int  # dialogues over all splits


SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize(
        "tiny", library_topics=4, variants_per_topic=2, teacher_characters=3, teacher_images=24, dialogues=200
    ),
    "small": DemoSize(
        "small", library_topics=24, variants_per_topic=3, teacher_characters=10, teacher_images=80, dialogues=4000
    ),
    "medium": DemoSize(
        "medium", library_topics=28, variants_per_topic=4, teacher_characters=12, teacher_images=150, dialogues=20000
    ),
}


@dataclass
class DemoSummary:
    """What a demo dataset holds: counts per split, topic and emotion, and a few example dialogues."""

    root: Path
    seed: int
    size: str
    generator_version: int
    stickers: int
    splits: dict[str, int]  # dialogues per split
    topics: dict[str, dict[str, int]]  # topic -> {"stickers": n, "dialogues": n}
    emotions: dict[str, int]  # dialogues per ground-truth sticker emotion
    emotion_set: dict[str, Any]  # {"characters": [...], "splits": {...}, "emotions": {...}}
    agreement: dict[str, int]  # dialogues per text/sticker relation
    variant_mentioned: int  # dialogues that name the sticker's gesture or prop
    lexicon: dict[str, int]  # sentiment words the grammar uses, per emotion
    examples: list[dict[str, Any]] = field(default_factory=list)
    build_seconds: float | None = None  # None when the dataset was already there

    @property
    def dialogues(self) -> int:
        return sum(self.splits.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["root"] = str(self.root)
        data["dialogues"] = self.dialogues
        return data


def _rng(seed: int, *parts: object) -> random.Random:
    """An independent stream for one purpose: the same on every machine and Python version."""
    key = "\0".join(str(part) for part in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big"))


def _size(name: str) -> DemoSize:
    if name not in SIZES:
        raise ConfigError(f"unknown demo size {name!r} (choose from {', '.join(SIZES)})")
    return SIZES[name]


def default_demo_dir(seed: int = 0, size: str = "small") -> Path:
    """Where the demo dataset of this seed and size is cached: $PBR_CACHE_DIR (or ~/.cache/pbr)/demo/..."""
    cache = Path(os.environ.get("PBR_CACHE_DIR") or Path.home() / ".cache" / "pbr")
    return cache / "demo" / f"v{GENERATOR_VERSION}-{size}-seed{seed}"


def _read_manifest(root: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("kind") == MANIFEST_KIND else None


def describe_existing(root: str | os.PathLike) -> str:
    """What demo dataset `root` holds ("the small demo dataset of seed 1, generator 2"), or "" when none."""
    manifest = _read_manifest(Path(root))
    if manifest is None:
        return ""
    return (
        f"the {manifest.get('size', '?')} demo dataset of seed {manifest.get('seed', '?')} "
        f"(generator version {manifest.get('generator_version', '?')})"
    )


def demo_is_current(root: str | os.PathLike, seed: int = 0, size: str = "small") -> bool:
    """True when `root` holds a complete demo dataset of this generator version, seed and size."""
    root = Path(root)
    manifest = _read_manifest(root)
    return (
        manifest is not None
        and manifest.get("generator_version") == GENERATOR_VERSION
        and manifest.get("seed") == seed
        and manifest.get("size") == size
        and all((root / name).is_file() for name in ("stickers.jsonl", *(f"{s}.jsonl" for s in SPLITS)))
    )


def ensure_demo(root: str | os.PathLike | None = None, seed: int = 0, size: str = "small") -> Path:
    """The demo dataset's folder, built first when it is absent or was made by another version, seed or size."""
    root = Path(root) if root is not None else default_demo_dir(seed, size)
    if not demo_is_current(root, seed, size):
        build_demo(root, seed, size)
    return root


def _jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(dumps(record, "a demo record") + "\n" for record in records)


def _counts(weights: dict[str, float], total: int) -> dict[str, int]:
    """`total` split over the keys in proportion to `weights` (largest remainder, at least 1 each)."""
    raw = {key: weight / sum(weights.values()) * total for key, weight in weights.items()}
    counts = {key: max(1, int(value)) for key, value in raw.items()}
    by_remainder = sorted(raw, key=lambda key: (raw[key] - int(raw[key]), key), reverse=True)
    for key in by_remainder:
        if sum(counts.values()) >= total:
            break
        counts[key] += 1
    return counts


def _split_sizes(total: int, shares: tuple[float, float, float]) -> tuple[int, int, int]:
    """Train / val / test sizes; val and test get at least one item each when there are three or more."""
    val = max(1, round(total * shares[1])) if total >= 3 else 0
    test = max(1, round(total * shares[2])) if total >= 3 else 0
    return total - val - test, val, test


def sticker_id(topic: str, emotion: str, variant: str) -> str:
    """A library sticker's id, e.g. 'tabby-happiness-bubble_tea'."""
    return f"{topic}-{emotion}-{variant}"


def _save_png(image: "Image.Image", path: Path) -> None:
    """A 256-colour palette PNG (a third of the RGB file's size; flat cartoon colours survive it), white kept white."""
    from PIL import Image

    paletted = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    palette = paletted.getpalette()
    for start in range(0, len(palette), 3):
        if min(palette[start : start + 3]) >= 250:
            palette[start : start + 3] = [255, 255, 255]
    paletted.putpalette(palette)
    paletted.save(path, format="PNG", optimize=False, compress_level=9)


def _write_stickers(folder: Path, seed: int, spec: DemoSize) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    from .draw import LIBRARY_CHARACTERS, VARIANTS, draw_sticker

    records: list[dict[str, Any]] = []
    topic_variants: dict[str, list[str]] = {}
    for character in LIBRARY_CHARACTERS[: spec.library_topics]:
        variants = _rng(seed, "variants", character.name).sample(VARIANTS, spec.variants_per_topic)
        topic_variants[character.name] = variants
        (folder / "stickers" / character.name).mkdir(parents=True)
        for emotion in EMOTIONS:
            for variant in variants:
                identifier = sticker_id(character.name, emotion, variant)
                path = f"stickers/{character.name}/{identifier}.png"
                image = draw_sticker(character, emotion, variant, _rng(seed, "sticker", identifier), IMAGE_SIZE)
                _save_png(image, folder / path)
                records.append(
                    {"id": identifier, "path": path, "topic": character.name, "emotion": emotion, "variant": variant}
                )
    (folder / "stickers.jsonl").write_text(_jsonl(records), encoding="utf-8")
    return records, topic_variants


def _write_emotion_set(folder: Path, seed: int, spec: DemoSize) -> dict[str, Any]:
    """Other characters' stickers with emotion labels, in SER30K's layout under `folder/emotion/`."""
    from .draw import TEACHER_CHARACTERS, VARIANTS, draw_sticker

    root = folder / EMOTION_SET_DIR
    (root / "Annotations" / "image-level").mkdir(parents=True)
    by_emotion: dict[str, list[dict[str, Any]]] = {emotion: [] for emotion in EMOTIONS}
    characters = TEACHER_CHARACTERS[: spec.teacher_characters]
    for character in characters:
        (root / "Images" / character.name).mkdir(parents=True)
        rng = _rng(seed, "emotion-set", character.name)
        labels = [e for e, n in _counts(EMOTION_SET_WEIGHTS, spec.teacher_images).items() for _ in range(n)]
        rng.shuffle(labels)
        for index, emotion in enumerate(labels):
            file_name = f"{character.name}_{index:04d}.png"
            variant = None if rng.random() < PLAIN_POSE_RATE else rng.choice(VARIANTS)
            image = draw_sticker(character, emotion, variant, _rng(seed, "emotion-image", file_name), IMAGE_SIZE)
            _save_png(image, root / "Images" / character.name / file_name)
            by_emotion[emotion].append(
                {"topic": character.name, "file_name": file_name, "anno": EMOTIONS.index(emotion) + 1, "text": ""}
            )
    splits: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    for emotion, items in by_emotion.items():
        _rng(seed, "emotion-split", emotion).shuffle(items)
        n_train, n_val, _ = _split_sizes(len(items), EMOTION_SET_SHARES)
        splits["train"] += items[:n_train]
        splits["val"] += items[n_train : n_train + n_val]
        splits["test"] += items[n_train + n_val :]
    for name, items in splits.items():
        items.sort(key=lambda item: (item["topic"], item["file_name"]))
        text = dumps({"annotations": items}, "the demo annotations", indent=1) + "\n"
        (root / "Annotations" / "image-level" / f"{name}.json").write_text(text, encoding="utf-8")
    return {
        "characters": [c.name for c in characters],
        "splits": {name: len(items) for name, items in splits.items()},
        "emotions": {emotion: len(by_emotion[emotion]) for emotion in EMOTIONS},
    }


def _write_dialogues(folder: Path, seed: int, spec: DemoSize, topic_variants: dict[str, list[str]]) -> dict[str, Any]:
    from .dialogues import CONSISTENT, CONTRADICTED, MIXED, DialogueGrammar, load_lexicon

    grammar = DialogueGrammar(load_lexicon())
    topics = list(topic_variants)
    emotions, weights = list(DIALOGUE_EMOTION_WEIGHTS), list(DIALOGUE_EMOTION_WEIGHTS.values())
    per_topic = {topic: 0 for topic in topics}
    per_emotion = {emotion: 0 for emotion in EMOTIONS}
    agreement = {CONSISTENT: 0, MIXED: 0, CONTRADICTED: 0}
    seen: set[str] = set()
    records, labels = [], []
    for index in range(spec.dialogues):
        rng = _rng(seed, "dialogue", index)
        topic = rng.choice(topics)
        emotion = rng.choices(emotions, weights)[0]
        variant = rng.choice(topic_variants[topic])
        for _ in range(100):  # every context is new text, so no test dialogue repeats a training one
            dialogue = grammar.generate(emotion, variant, rng)
            key = "\n".join(dialogue.context)
            if key not in seen:
                break
        else:
            raise DataError(f"the dialogue grammar ran out of new text after {index} dialogues")
        seen.add(key)
        per_topic[topic] += 1
        per_emotion[emotion] += 1
        agreement[dialogue.agreement] += 1
        dialogue_id = f"d{index:05d}"
        records.append({"id": dialogue_id, "context": dialogue.context, "sticker": sticker_id(topic, emotion, variant)})
        labels.append(
            {
                "id": dialogue_id,
                "text_emotion": dialogue.text_emotion,
                "agreement": dialogue.agreement,
                "variant_mentioned": dialogue.variant_mentioned,
                "scene": dialogue.scene,
            }
        )

    order = list(range(len(records)))
    _rng(seed, "dialogue-split").shuffle(order)
    sizes = _split_sizes(len(order), SPLIT_SHARES)
    split_of = [""] * len(records)
    start = 0
    for name, size in zip(SPLITS, sizes):
        for index in order[start : start + size]:
            split_of[index] = name
        start += size
    for name in SPLITS:
        chosen = [record for record, split in zip(records, split_of) if split == name]
        (folder / f"{name}.jsonl").write_text(_jsonl(chosen), encoding="utf-8")
    for label, split in zip(labels, split_of):
        label["split"] = split
    (folder / "dialogue_labels.jsonl").write_text(_jsonl(labels), encoding="utf-8")
    return {
        "splits": dict(zip(SPLITS, sizes)),
        "per_topic": per_topic,
        "emotions": per_emotion,
        "agreement": agreement,
        "variant_mentioned": sum(label["variant_mentioned"] for label in labels),
        "lexicon": {emotion: len(words) for emotion, words in grammar.words.items()},
    }


def _build_into(folder: Path, seed: int, spec: DemoSize) -> dict[str, Any]:
    """Write every file of the dataset into the empty `folder`; return the manifest."""
    sticker_records, topic_variants = _write_stickers(folder, seed, spec)
    emotion_set = _write_emotion_set(folder, seed, spec)
    dialogues = _write_dialogues(folder, seed, spec, topic_variants)
    stickers_per_topic = {topic: len(variants) * len(EMOTIONS) for topic, variants in topic_variants.items()}
    manifest = {
        "kind": MANIFEST_KIND,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "size": spec.name,
        "image_size": IMAGE_SIZE,
        "stickers": len(sticker_records),
        "splits": dialogues["splits"],
        "topics": {
            topic: {
                "stickers": stickers_per_topic[topic],
                "dialogues": dialogues["per_topic"][topic],
                "variants": topic_variants[topic],
            }
            for topic in topic_variants
        },
        "emotions": dialogues["emotions"],
        "emotion_set": {"path": EMOTION_SET_DIR, "layout": "ser30k", **emotion_set},
        "agreement": dialogues["agreement"],
        "variant_mentioned": dialogues["variant_mentioned"],
        "lexicon": dialogues["lexicon"],
    }
    (folder / MANIFEST).write_text(
        dumps(manifest, "the demo manifest", folder / MANIFEST, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


DATASET_ENTRIES = frozenset(
    {MANIFEST, "stickers.jsonl", "dialogue_labels.jsonl", "stickers", "emotion", *(f"{s}.jsonl" for s in SPLITS)}
)  # what a demo dataset folder holds at its top level


def check_replaceable(out_dir: Path) -> None:
    """OutputError unless `out_dir` is absent, empty, or a demo dataset holding nothing a build did not write."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputError("exists and is not a folder; nothing was written", out_dir)
    entries = sorted(entry.name for entry in out_dir.iterdir())
    if entries and _read_manifest(out_dir) is None:
        raise OutputError(
            "folder exists and is not a pbr demo dataset; choose another folder, nothing was written", out_dir
        )
    foreign = [name for name in entries if name not in DATASET_ENTRIES]
    if foreign:  # replacing the dataset replaces the folder: they would go with it
        raise OutputError(
            f"the demo dataset here would be rebuilt, but the folder also holds '{foreign[0]}', which the "
            "demo did not write; move it or choose another folder, nothing was written",
            out_dir,
        )


def build_demo(out_dir: str | os.PathLike, seed: int = 0, size: str = "small") -> DemoSummary:
    """Build the demo dataset into `out_dir`, replacing an older demo there; all or nothing.

    Everything is written into a temporary folder beside `out_dir` and renamed into place at the end, so
    an interrupted build leaves no half-written dataset. The same seed and size give byte-identical files.
    """
    spec = _size(size)
    out_dir = Path(out_dir)
    check_replaceable(out_dir)
    started = time.perf_counter()
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    except OSError as exc:
        raise OutputError(f"cannot create the output folder: {exc.strerror or exc}", out_dir.parent) from exc
    try:
        _build_into(staging, seed, spec)
        os.chmod(staging, 0o755)
        _swap_into_place(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(
            f"cannot write the demo dataset: {exc.strerror or exc}; nothing was written", out_dir
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary = read_demo_summary(out_dir)
    summary.build_seconds = time.perf_counter() - started
    return summary


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Rename `staging` to `out_dir`, moving an older dataset there aside first and removing it after."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.rename(out_dir, retired / "dataset")
    try:
        os.rename(staging, out_dir)
    except OSError:
        os.rename(retired / "dataset", out_dir)  # put the old dataset back
        shutil.rmtree(retired, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def read_demo_summary(root: str | os.PathLike, examples: int = 2) -> DemoSummary:
    """The summary of an existing demo dataset: its manifest's counts plus the first test dialogues."""
    root = Path(root)
    manifest = _read_manifest(root)
    if manifest is None:
        raise DataError(f"not a pbr demo dataset (no valid {MANIFEST})", root)
    try:
        with open(root / "stickers.jsonl", encoding="utf-8") as handle:
            stickers = {record["id"]: record for record in map(json.loads, handle)}
        with open(root / "test.jsonl", encoding="utf-8") as handle:
            test_records = [json.loads(line) for line, _ in zip(handle, range(examples))]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"incomplete demo dataset: {exc}", root) from exc
    shown = []
    for record in test_records:
        sticker = stickers[record["sticker"]]
        shown.append(
            {
                "id": record["id"],
                "context": record["context"],
                "sticker": record["sticker"],
                "emotion": sticker["emotion"],
                "variant": sticker["variant"],
                "path": str(root / sticker["path"]),
            }
        )
    return DemoSummary(
        root=root,
        seed=manifest["seed"],
        size=manifest["size"],
        generator_version=manifest["generator_version"],
        stickers=manifest["stickers"],
        splits=manifest["splits"],
        topics={
            topic: {"stickers": info["stickers"], "dialogues": info["dialogues"]}
            for topic, info in manifest["topics"].items()
        },
        emotions=manifest["emotions"],
        emotion_set=manifest["emotion_set"],
        agreement=manifest["agreement"],
        variant_mentioned=manifest["variant_mentioned"],
        lexicon=manifest["lexicon"],
        examples=shown,
    )
