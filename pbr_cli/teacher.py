"""The frozen emotion teacher (paper §3.2): a timm classifier over the 7 emotions, its checkpoint, and embedding."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data.types import EmotionImageSet, LabelledImage, Sticker
from .emotions import EMOTIONS
from .errors import ConfigError, DataError, FormatError, TrainingError
from .io import write_bytes_atomic
from .runtime import autocast
from .strict_json import dumps

# Short names for the teacher architecture; anything else is a timm model name.
ARCH_ALIASES: dict[str, str] = {
    "tiny": "test_resnet",  # timm's 0.4M-parameter test ResNet (96-d feature): tests and CPU demos
    "resnet": "resnet50",   # the paper's teacher (2048-d feature)
}
CHECKPOINT_FORMAT = "pbr-teacher"
CHECKPOINT_VERSION = 1
EVAL_SPLITS: tuple[str, ...] = ("val", "test")
DECODE_CHUNK = 2048  # images decoded at a time while embedding, bounding memory on large libraries

StageProgress = Callable[[str, int, int], None]  # (stage, units just done, stage total)
CountProgress = Callable[[int], None]             # (images just done)


@dataclass(frozen=True)
class TeacherConfig:
    """What rebuilds a teacher and defines its inputs; stored in (and hashed with) every checkpoint."""

    arch: str                            # timm model name the weights belong to
    img_size: int                        # images are padded to a white square and resized to this side
    class_names: tuple[str, ...]         # classifier output order (EMOTIONS)
    feature_dim: int                     # C_S: width of the pooled penultimate feature V^e
    mean: tuple[float, float, float]     # per-channel normalisation of 0..1 pixels
    std: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "img_size": self.img_size, "class_names": list(self.class_names),
                "feature_dim": self.feature_dim, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, raw: Any, path: str | os.PathLike) -> "TeacherConfig":
        expected = {"arch", "img_size", "class_names", "feature_dim", "mean", "std"}
        if not isinstance(raw, dict) or set(raw) != expected:
            found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise FormatError(f"teacher config must have exactly the keys {sorted(expected)}, found {found}", path)
        try:
            config = cls(arch=str(raw["arch"]), img_size=int(raw["img_size"]),
                         class_names=tuple(str(name) for name in raw["class_names"]),
                         feature_dim=int(raw["feature_dim"]),
                         mean=tuple(float(v) for v in raw["mean"]), std=tuple(float(v) for v in raw["std"]))
        except (TypeError, ValueError) as exc:
            raise FormatError(f"teacher config has a value of the wrong type ({exc})", path) from None
        if len(config.mean) != 3 or len(config.std) != 3 or config.img_size < 1 or config.feature_dim < 1:
            raise FormatError("teacher config has an invalid size or normalisation", path)
        return config


def resolve_arch(arch: str) -> str:
    """The timm model name for `arch` (an alias or a timm name); ConfigError when timm does not know it."""
    import timm

    name = ARCH_ALIASES.get(arch, arch)
    if not timm.is_model(name):
        aliases = ", ".join(sorted(ARCH_ALIASES))
        raise ConfigError(f"unknown teacher architecture '{arch}' (a timm model name, or one of: {aliases})")
    return name


def build_classifier(arch: str, img_size: int, class_names: Sequence[str] = EMOTIONS) -> tuple[nn.Module, TeacherConfig]:
    """A randomly initialised timm classifier over `class_names` and the config describing it (nothing is downloaded)."""
    import timm

    name = resolve_arch(arch)
    try:  # transformers are built for the input size; CNNs take any size and refuse the argument
        model = timm.create_model(name, pretrained=False, num_classes=len(class_names), img_size=img_size)
    except TypeError:
        model = timm.create_model(name, pretrained=False, num_classes=len(class_names))
    data_config = timm.data.resolve_data_config({}, model=model)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probe = torch.zeros(1, 3, img_size, img_size)                         # (1, 3, S, S)
        feature_dim = int(model.forward_head(model.forward_features(probe), pre_logits=True).shape[-1])
    model.train(was_training)
    config = TeacherConfig(arch=name, img_size=img_size, class_names=tuple(class_names), feature_dim=feature_dim,
                           mean=tuple(float(v) for v in data_config["mean"]),
                           std=tuple(float(v) for v in data_config["std"]))
    return model, config


def load_init_weights(model: nn.Module, path: str | os.PathLike) -> dict[str, Any]:
    """Copy a timm / ImageNet checkpoint into `model`, keeping `model`'s own classifier; returns what was loaded.

    Reads safetensors, or a torch file restricted to tensors (pickled code is refused, never run).
    """
    from .model.weights import read_state_dict

    state = read_state_dict(path)
    classifier = model.pretrained_cfg.get("classifier") or ()
    prefixes = tuple(f"{name}." for name in ((classifier,) if isinstance(classifier, str) else classifier))
    own = model.state_dict()
    usable: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.startswith(prefixes) or name not in own:
            continue
        if tensor.shape != own[name].shape:
            raise FormatError(f"weights do not fit the teacher architecture: {name} has shape {tuple(tensor.shape)}, "
                              f"expected {tuple(own[name].shape)}", path)
        usable[name] = tensor
    if not usable:
        raise FormatError("no tensor in the file fits the teacher architecture "
                          "(a checkpoint of another model?)", path)
    model.load_state_dict(usable, strict=False)
    missing = [name for name in own if name not in usable and not name.startswith(prefixes)]
    return {"path": str(Path(path).resolve()), "loaded": len(usable), "missing": len(missing)}


def content_hash(config: TeacherConfig, state: Mapping[str, torch.Tensor]) -> str:
    """A 16-hex-digit hash of the config and every tensor (name, dtype, shape, bytes): which teacher this is."""
    digest = hashlib.sha256(dumps(config.to_dict(), "the teacher config", sort_keys=True, ensure_ascii=True)
                            .encode("utf-8"))
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode("utf-8"))
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def _to_pixels(images: Any, size: int) -> torch.Tensor:
    """Images -> (B, 3, size, size) float 0..255 on their device.

    Accepts a list of (H, W, 3) uint8 arrays (any sizes), a numpy uint8 array (B, H, W, 3), or a torch
    uint8 tensor (B, 3, H, W).
    """
    from .data.cache import square_resize

    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, H, W) image tensor, got shape {tuple(images.shape)}")
        batch = images
    else:
        if isinstance(images, np.ndarray) and images.ndim == 4:
            arrays = images
        else:
            arrays = np.stack([square_resize(np.asarray(image, dtype=np.uint8), size) for image in images])
        if arrays.ndim != 4 or arrays.shape[-1] != 3:
            raise ValueError(f"expected (B, H, W, 3) images, got shape {tuple(arrays.shape)}")
        batch = torch.from_numpy(np.ascontiguousarray(arrays)).permute(0, 3, 1, 2)  # (B, 3, H, W)
    pixels = batch.float()
    if pixels.shape[-2:] != (size, size):
        pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return pixels


def _standardise(pixels: torch.Tensor, config: TeacherConfig) -> torch.Tensor:
    """(B, 3, S, S) 0..255 -> the network's input: (pixels / 255 - mean) / std."""
    mean = torch.tensor(config.mean, device=pixels.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(config.std, device=pixels.device).view(1, 3, 1, 1) * 255
    return (pixels - mean) / std


class Teacher:
    """A frozen emotion teacher: pooled penultimate features V^e (B, C_S) and 7-class probabilities."""

    def __init__(self, model: nn.Module, config: TeacherConfig, device: str | torch.device = "cpu",
                 info: dict[str, Any] | None = None):
        self.config = config
        self.info: dict[str, Any] = dict(info or {})  # how it was trained (report, data, init); not hashed
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.hash = content_hash(config, self.model.state_dict())

    @property
    def dim(self) -> int:
        return self.config.feature_dim

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.config.class_names

    def to(self, device: str | torch.device) -> "Teacher":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    @torch.no_grad()
    def encode(self, images: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, C_S), probs (B, 7)), float32 on the teacher's device.

        `images`: a list of (H, W, 3) uint8 arrays, a numpy (B, H, W, 3) uint8 array or a torch (B, 3, H, W)
        uint8 tensor; every image is resized to the teacher's input size.
        """
        inputs = _standardise(_to_pixels(images, self.config.img_size).to(self.device), self.config)
        with autocast(self.device):
            tokens = self.model.forward_features(inputs)
            features = self.model.forward_head(tokens, pre_logits=True)        # (B, C_S)
            logits = self.model.forward_head(tokens)                           # (B, 7)
        return features.float(), logits.float().softmax(dim=-1)

    def features(self, images: Any) -> torch.Tensor:
        """(B, C_S) pooled penultimate features V^e."""
        return self.encode(images)[0]

    def probs(self, images: Any) -> torch.Tensor:
        """(B, 7) softmax over the emotion classes."""
        return self.encode(images)[1]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the checkpoint atomically: safetensors weights, config, hash and training info in its header."""
        from safetensors.torch import save as safetensors_bytes

        tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in self.model.state_dict().items()}
        metadata = {
            "format": CHECKPOINT_FORMAT,
            "format_version": str(CHECKPOINT_VERSION),
            "config": dumps(self.config.to_dict(), "the teacher config", path, ensure_ascii=True),
            "content_hash": self.hash,
            "info": dumps(self.info, "the teacher's training report", path),
        }
        write_bytes_atomic(path, safetensors_bytes(tensors, metadata=metadata))
        return Path(path)


def load_teacher(path: str | os.PathLike, device: str | torch.device = "cpu") -> Teacher:
    """Load and validate a teacher checkpoint (safetensors; no code is executed); FormatError names the file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FormatError("teacher checkpoint not found" if not path.exists() else "not a file", path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            if metadata.get("format") != CHECKPOINT_FORMAT:
                raise FormatError("a safetensors file, but not a pbr teacher checkpoint", path)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"not a pbr teacher checkpoint (expected safetensors written by teacher-train; {detail})",
                          path) from None
    from .model.weights import check_finite_weights

    check_finite_weights(tensors, path)
    if metadata.get("format_version") != str(CHECKPOINT_VERSION):
        raise FormatError(f"teacher checkpoint version {metadata.get('format_version')} is not supported "
                          f"(expected {CHECKPOINT_VERSION})", path)
    try:
        config = TeacherConfig.from_dict(json.loads(metadata.get("config", "")), path)
        info = json.loads(metadata.get("info") or "{}")
    except ValueError:
        raise FormatError("teacher checkpoint metadata is not valid JSON", path) from None
    try:
        model, built = build_classifier(config.arch, config.img_size, config.class_names)
    except ConfigError:
        raise FormatError(f"teacher architecture '{config.arch}' is unknown to the installed timm", path) from None
    if built != config:
        raise FormatError(f"teacher config does not describe a {config.arch} model (feature size or normalisation "
                          f"differ: {built.feature_dim} vs {config.feature_dim})", path)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise FormatError(f"weights do not fit a {config.arch} model ({lines[-1] if lines else exc})", path) from None
    teacher = Teacher(model, config, device, info if isinstance(info, dict) else {})
    if teacher.hash != metadata.get("content_hash"):
        raise FormatError("content hash does not match the weights: the file is corrupt or was modified", path)
    return teacher


# ---------------------------------------------------------------------------------------------------------------
# Images to embed


@dataclass(frozen=True)
class ImageRecord:
    """One image to embed: its source item (anything with `.image()`) and what its dataset says about it."""

    id: str
    source: LabelledImage | Sticker
    label: int = -1     # index into EMOTIONS; -1 unknown
    topic: str = ""
    path: str = ""
    split: str = ""     # train / val / test for emotion-labelled sets; "" otherwise

    def image(self) -> np.ndarray:
        return self.source.image()


def records_from_emotion_set(image_set: EmotionImageSet, splits: Sequence[str] | None = None) -> list[ImageRecord]:
    """Records of an emotion-labelled set, split by split (train, val, test order), labels kept."""
    names = [name for name in ("train", "val", "test") if name in image_set.splits] if splits is None else splits
    return [ImageRecord(item.id, item, item.label, item.topic, str(item.path), name)
            for name in names for item in image_set.splits.get(name, [])]


def records_from_stickers(stickers: Sequence[Sticker]) -> list[ImageRecord]:
    """Records of a sticker library; a sticker's emotion becomes its label when the data has one."""
    return [ImageRecord(sticker.id, sticker, EMOTIONS.index(sticker.emotion) if sticker.emotion in EMOTIONS else -1,
                        sticker.topic, "" if sticker.path is None else str(sticker.path)) for sticker in stickers]


@dataclass
class TeacherEmbedding:
    """The teacher's outputs for the images that could be read, in input order."""

    records: list[ImageRecord]
    features: np.ndarray                 # (N, C_S) float32 V^e
    probs: np.ndarray                    # (N, 7) float32
    skipped: list[ImageRecord] = field(default_factory=list)  # unreadable images (with skip_bad_images)

    def split_rows(self) -> dict[str, list[int]]:
        """{split: [start, stop)} row ranges, when the records come split by split; {} otherwise."""
        ranges: dict[str, list[int]] = {}
        for row, record in enumerate(self.records):
            if not record.split:
                return {}
            if record.split not in ranges:
                ranges[record.split] = [row, row + 1]
            elif ranges[record.split][1] == row:
                ranges[record.split][1] = row + 1
            else:
                return {}
        return ranges


def embed_records(teacher: Teacher, records: Sequence[ImageRecord], batch_size: int = 64,
                  skip_bad_images: bool = False, on_progress: CountProgress | None = None) -> TeacherEmbedding:
    """Run the teacher over `records`; an unreadable image is a DataError unless `skip_bad_images`."""
    from .data.cache import decode_stickers

    kept: list[ImageRecord] = []
    skipped: list[ImageRecord] = []
    feature_rows: list[np.ndarray] = []
    prob_rows: list[np.ndarray] = []
    for chunk_start in range(0, len(records), DECODE_CHUNK):
        chunk = list(records[chunk_start:chunk_start + DECODE_CHUNK])
        pixels, bad = decode_stickers(chunk, teacher.config.img_size, skip_bad_images)  # (n, 3, S, S) uint8
        good = np.setdiff1d(np.arange(len(chunk)), np.asarray(bad, dtype=np.int64))
        skipped.extend(chunk[i] for i in bad)
        kept.extend(chunk[i] for i in good)
        for start in range(0, len(good), batch_size):
            rows = good[start:start + batch_size]
            features, probs = teacher.encode(torch.from_numpy(pixels[rows]))
            feature_rows.append(features.cpu().numpy())
            prob_rows.append(probs.cpu().numpy())
        if on_progress:
            on_progress(len(chunk))
    features = np.concatenate(feature_rows) if feature_rows else np.zeros((0, teacher.dim), np.float32)
    probs = np.concatenate(prob_rows) if prob_rows else np.zeros((0, len(teacher.class_names)), np.float32)
    return TeacherEmbedding(kept, features.astype(np.float32), probs.astype(np.float32), skipped)


def write_teacher_features(path: str | os.PathLike, embedding: TeacherEmbedding, teacher: Teacher,
                           attrs: Mapping[str, Any] | None = None) -> Path:
    """Write a `teacher_features` .h5: ids, V^e, probs, and labels / topics / paths where the input has them."""
    from .features import write_h5

    return write_h5(path, "teacher_features", *teacher_feature_contents(path, embedding, teacher, attrs))


def teacher_feature_contents(path: str | os.PathLike, embedding: TeacherEmbedding, teacher: Teacher,
                             attrs: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(datasets, attributes) of the `teacher_features` file of `embedding`."""
    records = embedding.records
    arrays: dict[str, Any] = {"ids": [r.id for r in records], "features": embedding.features, "probs": embedding.probs}
    if any(r.label >= 0 for r in records):
        arrays["labels"] = np.array([r.label for r in records], dtype=np.int64)
    if any(r.topic for r in records):
        arrays["topics"] = [r.topic for r in records]
    if any(r.path for r in records):
        arrays["paths"] = [r.path for r in records]
    split_rows = embedding.split_rows()
    all_attrs = {"teacher_hash": teacher.hash, "dim": teacher.dim, "class_names": list(teacher.class_names),
                 "teacher_arch": teacher.config.arch, "img_size": teacher.config.img_size,
                 "skipped_images": len(embedding.skipped),
                 "split_rows": dumps(split_rows, "the split rows", path) if split_rows else "", **(attrs or {})}
    return arrays, all_attrs


TEACHER_OUTPUTS = {True: "ser_teacher.h5", False: "stickers_teacher.h5"}  # emotion-labelled set? -> default name


def is_emotion_image_set(path: Path) -> bool:
    """True for a SER30K folder or an ImageFolder of emotions (root/<emotion>/*, root/{train,val,test}/<emotion>/*)."""
    from .data.pbrfolder import is_pbr_folder
    from .data.records import normalise_split_name
    from .data.ser30k import is_ser30k_folder

    if is_ser30k_folder(path):
        return True
    if is_pbr_folder(path):
        return False
    names = {normalise_split_name(p.name) for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return bool(names) and (names <= set(EMOTIONS) or names <= {"train", "val", "test"})


def image_records(path: Path) -> tuple[list[ImageRecord], bool]:
    """(records, emotion-labelled?) for IMAGES: an emotion set keeps its splits, anything else is a sticker library."""
    from .data import open_emotion_images, open_sticker_library

    if is_emotion_image_set(path):
        return records_from_emotion_set(open_emotion_images(path)), True
    return records_from_stickers(open_sticker_library(path)), False


def embed_folder(images: Path, teacher_path: Path, output: Path | None, batch_size: int, skip_bad_images: bool,
                 device) -> dict[str, Any]:
    """`pbr embed --teacher`: the teacher features file of every image under `images`; returns its summary.

    `output` defaults to ser_teacher.h5 for an emotion-labelled set and stickers_teacher.h5 otherwise.
    """
    from . import console
    from .io import check_output_path

    started = time.perf_counter()
    teacher = load_teacher(teacher_path, device)
    records, labelled_set = image_records(images)
    output = output if output is not None else Path(TEACHER_OUTPUTS[labelled_set])
    check_output_path(output)
    with console.progress(total=len(records), desc="embedding", unit="img") as bar:
        embedding = embed_records(teacher, records, batch_size, skip_bad_images, on_progress=bar.update)
    if not embedding.records:
        raise DataError(f"none of the {len(records)} images could be read; nothing was written", images)
    write_teacher_features(output, embedding, teacher, {"source": str(images), "teacher": str(teacher_path)})
    if embedding.skipped:
        first = embedding.skipped[0]
        console.warn(f"skipped {len(embedding.skipped)} unreadable image(s), e.g. {first.path or first.id}")
    return {
        "output": str(output),
        "input": str(images),
        "teacher": str(teacher_path),
        "teacher_hash": teacher.hash,
        "images": len(embedding.records),
        "skipped": len(embedding.skipped),
        "labelled": sum(record.label >= 0 for record in embedding.records),
        "dim": teacher.dim,
        "splits": embedding.split_rows(),
        "seconds": round(time.perf_counter() - started, 3),
    }


def train_rows(split_rows_attr: str, n_rows: int) -> slice:
    """Rows of the 'train' split from a features file's `split_rows` attr; every row when it has none."""
    if split_rows_attr:
        ranges = json.loads(split_rows_attr)
        if "train" in ranges:
            start, stop = ranges["train"]
            return slice(int(start), int(stop))
    return slice(0, n_rows)


# ---------------------------------------------------------------------------------------------------------------
# Training


def classification_report(labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str],
                          majority_class: int) -> dict[str, Any]:
    """Accuracy, balanced accuracy, per-class accuracy, confusion matrix (rows: truth) and the majority baseline."""
    n_classes = len(class_names)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    support = confusion.sum(axis=1)
    per_class = {name: (float(confusion[i, i] / support[i]) if support[i] else None)
                 for i, name in enumerate(class_names)}
    present = [value for value in per_class.values() if value is not None]
    total = int(support.sum())
    return {
        "n": total,
        "accuracy": float(np.trace(confusion) / total) if total else None,
        "balanced_accuracy": float(np.mean(present)) if present else None,
        "majority_baseline": float(support[majority_class] / total) if total else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def _split_holdout(items: Sequence[LabelledImage], fraction: float, seed: int) -> tuple[list, list]:
    """Stratified (train, val) split of `items`: `fraction` of each class with at least 2 images goes to val."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_class.setdefault(item.label, []).append(index)
    held: set[int] = set()
    for indices in by_class.values():
        if len(indices) >= 2:
            count = max(1, round(len(indices) * fraction))
            held.update(rng.permutation(indices)[:count].tolist())
    return ([item for i, item in enumerate(items) if i not in held], [item for i, item in enumerate(items) if i in held])


def _decode_labelled(items: Sequence[LabelledImage], size: int, stage: str,
                     on_progress: StageProgress | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixels (N, 3, S, S) uint8, labels (N,) int64) on CPU; an unreadable image is a DataError."""
    from .data.cache import decode_stickers

    done = (lambda n: on_progress(stage, n, len(items))) if on_progress else None
    pixels, _ = decode_stickers(items, size, skip_bad=False, progress=done)
    return torch.from_numpy(pixels), torch.tensor([item.label for item in items], dtype=torch.int64)


@torch.no_grad()
def _predict(model: nn.Module, config: TeacherConfig, pixels: torch.Tensor, batch_size: int,
             device: torch.device) -> np.ndarray:
    """(N,) predicted class of each (N, 3, S, S) uint8 image, the model in eval mode."""
    model.eval()
    predictions = []
    for start in range(0, len(pixels), batch_size):
        inputs = _standardise(pixels[start:start + batch_size].to(device).float(), config)
        with autocast(device):
            predictions.append(model(inputs).argmax(dim=-1).cpu())
    return torch.cat(predictions).numpy() if predictions else np.zeros(0, np.int64)


def _class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over the classes present (absent classes get 0)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


MIN_TEACHER_STEPS = 1500   # with --epochs left at its default, small sets get at least this many optimiser steps


def default_epochs(n_train: int, batch_size: int, min_epochs: int = 10, min_steps: int = MIN_TEACHER_STEPS) -> int:
    """Epochs when the user gives none: 10 passes, or as many as `min_steps` optimiser steps need on a small set."""
    steps_per_epoch = max(1, n_train // batch_size)
    return max(min_epochs, math.ceil(min_steps / steps_per_epoch))


def train_teacher(
    image_set: EmotionImageSet,
    arch: str = "resnet50",
    img_size: int = 128,
    epochs: int | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    init: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    holdout: float = 0.1,
    on_progress: StageProgress | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Teacher, dict[str, Any]]:
    """Train a timm emotion classifier; return the frozen teacher (best epoch on val) and its report.

    Augmentation: random resized crop, flip, colour jitter (on tensors, on `device`); class balance: an
    inverse-frequency weighted cross-entropy. A set with neither val nor test split gets a stratified
    `holdout` of train as val. Without `epochs`, training runs 10 epochs or, on a small set, as many as
    `MIN_TEACHER_STEPS` optimiser steps need. The best epoch is chosen on val (never on test); the report has accuracy,
    balanced accuracy, per-class accuracy, confusion matrix and majority-class baseline per eval split.
    """
    from .data.augment import train_view
    from .engine import cosine_lr
    from .runtime import seed_everything

    started = time.perf_counter()
    device = torch.device(device)
    class_names = tuple(image_set.class_names)
    train_items = list(image_set.splits.get("train", []))
    eval_items = {name: list(image_set.splits[name]) for name in EVAL_SPLITS if image_set.splits.get(name)}
    val_from_train = not eval_items
    if val_from_train:
        train_items, eval_items["val"] = _split_holdout(train_items, holdout, seed)
        if not eval_items["val"]:
            del eval_items["val"]
    if len(train_items) < 2:
        raise DataError(f"needs at least 2 training images, found {len(train_items)}", image_set.root)

    seed_everything(seed)
    model, config = build_classifier(arch, img_size, class_names)
    init_info = load_init_weights(model, init) if init is not None else None
    model.to(device)

    train_pixels, train_labels = _decode_labelled(train_items, img_size, "decoding train images", on_progress)
    train_pixels, train_labels = train_pixels.to(device), train_labels.to(device)   # (N, 3, S, S) uint8, (N,)
    eval_data = {name: _decode_labelled(items, img_size, f"decoding {name} images", on_progress)
                 for name, items in eval_items.items()}
    label_counts = np.bincount(train_labels.cpu().numpy(), minlength=len(class_names))
    majority_class = int(label_counts.argmax())
    loss_weights = _class_weights(train_labels.cpu().numpy(), len(class_names)).to(device)

    n_train = len(train_items)
    steps_per_epoch = max(1, n_train // batch_size)  # full batches only (BatchNorm needs >= 2 images)
    epochs_given = epochs is not None
    if epochs is None:
        epochs = default_epochs(n_train, batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total_steps = epochs * steps_per_epoch
    warmup = max(1, min(100, total_steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, total_steps, 1.0, 0.0, warmup))
    generator = torch.Generator(device=device).manual_seed(seed)
    order_generator = torch.Generator().manual_seed(seed)

    history: list[dict[str, Any]] = []
    best = (-1.0, 0, None)  # (val accuracy, epoch, state)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=order_generator)
        batches = [order[i * batch_size:(i + 1) * batch_size] for i in range(steps_per_epoch)]
        losses = []
        for rows in batches:
            rows = rows.to(device)
            views = train_view(train_pixels[rows], img_size, generator=generator, jitter=True)  # (B, 3, S, S)
            with autocast(device):
                logits = model(_standardise(views, config))                                  # (B, 7)
            loss = F.cross_entropy(logits.float(), train_labels[rows], weight=loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise TrainingError(f"the teacher's loss became {losses[-1]} in epoch {epoch}; training stopped and "
                                    "no teacher was written (try a lower --lr)")
            if on_progress:
                on_progress(f"epoch {epoch}/{epochs}", 1, len(batches))
        record: dict[str, Any] = {"epoch": epoch, "epochs": epochs, "loss": float(np.mean(losses))}
        if "val" in eval_data:
            val_pixels, val_labels = eval_data["val"]
            predictions = _predict(model, config, val_pixels, batch_size * 2, device)
            record["val_accuracy"] = float((predictions == val_labels.numpy()).mean())
        history.append(record)
        score = record.get("val_accuracy", float(epoch))  # without val: the last epoch
        if score > best[0]:
            best = (score, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if on_epoch:
            on_epoch(record)

    model.load_state_dict(best[2])
    splits_report = {}
    for name, (pixels, labels) in eval_data.items():
        predictions = _predict(model, config, pixels, batch_size * 2, device)
        splits_report[name] = classification_report(labels.numpy(), predictions, class_names, majority_class)
    report: dict[str, Any] = {
        "arch": config.arch,
        "img_size": img_size,
        "feature_dim": config.feature_dim,
        "class_names": list(class_names),
        "data": str(Path(image_set.root).resolve()),
        "data_format": image_set.format,
        "init": init_info or "random",
        "epochs": epochs,
        "epochs_from": "--epochs" if epochs_given else f"default (10, or at least {MIN_TEACHER_STEPS} steps)",
        "best_epoch": best[1],
        "selected_on": "val" if "val" in eval_data else "last epoch",
        "val_from_train": val_from_train and "val" in eval_data,
        "train_counts": {name: int(count) for name, count in zip(class_names, label_counts)},
        "splits": splits_report,
        "history": history,
        "trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2),
    }
    teacher = Teacher(model, config, device, info=report)
    report["teacher_hash"] = teacher.hash
    return teacher, report
