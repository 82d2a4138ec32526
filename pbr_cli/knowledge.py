"""Emotion and sentiment inputs of PBR training: the teacher feature cache, the anchors file of `build-anchors`,
teacher features and anchors -> EKD targets and sticker polarity per library sticker, and the sentiment file ->
dialogue polarity per training dialogue."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import console
from .emotions import EMOTIONS
from .errors import ConfigError, DataError, FormatError, OutputError
from .features import H5Data, read_h5, validated_h5

if TYPE_CHECKING:
    from .anchors import EmotionAnchors


@dataclass
class EmotionKnowledge:
    """Per-library-sticker arrays, aligned with the dataset's sticker order."""

    ekd_target: np.ndarray | None  # (S, D) EKD targets (anchors: 7M probs; logits: 7 probs; features: C_S)
    sticker_polarity: np.ndarray | None  # (S, 2) [P^I, N^I] from the teacher's pseudo-labels


@dataclass
class CachedFeatures:
    """Teacher features of some images, from the feature cache or computed (and cached) now."""

    data: H5Data  # kind teacher_features, rows in the order of the records asked for
    path: Path | None  # the cache file (None when the cache folder could not be written)
    hit: bool  # read from the cache, not computed


def cached_teacher_features(
    teacher,
    records: Sequence,
    batch_size: int = 64,
    skip_bad_images: bool = False,
    desc: str = "teacher features",
    source: str = "",
) -> CachedFeatures:
    """The teacher's features of `records` (teacher.ImageRecord), computed once and cached under $PBR_CACHE_DIR.

    The cache file is named by the teacher's hash and a key of the images (ids, paths, sizes, modification
    times, labels), so a changed image or label is embedded again; a damaged entry is computed again, and
    a cache folder that cannot be written costs only the time to compute. Every image must be readable
    (with `skip_bad_images` the unreadable ones are counted first): a feature file has no holes.
    """
    import hashlib

    from .data.cache import cache_root, fingerprint
    from .teacher import embed_records, teacher_feature_contents, write_teacher_features

    labels = ",".join(str(record.label) for record in records)
    data_key = hashlib.sha256(f"{fingerprint(records, teacher.config.img_size)}:{labels}".encode()).hexdigest()[:20]
    path = cache_root() / "teacher_features" / f"{teacher.hash}-{data_key}.h5"
    if path.is_file():
        try:
            cached = read_h5(path, "teacher_features", dim=teacher.dim)
            if cached.attrs.get("teacher_hash") == teacher.hash and len(cached) == len(records):
                return CachedFeatures(cached, path, True)
        except FormatError:
            pass  # a damaged cache entry is simply computed again
    with console.progress(total=len(records), desc=desc, unit="img") as bar:
        embedding = embed_records(teacher, records, batch_size, skip_bad_images, on_progress=bar.update)
    if embedding.skipped:
        raise DataError(
            f"{len(embedding.skipped)} sticker image(s) could not be read by the teacher, e.g. "
            f"{embedding.skipped[0].path or embedding.skipped[0].id}; without their features EKD cannot "
            "train on them — fix or remove them",
            embedding.skipped[0].path or None,
        )
    attrs = {"source": source, "data_key": data_key}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_teacher_features(path, embedding, teacher, attrs)
        return CachedFeatures(read_h5(path, "teacher_features"), path, False)
    except (OSError, OutputError) as exc:
        console.warn(f"teacher features not cached ({exc})")
        return CachedFeatures(
            validated_h5(path, "teacher_features", *teacher_feature_contents(path, embedding, teacher, attrs)),
            None,
            False,
        )


def teacher_features_for(
    stickers: Sequence, features_file: str | None, teacher_file: str | None, settings, skip_bad_images: bool = False
) -> H5Data:
    """The library's teacher features: from `--teacher-features` (which `--teacher`, when given too, must have made),
    or computed once with `--teacher` and cached."""
    if features_file:
        features = read_h5(features_file, "teacher_features")
        if teacher_file:
            require_same_teacher(teacher_file, str(features.attrs["teacher_hash"]), features_file)
        return features
    if not teacher_file:
        raise ConfigError("EKD and teacher-based PHSM need --teacher-features FILE or --teacher FILE")
    from .teacher import load_teacher, records_from_stickers

    teacher = load_teacher(teacher_file, settings.torch_device())
    records = records_from_stickers(stickers)
    cached = cached_teacher_features(teacher, records, skip_bad_images=skip_bad_images, source="pbr train --teacher")
    if not cached.hit and cached.path is not None:
        console.info(f"teacher features of {len(records)} stickers cached at {cached.path}")
    return cached.data


def require_same_teacher(teacher_path: str | os.PathLike, teacher_hash: str, features_path) -> None:
    """FormatError naming `features_path` unless the teacher checkpoint at `teacher_path` is the teacher (by its
    hash, `teacher_hash`) that made that file."""
    from .teacher import load_teacher

    teacher = load_teacher(teacher_path)
    if teacher.hash != teacher_hash:
        raise FormatError(
            f"made by teacher {teacher_hash}, but {teacher_path} is teacher {teacher.hash}; "
            f"embed again with --teacher {teacher_path}, or leave --teacher out",
            features_path,
        )


def training_data_of(info: dict[str, Any]) -> Path | None:
    """The folder a teacher was trained on, when its checkpoint's training info records one (None: use the demo's)."""
    recorded = info.get("data")
    if not recorded:
        return None
    if not Path(recorded).is_dir():
        raise ConfigError(f"the teacher was trained on {recorded}, which is not there any more; pass --data")
    return Path(recorded)


def anchor_images_path(data: Path | None, teacher_info: dict[str, Any], build: bool = True) -> Path:
    """The emotion-labelled images build-anchors embeds: `data`, else the teacher's own training data (from its
    training info), else the demo's emotion set (built first unless `build` is False)."""
    from .datasets import teacher_data_path

    return teacher_data_path(data if data is not None else training_data_of(teacher_info), build)


def labelled_train_features(features_path: Path) -> tuple[np.ndarray, np.ndarray, str, int]:
    """(features, labels, teacher hash, dim) of the labelled train rows of a teacher features file."""
    from .features import read_h5
    from .teacher import train_rows

    data = read_h5(features_path, "teacher_features")
    if "labels" not in data:
        raise DataError(
            "has no emotion labels; embed a SER30K or root/<emotion>/* folder with --teacher", features_path
        )
    rows = train_rows(str(data.attrs.get("split_rows", "")), len(data))
    return data["features"][rows], data["labels"][rows], str(data.attrs["teacher_hash"]), int(data.attrs["dim"])


def anchors_file(
    output: Path,
    M: int,
    on_small_class: str,
    seed: int,
    teacher_path: Path | None = None,
    data: Path | None = None,
    features_path: Path | None = None,
    batch_size: int = 64,
    device="cpu",
) -> tuple[EmotionAnchors, dict[str, Any]]:
    """Cluster a teacher's features of emotion-labelled train images into the anchors file `output`.

    The features come from `features_path` (a teacher features file; `teacher_path`, when given, must be
    the teacher that made it) or are embedded by the teacher at `teacher_path` from `data` (default: the
    teacher's own training data, else the demo's), through the teacher feature cache. Warns when an emotion
    has fewer than M images (`on_small_class` shrink). Returns the anchors and the summary `pbr build-anchors`
    reports.
    """
    import time

    from .anchors import build_anchors, pseudo_label_agreement, write_anchors
    from .teacher import load_teacher

    started = time.perf_counter()
    cached = None
    if features_path is not None:
        features, labels, teacher_hash, dim = labelled_train_features(features_path)
        if teacher_path is not None:
            require_same_teacher(teacher_path, teacher_hash, features_path)
        source = features_path
    else:
        from .datasets import open_teacher_data
        from .teacher import records_from_emotion_set

        teacher = load_teacher(teacher_path, device)
        image_set = open_teacher_data(anchor_images_path(data, teacher.info))
        records = records_from_emotion_set(image_set, splits=("train",))
        if not records:
            raise DataError("has no images in its train split", image_set.root)
        cached = cached_teacher_features(
            teacher, records, batch_size, desc="embedding train images", source=str(image_set.root)
        )
        features, labels = cached.data["features"], cached.data["labels"]
        teacher_hash, dim, source = teacher.hash, teacher.dim, image_set.root
    anchors = build_anchors(features, labels, M=M, on_small_class=on_small_class, seed=seed, source=source)
    write_anchors(
        output,
        anchors,
        teacher_hash,
        {
            "teacher": "" if teacher_path is None else str(teacher_path),
            "source": str(source),
            "on_small_class": on_small_class,
        },
    )
    if anchors.shrunk:
        listed = ", ".join(f"{name} {count}" for name, count in anchors.shrunk.items())
        console.warn(
            f"fewer than M={M} distinct images ({listed}): those emotions' anchors repeat their distinct centroids"
        )
    summary = {
        "output": str(output),
        "teacher_hash": teacher_hash,
        "M": M,
        "dim": dim,
        "anchors": len(anchors.anchors),
        "source": str(source),
        "features_cache": None if cached is None or cached.path is None else str(cached.path),
        "cached": bool(cached is not None and cached.hit),
        "images_per_emotion": dict(zip(anchors.class_names, anchors.images_per_emotion)),
        "clusters_per_emotion": dict(zip(anchors.class_names, anchors.clusters_per_emotion)),
        "on_small_class": on_small_class,
        # share of the clustered images whose EKD pseudo-labels (tau 1) favour their own emotion, per similarity
        "pseudo_label_agreement": {
            similarity: round(pseudo_label_agreement(features, labels, anchors, 1.0, similarity), 4)
            for similarity in ("dot", "distance")
        },
        "seconds": round(time.perf_counter() - started, 3),
    }
    return anchors, summary


def align_rows(features: H5Data, sticker_ids: Sequence[str]) -> np.ndarray:
    """Row of each library sticker in a teacher-features file; every sticker must be there."""
    row_of = {str(sticker_id): row for row, sticker_id in enumerate(features["ids"])}
    missing = [s for s in sticker_ids if s not in row_of]
    if missing:
        raise DataError(
            f"{len(missing)} sticker(s) of the dataset have no teacher features (e.g. {missing[0]}); "
            "embed the dataset's stickers with `pbr embed DATA --teacher T`",
            features.path,
        )
    return np.fromiter((row_of[s] for s in sticker_ids), dtype=np.int64, count=len(sticker_ids))


def require_emotions(data: H5Data) -> None:
    """FormatError unless the file's class_names are the 7 emotions in SER30K order, which PBR reads its
    probability columns and anchor blocks as."""
    names = tuple(data.attrs["class_names"])
    if names != EMOTIONS:
        raise FormatError(
            f"attribute 'class_names' is {list(names)}, but PBR training needs the 7 emotions in the "
            f"order {', '.join(EMOTIONS)}",
            data.path,
        )


def load_emotion_knowledge(
    sticker_ids: Sequence[str],
    features: H5Data,
    anchors_file: str | None,
    ekd: str | None,
    tau: float = 1.0,
    similarity: str = "dot",
) -> EmotionKnowledge:
    """EKD targets and teacher sticker polarity for the library, checking the files belong together."""
    import torch

    from .anchors import pseudo_labels
    from .emotions import fold_emotions
    from .losses.phsm import sticker_polarity

    require_emotions(features)
    rows = align_rows(features, sticker_ids)
    teacher_features = features["features"][rows]  # (S, C_S)
    teacher_probs = features["probs"][rows]  # (S, 7)
    anchors = None
    m = 0
    if anchors_file:
        anchors = read_h5(anchors_file, "anchors")
        require_emotions(anchors)
        if anchors.attrs.get("teacher_hash") != features.attrs.get("teacher_hash"):
            raise FormatError(
                f"anchors were made by another teacher ({anchors.attrs.get('teacher_hash')}) than the "
                f"sticker features in {features.path} ({features.attrs.get('teacher_hash')})",
                anchors.path,
            )
        if anchors["anchors"].shape[1] != teacher_features.shape[1]:
            raise FormatError(
                f"anchors have dimension {anchors['anchors'].shape[1]} but the sticker features in "
                f"{features.path} have {teacher_features.shape[1]}",
                anchors.path,
            )
        m = int(anchors.attrs["M"])
    mode = ekd or ("anchors" if anchors is not None else "off")
    if mode == "anchors" and anchors is None:
        raise ConfigError("--ekd anchors needs --anchors FILE (from `pbr build-anchors`)")
    pseudo = None
    if anchors is not None:
        pseudo = pseudo_labels(
            torch.from_numpy(teacher_features).float(), torch.from_numpy(anchors["anchors"]), tau, similarity
        )
    target = {
        "anchors": pseudo.numpy() if pseudo is not None else None,
        "logits": teacher_probs,
        "features": teacher_features,
        "off": None,
    }[mode]
    if pseudo is not None:
        # (S, 7) pseudo-label mass per emotion: Algorithm 1's mean fold times M, since the pseudo-labels are
        # probabilities over the 7·M anchors (their mean over M would leave every polarity near 0.5)
        per_emotion = fold_emotions(pseudo, m) * m
    else:
        per_emotion = torch.from_numpy(teacher_probs)
    polarity = sticker_polarity(per_emotion).numpy()
    return EmotionKnowledge(target, polarity)


def load_dialogue_polarity(
    sentiment_file: str, dialogue_ids: Sequence[str], split: str = "train", dataset: Path | None = None
) -> np.ndarray:
    """(D, 2) [pos, neg] of the split's dialogues from a sentiment file (kind `sentiment`).

    Dialogues are matched by id alone, so a file scored from another dataset (its `source` attribute an
    absolute path that is neither `dataset` nor a file in it) is warned of: another dataset's ids may be the
    same while its dialogues are not.
    """
    from . import console
    from .features import read_h5
    from .sentiment import dialogue_polarity

    data = read_h5(Path(sentiment_file), "sentiment")
    source = str(data.attrs.get("source", ""))
    if dataset is not None and Path(source).is_absolute():
        scored, ours = Path(source).resolve(), dataset.resolve()
        if ours not in (scored, scored.parent):
            console.warn(
                f"{sentiment_file} was scored from {source}, not from this dataset ({dataset}): its dialogues are "
                "matched by id alone"
            )
    return dialogue_polarity(data, dialogue_ids, split)
