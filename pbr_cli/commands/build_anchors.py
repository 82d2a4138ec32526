"""`pbr build-anchors`: per-emotion K-Means of teacher features into the 7·M emotion anchors (paper §3.2)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import click

from ..errors import ConfigError, DataError, FormatError
from .common import guard_outputs

DEFAULT_TEACHER = "teacher.pt"
DEFAULT_OUTPUT = "anchors.h5"


def training_data_of(teacher) -> Path | None:
    """The folder the teacher was trained on, when its checkpoint records one (None: use the demo's)."""
    recorded = teacher.info.get("data")
    if not recorded:
        return None
    if not Path(recorded).is_dir():
        raise ConfigError(f"the teacher was trained on {recorded}, which is not there any more; pass --data")
    return Path(recorded)


def cached_train_features(teacher, image_set, batch_size: int):
    """(features (N, C_S), labels (N,), cache file, hit?) of the set's train split, from the cache when unchanged.

    The cache file is keyed by the teacher's hash and the train images (ids, paths, sizes, times, labels).
    """
    from .. import console
    from ..data.cache import fingerprint, cache_root
    from ..features import read_h5
    from ..teacher import embed_records, records_from_emotion_set, write_teacher_features

    records = records_from_emotion_set(image_set, splits=("train",))
    if not records:
        raise DataError("has no images in its train split", image_set.root)
    labels = ",".join(str(record.label) for record in records)
    data_key = hashlib.sha256(f"{fingerprint(records, teacher.config.img_size)}:{labels}".encode()).hexdigest()[:20]
    path = cache_root() / "teacher_features" / f"{teacher.hash}-{data_key}.h5"
    if path.is_file():
        try:
            cached = read_h5(path, "teacher_features", dim=teacher.dim)
            if cached.attrs.get("teacher_hash") == teacher.hash and "labels" in cached:
                return cached["features"], cached["labels"], path, True
        except FormatError:
            pass  # a damaged cache entry is simply computed again
    bar = console.progress(total=len(records), desc="embedding train images", unit="img")
    try:
        embedding = embed_records(teacher, records, batch_size, on_progress=bar.update)
    finally:
        bar.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_teacher_features(path, embedding, teacher, {"source": str(image_set.root), "data_key": data_key})
    except (OSError, FormatError) as exc:
        console.warn(f"teacher features not cached ({exc})")
        path = None
    labels_array = [record.label for record in embedding.records]
    return embedding.features, labels_array, path, False


def labelled_train_features(features_path: Path):
    """(features, labels, teacher hash, dim) of the labelled train rows of a teacher features file."""
    from ..features import read_h5
    from ..teacher import train_rows

    data = read_h5(features_path, "teacher_features")
    if "labels" not in data:
        raise DataError("has no emotion labels; embed a SER30K or root/<emotion>/* folder with --teacher",
                        features_path)
    rows = train_rows(str(data.attrs.get("split_rows", "")), len(data))
    return data["features"][rows], data["labels"][rows], str(data.attrs["teacher_hash"]), int(data.attrs["dim"])


@click.command("build-anchors")
@click.option("--teacher", "teacher_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Teacher checkpoint (default: teacher.pt in the working folder). With --features it is "
                   "optional and, when given, must be the teacher that made them.")
@click.option("-M", "--M", "clusters", type=click.IntRange(min=1), default=60, show_default=True,
              help="Anchors (K-Means clusters) per emotion; the paper's best is 60 (Table 4).")
@click.option("--data", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Emotion-labelled images to embed, train split (SER30K or root/<emotion>/*); "
                   "default: the teacher's own training data, else the demo's emotion set.")
@click.option("--features", "features_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Teacher features from `pbr embed --teacher` instead of embedding: its labelled rows "
                   "(the train split when the file records one).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_OUTPUT,
              show_default=True, help="Anchors file to write (HDF5, kind 'anchors').")
@click.option("--on-small-class", type=click.Choice(["error", "shrink"]), default="error", show_default=True,
              help="An emotion with fewer than M images: error, or shrink (one centroid per image, repeated "
                   "cyclically to M rows so the file keeps 7·M anchors; the distinct count is stored).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per teacher forward pass when embedding.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
@guard_outputs("output")
def build_anchors(settings, teacher_path: Path | None, clusters: int, data: Path | None, features_path: Path | None,
                  output: Path, on_small_class: str, batch_size: int, as_json: bool) -> None:
    """Cluster each emotion's teacher features into M centroids: the 7·M emotion anchors E.

    The anchors are stored emotion-major (emotion 0's M centroids first, SER30K order: surprise,
    happiness, disgust, fear, sadness, anger, neutral) with each anchor's emotion, M, the feature
    size and the teacher's hash. Without --features, the teacher embeds the train split of its
    data once; the features are cached under $PBR_CACHE_DIR (default ~/.cache/pbr), keyed by the
    teacher's hash and the images.
    """
    from .. import console
    from ..anchors import build_anchors as cluster_anchors
    from ..anchors import write_anchors
    from ..io import check_output_path
    from ..teacher import load_teacher
    from .teacher_train import open_teacher_data

    if data is not None and features_path is not None:
        raise click.UsageError("--data and --features exclude each other: give one")
    check_output_path(output)
    started = time.perf_counter()
    cache_file, cache_hit = None, False
    if features_path is not None:
        features, labels, teacher_hash, dim = labelled_train_features(features_path)
        if teacher_path is not None:
            teacher = load_teacher(teacher_path)
            if teacher.hash != teacher_hash:
                raise FormatError(f"made by teacher {teacher_hash}, but {teacher_path} is teacher {teacher.hash}; "
                                  f"embed again with --teacher {teacher_path}, or leave --teacher out", features_path)
        source = features_path
    else:
        teacher_path = teacher_path if teacher_path is not None else Path(DEFAULT_TEACHER)
        if not teacher_path.exists():
            raise ConfigError(f"no teacher: {teacher_path} not found; pass --teacher FILE or train one with "
                              "`pbr teacher-train`")
        teacher = load_teacher(teacher_path, settings.torch_device())
        image_set = open_teacher_data(data if data is not None else training_data_of(teacher))
        features, labels, cache_file, cache_hit = cached_train_features(teacher, image_set, batch_size)
        teacher_hash, dim, source = teacher.hash, teacher.dim, image_set.root
    anchors = cluster_anchors(features, labels, M=clusters, on_small_class=on_small_class, seed=settings.seed,
                              source=source)
    write_anchors(output, anchors, teacher_hash, {"teacher": "" if teacher_path is None else str(teacher_path),
                                                  "source": str(source), "on_small_class": on_small_class})
    seconds = time.perf_counter() - started
    if anchors.shrunk:
        listed = ", ".join(f"{name} {count}" for name, count in anchors.shrunk.items())
        console.warn(f"fewer than M={clusters} images ({listed}): those emotions' anchors repeat their distinct centroids")
    summary = {
        "output": str(output),
        "teacher_hash": teacher_hash,
        "M": clusters,
        "dim": dim,
        "anchors": len(anchors.anchors),
        "source": str(source),
        "features_cache": None if cache_file is None else str(cache_file),
        "cached": cache_hit,
        "images_per_emotion": dict(zip(anchors.class_names, anchors.images_per_emotion)),
        "clusters_per_emotion": dict(zip(anchors.class_names, anchors.clusters_per_emotion)),
        "on_small_class": on_small_class,
        "seconds": round(seconds, 3),
    }
    if as_json:
        console.print_json(summary)
        return
    console.print_table(f"emotion anchors from {source}", ["emotion", "images", "distinct anchors"],
                        [[name, images, f"{distinct}/{clusters}"] for name, images, distinct in
                         zip(anchors.class_names, anchors.images_per_emotion, anchors.clusters_per_emotion)])
    console.out.print(f"wrote {output}: {len(anchors.anchors)} anchors x {dim} (M={clusters}, teacher {teacher_hash}), "
                      f"{seconds:.1f} s{' (cached teacher features)' if cache_hit else ''}", markup=False, highlight=False)
