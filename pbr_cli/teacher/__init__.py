"""The frozen emotion teacher (paper §3.2): a timm classifier over the 7 emotions, its checkpoint, embedding and
training, one module each; `train_teacher_file` is `pbr teacher-train` as one call."""

from .embedding import (
    TEACHER_OUTPUTS,
    ImageRecord,
    TeacherEmbedding,
    embed_folder,
    embed_records,
    image_records,
    is_emotion_image_set,
    records_from_emotion_set,
    records_from_stickers,
    teacher_feature_contents,
    train_rows,
    write_teacher_features,
)
from .model import Teacher, TeacherConfig, build_classifier, content_hash, load_init_weights, load_teacher, resolve_arch
from .train_file import train_teacher_file
from .training import MIN_TEACHER_STEPS, classification_report, default_epochs, train_teacher

__all__ = [
    "MIN_TEACHER_STEPS",
    "TEACHER_OUTPUTS",
    "ImageRecord",
    "Teacher",
    "TeacherConfig",
    "TeacherEmbedding",
    "build_classifier",
    "classification_report",
    "content_hash",
    "default_epochs",
    "embed_folder",
    "embed_records",
    "image_records",
    "is_emotion_image_set",
    "load_init_weights",
    "load_teacher",
    "records_from_emotion_set",
    "records_from_stickers",
    "resolve_arch",
    "teacher_feature_contents",
    "teacher_info",
    "train_rows",
    "train_teacher",
    "train_teacher_file",
    "write_teacher_features",
]
