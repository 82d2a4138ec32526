"""Typed model and training configurations, the named sizes `tiny` and `paper`, and YAML/JSON loading."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# Named image towers: shortcut -> (timm model name, timm kwargs for the paper size).
IMAGE_TOWERS: dict[str, str] = {
    "vit": "vit_base_patch16_224",
    "resnet": "resnet50",
    "inception": "inception_v3",
}
TEXT_TOWERS = ("bert", "lstm", "gru", "transformer")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved beside every run as config.json."""

    img: str = "vit"                 # vit | resnet | inception | any timm model name
    img_size: int = 128              # input resolution (paper: 128 px)
    img_kwargs: dict = field(default_factory=dict)  # extra timm create_model arguments (sizes of small towers)
    txt: str = "bert"                # bert | lstm | gru | transformer
    txt_layers: int = 6              # layers of the text tower (BERT: the first N of the checkpoint)
    fusion_layers: int = 6           # fusion layers (BERT: the last N of the checkpoint; cross-attention new)
    hidden: int = 768                # C_T: text tower and fusion width
    heads: int = 12                  # attention heads of text tower and fusion
    intermediate: int = 3072         # feed-forward width of BERT-style layers
    max_len: int = 512               # max text tokens; truncation keeps the most recent turns
    vocab_size: int = 0              # set when the tokenizer is built
    word_dim: int = 300              # word-embedding size of lstm / gru / transformer towers
    embed_dim: int = 256             # C: shared ITC space
    temp: float = 0.07               # ITC temperature (initial value when learnable)
    learn_temp: bool = True          # learn the ITC temperature (ALBEF) or keep it fixed
    txt_pool: str = "cls"            # text ITC feature: cls (w_cls, the paper) | mean (mean of the real tokens)
    embed_norm: str = "none"         # normalisation of both pooled features before the ITC projections: none | batch
    itm_input: str = "fusion"        # what the ITM head reads: fusion ([CLS] of the fusion encoder, the paper) |
                                     # fusion+itc (also the product of the pair's ITC embeddings)
    dropout: float = 0.1             # dropout in text tower and fusion
    ekd_dim: int = 0                 # EKD head outputs: 7*M (anchors), 7 (logits), C_S (features); 0 = no head
    ekd_mode: str = "off"            # anchors | logits | features | off
    tscl_dim: int = 0                # output size of the TSCL projection psi; 0 = no head
    txt_model: str = ""              # Hugging Face BERT folder the text tower was initialised from ("" = none)
    img_weights: str = ""            # image-tower checkpoint it was initialised from ("" = none)

    @property
    def timm_name(self) -> str:
        return IMAGE_TOWERS.get(self.img, self.img)


@dataclass
class TrainConfig:
    """Optimisation and schedule (the authors': AdamW 1e-4 -> 1e-5 cosine, wd 0.02, batch 4)."""

    batch_size: int = 4              # K dialogues per step (each with its candidate set)
    steps: int = 0                   # total optimiser steps; 0 = derive from epochs
    epochs: float = 5.0              # used when steps is 0
    lr: float = 1e-4
    min_lr: float = 1e-5
    weight_decay: float = 0.02
    warmup_steps: int = 0
    val_every: int = 5000            # validation (and best-checkpoint selection on val MAP) interval
    val_limit: int = 0               # validate on at most this many val dialogues (0 = all)
    log_every: int = 50
    save_every: int = 0              # resumable checkpoint interval (0 = every validation)
    compile: str = "auto"            # torch.compile the towers and fusion: auto (on CUDA) | on | off
    loss: str = "itm"                # itm (ITC + ITM, ALBEF/PBR) | itc (CLIP-style dual encoder)
    grad_clip: float = 0.0           # max gradient norm; 0 = off
    workers: int = 0                 # data-loader worker processes
    negatives: str = "semantic"      # ITM negatives: semantic (ALBEF) | phsm (Algorithm 1) | random
    ekd: str = "off"                 # Emotion Knowledge Distillation: anchors | logits | features | off
    ekd_weight: float = 0.5          # alpha
    ekd_tau: float = 1.0             # temperature of the pseudo-labels softmax(V^e E / tau)
    phsm_emotion: str = "teacher"    # sticker polarity for PHSM: teacher pseudo-labels | student EKD head
    intra_weight: float = 0.0        # beta, intra-topic contrastive loss (0 = off; the paper: 0.5)
    inter_weight: float = 0.0        # gamma, inter-topic contrastive loss (0 = off; the paper: 0.5)
    tscl_temp: float = 0.1           # temperature of both TSCL losses
    crop_scale: float = 0.5          # smallest area share kept by the random resized crop of training views


@dataclass
class RunConfig:
    """A named configuration: the model plus its training schedule."""

    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _tiny() -> RunConfig:
    # Chosen by measurement on the demo's val split (from random init, 2 CPU cores): a small BatchNorm CNN
    # learns the stickers far sooner than a tiny ViT; mean-pooled text, BatchNorm before the ITC projections
    # and a fixed temperature keep the embeddings from collapsing; the ITM head starts from the ITC similarity.
    model = ModelConfig(
        img="test_resnet", img_size=64, img_kwargs={},
        txt="bert", txt_layers=2, fusion_layers=2, hidden=96, heads=3, intermediate=192, max_len=128,
        word_dim=64, embed_dim=64, dropout=0.0, learn_temp=False, txt_pool="mean", embed_norm="batch",
        itm_input="fusion+itc",
    )
    train = TrainConfig(batch_size=16, steps=600, lr=1e-3, min_lr=1e-4, warmup_steps=30, val_every=100, val_limit=256,
                        log_every=20)
    return RunConfig("tiny", model, train)


def _paper() -> RunConfig:
    return RunConfig("paper", ModelConfig(), TrainConfig(batch_size=4, steps=200_000))


NAMED = {"tiny": _tiny, "paper": _paper}

# Small versions of the CNN towers, used when `--img resnet|inception` is combined with the tiny size.
TINY_IMAGE_KWARGS = {
    "vit": {"patch_size": 8, "embed_dim": 96, "depth": 3, "num_heads": 3},
    "resnet": {"layers": [1, 1, 1, 1]},
    "inception": {},
}


def _from_dict(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    kwargs = {}
    for key, value in data.items():
        default = getattr(cls(), key) if key not in ("model", "train") else None
        if key == "model":
            value = _from_dict(ModelConfig, value, f"{where}.model")
        elif key == "train":
            value = _from_dict(TrainConfig, value, f"{where}.train")
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected true/false, got {value!r}")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
            value = type(default)(value) if isinstance(default, float) or float(value).is_integer() else value
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where}.{key}: expected a string, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def load_run_config(spec: str) -> RunConfig:
    """A named configuration (`tiny`, `paper`) or a YAML/JSON file whose keys override `base` (default tiny)."""
    if spec in NAMED:
        return NAMED[spec]()
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"--config: '{spec}' is neither a named configuration ({', '.join(NAMED)}) nor a file")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot parse configuration ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
    except Exception as exc:  # yaml.YAMLError has no common base importable without yaml
        raise ConfigError(f"{path}: cannot parse configuration ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    base_name = data.pop("base", "tiny")
    if base_name not in NAMED:
        raise ConfigError(f"{path}: base must be one of {', '.join(NAMED)}, got {base_name!r}")
    merged = NAMED[base_name]().to_dict()
    for section in ("model", "train"):
        section_data = data.pop(section, {}) or {}
        if not isinstance(section_data, dict):
            raise ConfigError(f"{path}: '{section}' must be a mapping")
        merged[section].update(section_data)
    merged.update(data)
    merged["name"] = data.get("name", path.stem)
    return _from_dict(RunConfig, merged, str(path))


def run_config_from_dict(data: dict, where: str) -> RunConfig:
    return _from_dict(RunConfig, data, where)


def validate(config: RunConfig) -> None:
    """Refuse nonsensical values with one line naming the option."""
    m, t = config.model, config.train
    checks = [
        (t.batch_size >= 1, f"batch size must be at least 1, got {t.batch_size}"),
        (t.lr > 0, f"learning rate must be positive, got {t.lr}"),
        (t.min_lr >= 0, f"minimum learning rate must be >= 0, got {t.min_lr}"),
        (t.weight_decay >= 0, f"weight decay must be >= 0, got {t.weight_decay}"),
        (t.steps >= 0, f"steps must be >= 0, got {t.steps}"),
        (t.epochs > 0 or t.steps > 0, "give a positive number of steps or epochs"),
        (t.val_every >= 1, f"validation interval must be at least 1, got {t.val_every}"),
        (t.loss in ("itm", "itc"), f"loss must be itm or itc, got {t.loss!r}"),
        (t.compile in ("auto", "on", "off"), f"compile must be auto, on or off, got {t.compile!r}"),
        (t.negatives in ("semantic", "phsm", "random"), f"negatives must be semantic, phsm or random, got {t.negatives!r}"),
        (t.ekd in ("anchors", "logits", "features", "off"), f"ekd must be anchors, logits, features or off, got {t.ekd!r}"),
        (t.phsm_emotion in ("teacher", "student"), f"phsm_emotion must be teacher or student, got {t.phsm_emotion!r}"),
        (t.ekd_weight >= 0 and t.intra_weight >= 0 and t.inter_weight >= 0, "loss weights must be >= 0"),
        (t.ekd_tau > 0 and t.tscl_temp > 0, "temperatures must be positive"),
        (m.txt in TEXT_TOWERS, f"unknown text tower {m.txt!r} (choose from {', '.join(TEXT_TOWERS)})"),
        (m.img_size >= 32, f"image size must be at least 32, got {m.img_size}"),
        (m.hidden % m.heads == 0, f"hidden size {m.hidden} must be divisible by heads {m.heads}"),
        (m.max_len >= 8, f"max_len must be at least 8, got {m.max_len}"),
        (m.temp > 0, f"temperature must be positive, got {m.temp}"),
        (m.txt_layers >= 1, f"text layers must be at least 1, got {m.txt_layers}"),
        (m.fusion_layers >= 0, f"fusion layers must be >= 0, got {m.fusion_layers}"),
        (m.txt_pool in ("cls", "mean"), f"txt_pool must be cls or mean, got {m.txt_pool!r}"),
        (m.embed_norm in ("none", "batch"), f"embed_norm must be none or batch, got {m.embed_norm!r}"),
        (m.itm_input in ("fusion", "fusion+itc"), f"itm_input must be fusion or fusion+itc, got {m.itm_input!r}"),
        (0 < t.crop_scale <= 1, f"crop_scale must be in (0, 1], got {t.crop_scale}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
