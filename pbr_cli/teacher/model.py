"""The emotion teacher's model and checkpoint: a timm classifier over the 7 emotions, saved and loaded as
safetensors with its config and content hash (no code is executed).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..emotions import EMOTIONS
from ..errors import ConfigError, FormatError
from ..io import write_bytes_atomic
from ..runtime import autocast
from ..strict_json import dumps

# Short names for the teacher architecture; anything else is a timm model name.
ARCH_ALIASES: dict[str, str] = {
    "tiny": "test_resnet",  # timm's 0.4M-parameter test ResNet (96-d feature): tests and CPU demos
    "resnet": "resnet50",  # the paper's teacher (2048-d feature)
}
CHECKPOINT_FORMAT = "pbr-teacher"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class TeacherConfig:
    """What rebuilds a teacher and defines its inputs; stored in (and hashed with) every checkpoint."""

    arch: str  # timm model name the weights belong to
    img_size: int  # images are padded to a white square and resized to this side
    class_names: tuple[str, ...]  # classifier output order (EMOTIONS)
    feature_dim: int  # C_S: width of the pooled penultimate feature V^e
    mean: tuple[float, float, float]  # per-channel normalisation of 0..1 pixels
    std: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "img_size": self.img_size,
            "class_names": list(self.class_names),
            "feature_dim": self.feature_dim,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, raw: Any, path: str | os.PathLike) -> "TeacherConfig":
        expected = {"arch", "img_size", "class_names", "feature_dim", "mean", "std"}
        if not isinstance(raw, dict) or set(raw) != expected:
            found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise FormatError(f"teacher config must have exactly the keys {sorted(expected)}, found {found}", path)
        try:
            config = cls(
                arch=str(raw["arch"]),
                img_size=int(raw["img_size"]),
                class_names=tuple(str(name) for name in raw["class_names"]),
                feature_dim=int(raw["feature_dim"]),
                mean=tuple(float(v) for v in raw["mean"]),
                std=tuple(float(v) for v in raw["std"]),
            )
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


def build_classifier(
    arch: str, img_size: int, class_names: Sequence[str] = EMOTIONS
) -> tuple[nn.Module, TeacherConfig]:
    """A randomly initialised timm classifier over `class_names` and the config describing it (nothing is
    downloaded)."""
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
        probe = torch.zeros(1, 3, img_size, img_size)  # (1, 3, S, S)
        feature_dim = int(model.forward_head(model.forward_features(probe), pre_logits=True).shape[-1])
    model.train(was_training)
    config = TeacherConfig(
        arch=name,
        img_size=img_size,
        class_names=tuple(class_names),
        feature_dim=feature_dim,
        mean=tuple(float(v) for v in data_config["mean"]),
        std=tuple(float(v) for v in data_config["std"]),
    )
    return model, config


def load_init_weights(model: nn.Module, path: str | os.PathLike) -> dict[str, Any]:
    """Copy a timm / ImageNet checkpoint into `model`, keeping `model`'s own classifier; returns what was loaded.

    Reads safetensors (told by content: a pbr teacher checkpoint of the same arch fits), or a torch file
    restricted to tensors (pickled code is refused, never run).
    """
    from ..model.weights import read_state_dict

    state = read_state_dict(path)
    classifier = model.pretrained_cfg.get("classifier") or ()
    prefixes = tuple(f"{name}." for name in ((classifier,) if isinstance(classifier, str) else classifier))
    own = model.state_dict()
    usable: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.startswith(prefixes) or name not in own:
            continue
        if tensor.shape != own[name].shape:
            raise FormatError(
                f"weights do not fit the teacher architecture: {name} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(own[name].shape)}",
                path,
            )
        usable[name] = tensor
    if not usable:
        raise FormatError("no tensor in the file fits the teacher architecture (a checkpoint of another model?)", path)
    model.load_state_dict(usable, strict=False)
    missing = [name for name in own if name not in usable and not name.startswith(prefixes)]
    return {"path": str(Path(path).resolve()), "loaded": len(usable), "missing": len(missing)}


def content_hash(config: TeacherConfig, state: Mapping[str, torch.Tensor]) -> str:
    """A 16-hex-digit hash of the config and every tensor (name, dtype, shape, bytes): which teacher this is."""
    digest = hashlib.sha256(
        dumps(config.to_dict(), "the teacher config", sort_keys=True, ensure_ascii=True).encode("utf-8")
    )
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
    from ..data.cache import square_resize

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

    def __init__(
        self,
        model: nn.Module,
        config: TeacherConfig,
        device: str | torch.device = "cpu",
        info: dict[str, Any] | None = None,
    ):
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
            features = self.model.forward_head(tokens, pre_logits=True)  # (B, C_S)
            logits = self.model.forward_head(tokens)  # (B, 7)
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


def teacher_info(path: str | os.PathLike) -> dict[str, Any]:
    """The training info (report, data, init) in a teacher checkpoint's header, read without its weights;
    FormatError when the file is not a readable pbr teacher checkpoint (`load_teacher` says why)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = dict(handle.metadata() or {})
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(path)
        info = json.loads(metadata.get("info") or "{}")
    except (SafetensorError, OSError, ValueError, RuntimeError):
        raise FormatError("not a pbr teacher checkpoint", path) from None
    return info if isinstance(info, dict) else {}  # as load_teacher reads it


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
        raise FormatError(
            f"not a pbr teacher checkpoint (expected safetensors written by teacher-train; {detail})", path
        ) from None
    from ..model.weights import check_finite_weights

    check_finite_weights(tensors, path)
    if metadata.get("format_version") != str(CHECKPOINT_VERSION):
        raise FormatError(
            f"teacher checkpoint version {metadata.get('format_version')} is not supported "
            f"(expected {CHECKPOINT_VERSION})",
            path,
        )
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
        raise FormatError(
            f"teacher config does not describe a {config.arch} model (feature size or normalisation "
            f"differ: {built.feature_dim} vs {config.feature_dim})",
            path,
        )
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise FormatError(f"weights do not fit a {config.arch} model ({lines[-1] if lines else exc})", path) from None
    teacher = Teacher(model, config, device, info if isinstance(info, dict) else {})
    if teacher.hash != metadata.get("content_hash"):
        raise FormatError("content hash does not match the weights: the file is corrupt or was modified", path)
    return teacher
