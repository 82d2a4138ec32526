"""Typed model and training configurations, the named sizes `tiny` and `paper`, and YAML/JSON loading."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

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

    img: str = "vit"  # vit | resnet | inception | any timm model name
    img_size: int = 128  # input resolution (paper: 128 px)
    img_kwargs: dict = field(default_factory=dict)  # extra timm create_model arguments (sizes of small towers)
    txt: str = "bert"  # bert | lstm | gru | transformer
    txt_layers: int = 6  # layers of the text tower (BERT: the first N of the checkpoint)
    fusion_layers: int = 6  # fusion layers (BERT: the last N of the checkpoint; cross-attention new)
    hidden: int = 768  # C_T: text tower and fusion width
    heads: int = 12  # attention heads of text tower and fusion
    intermediate: int = 3072  # feed-forward width of BERT-style layers
    max_len: int = 512  # max text tokens; truncation keeps the most recent turns
    vocab_size: int = 0  # set when the tokenizer is built
    word_dim: int = 300  # word-embedding size of lstm / gru / transformer towers
    embed_dim: int = 256  # C: shared ITC space
    temp: float = 0.07  # ITC temperature (initial value when learnable)
    learn_temp: bool = True  # learn the ITC temperature (ALBEF) or keep it fixed
    txt_pool: str = "cls"  # text ITC feature: cls (w_cls, the paper) | mean (mean of the real tokens)
    embed_norm: str = "none"  # normalisation of both pooled features before the ITC projections: none | batch
    itm_input: str = "fusion"  # what the ITM head reads: fusion ([CLS] of the fusion encoder, the paper) |
    # fusion+itc (also the product of the pair's ITC embeddings)
    dropout: float = 0.1  # dropout in text tower and fusion
    ekd_dim: int = 0  # EKD head outputs: 7*M (anchors), 7 (logits), C_S (features); 0 = no head
    tscl_dim: int = 0  # output size of the TSCL projection psi; 0 = no head
    txt_model: str = ""  # Hugging Face BERT folder the text tower was initialised from ("" = none)
    img_weights: str = ""  # image-tower checkpoint it was initialised from ("" = none)

    @property
    def timm_name(self) -> str:
        return IMAGE_TOWERS.get(self.img, self.img)


@dataclass
class TrainConfig:
    """Optimisation and schedule (the authors': AdamW 1e-4 -> 1e-5 cosine, wd 0.02, batch 4)."""

    batch_size: int = 4  # K dialogues per step (each with its candidate set)
    steps: int = 0  # total optimiser steps; 0 = derive from epochs
    epochs: float = 5.0  # used when steps is 0
    lr: float = 1e-4  # peak learning rate (AdamW), reached after warmup_steps
    min_lr: float = 1e-5  # where the cosine schedule ends
    weight_decay: float = 0.02  # AdamW's decoupled weight decay
    warmup_steps: int = 0
    val_every: int = 5000  # validation (and best-checkpoint selection on val MAP) interval
    val_limit: int = 0  # validate on at most this many val dialogues (0 = all)
    log_every: int = 50
    save_every: int = 0  # resumable checkpoint interval (0 = every validation)
    compile: str = "auto"  # torch.compile the towers and fusion: auto (on CUDA) | on | off
    loss: str = "itm"  # itm (ITC + ITM, ALBEF/PBR) | itc (CLIP-style dual encoder)
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    negatives: str = "semantic"  # ITM negatives: semantic (ALBEF) | phsm (Algorithm 1) | random
    ekd: str = "off"  # Emotion Knowledge Distillation: anchors | logits | features | off
    ekd_weight: float = 0.5  # alpha
    ekd_tau: float = 1.0  # temperature of the pseudo-labels softmax(V^e E / tau)
    ekd_similarity: str = "dot"  # how a sticker's teacher feature v meets an anchor e in the pseudo-labels: dot
    # (v . e, the paper) | distance (-|v - e|^2 / 2: nearest anchor first, whatever the anchors' lengths)
    phsm_emotion: str = "teacher"  # sticker polarity for PHSM: teacher pseudo-labels | student EKD head
    phsm_pool: str = "batch"  # where PHSM draws a dialogue's negative sticker: batch (all K·n candidates,
    # Algorithm 1) | own (the dialogue's own candidate set)
    itm_negatives: int = 1  # negative stickers per dialogue in the ITM pairs (ALBEF / the paper: 1), drawn
    # without replacement by the mining distribution; each weighs 1/m, keeping positives : negatives at 1 : 2
    itm_list_weight: float = 0.0  # weight of a listwise ITM term: each dialogue's positive ranked against its
    # m negatives by the match margin (0 = off, the paper)
    intra_weight: float = 0.0  # beta, intra-topic contrastive loss (0 = off; the paper: 0.5)
    inter_weight: float = 0.0  # gamma, inter-topic contrastive loss (0 = off; the paper: 0.5)
    tscl_temp: float = 0.1  # temperature of both TSCL losses
    tscl_stop_grad: bool = False  # no gradient through the image tower's pass over TSCL's second view (its
    # backward is skipped: PBR steps ~1.4x cheaper)
    crop_scale: float = 0.5  # smallest area share kept by the random resized crop of training views
    text_mask: float = 0.0  # share of the dialogue tokens (not [CLS] / [SEP]) replaced by [MASK] in each
    # training batch, drawn anew every step (0 = off, the paper)
    ema: float = 0.0  # decay of a moving average of the weights, which validation, best.safetensors and
    # last.safetensors then hold (0 = off: the trained weights themselves)
    bn_batches: int = 0  # training batches (without augmentation) that recompute the BatchNorm statistics of the
    # weights validated and saved (0 = keep the running statistics of training, whose augmented views differ)
    precision: str = "auto"  # training arithmetic: auto (bf16 on CUDA and on CPUs with native bf16) |
    # bf16 | fp32 (the one bit-reproducible choice)


@dataclass
class RunConfig:
    """A named configuration: the model plus its training schedule."""

    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    base: str = ""  # the named size it starts from (`tiny`, `paper`; a file's `base:`); not saved with a run

    def __post_init__(self) -> None:
        self.base = self.base or (self.name if self.name in ("tiny", "paper") else "")

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        del data["base"]
        return data


def _tiny() -> RunConfig:
    # Chosen by measurement on the demo's val split (from random init, 2 CPU cores): a small BatchNorm CNN
    # learns the stickers far sooner than a tiny ViT; mean-pooled text, BatchNorm before the ITC projections
    # and a fixed temperature keep the embeddings from collapsing; the ITM head starts from the ITC similarity.
    # 1200 steps: val R10@1 still rises to the last step (600: 42.6, 1200: 53.9 for Base); TSCL's second view
    # without gradient keeps PBR's steps within ~1.4x Base's at no loss measured (600 steps: 28.9 vs 25.4).
    model = ModelConfig(
        img="test_resnet",
        img_size=64,
        img_kwargs={},
        txt="bert",
        txt_layers=2,
        fusion_layers=2,
        hidden=96,
        heads=3,
        intermediate=192,
        max_len=128,
        word_dim=64,
        embed_dim=64,
        dropout=0.0,
        learn_temp=False,
        txt_pool="mean",
        embed_norm="batch",
        itm_input="fusion+itc",
    )
    train = TrainConfig(
        batch_size=16,
        steps=1200,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=30,
        val_every=100,
        val_limit=256,
        log_every=20,
        tscl_stop_grad=True,
        phsm_pool="own",  # from scratch, other topics' candidates are the wrong hard negatives (README, Table 3)
        ekd_weight=3.0,  # alpha; full PBR, 3 seeds, val R10@1: 54.2 at the paper's 0.5, 57.2 at 1.5 (before the
        # weight average); with it 59.4 at 1.0, 57.6 at 1.5, 63.7 at 3.0 (README)
        # the weights validated and saved: BatchNorm statistics recomputed on clean training batches (Base, seeds
        # 0-1, val R10@1 at 1200 steps: 48.8 -> 53.5) on a moving average (mid-training a few points more)
        ema=0.99,
        bn_batches=20,
    )
    return RunConfig("tiny", model, train)


def _paper() -> RunConfig:
    return RunConfig("paper", ModelConfig(), TrainConfig(batch_size=4, steps=200_000))


NAMED = {"tiny": _tiny, "paper": _paper}

# Small versions of the named towers, used when `--img vit|resnet|inception` is combined with the tiny size.
TINY_IMAGE_KWARGS = {
    "vit": {"patch_size": 8, "embed_dim": 96, "depth": 3, "num_heads": 3},
    "resnet": {"layers": [1, 1, 1, 1]},
    "inception": {},
}


def tiny_image_kwargs(img: str) -> dict:
    """The timm arguments of the tiny size of image tower `img` ({} for a tower without a small version)."""
    return dict(TINY_IMAGE_KWARGS.get(img, {}))


# -- what every key may hold ------------------------------------------------------------------------

INT_MAX = 2**31 - 1  # the largest integer any key takes (a C int: torch, numpy and timm accept it)


@dataclass(frozen=True)
class Rule:
    """The type and range one configuration value must have; `check` returns it normalised or raises ValueError."""

    kind: str  # int | float | bool | str | choice | mapping | name
    low: float | None = None  # smallest value (excluded when low_open)
    high: float | None = None  # largest value (excluded when high_open)
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    option: str = ""  # the `pbr train` option that sets the key, named in errors about it

    def check(self, value: Any) -> Any:
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected an integer, got {_shown(value)}")
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise ValueError(f"expected an integer, got {_shown(value)}")
            return self._in_range(int(value))
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                hint = ""
                if isinstance(value, str) and re.fullmatch(r"[-+]?\d+e[-+]?\d+", value.strip(), re.IGNORECASE):
                    written = value.strip().lower().replace("e", ".0e", 1)
                    hint = f" (YAML reads an exponent without a decimal point as text: write {written})"
                raise ValueError(f"expected a number, got {_shown(value)}{hint}")
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                number = math.inf
            if not math.isfinite(number):
                raise ValueError(f"must be a finite number, got {_shown(value)}")
            return self._in_range(number)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {_shown(value)}")
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, got {_shown(value)}")
            return value
        if self.kind == "mapping":
            if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
                raise ValueError(f"expected a mapping with string keys, got {_shown(value)}")
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_shown(value)}")
        if self.kind == "name" and (
            not value.strip() or value in (".", "..") or any(c in value for c in "/\\") or not value.isprintable()
        ):
            raise ValueError(f"must be a plain name (no path separators or control characters), got {_shown(value)}")
        return value

    def _in_range(self, value: int | float) -> int | float:
        low, high = self.low, self.high
        if low is not None and (value <= low if self.low_open else value < low):
            raise ValueError(
                f"must be positive, got {value}"
                if (low, self.low_open) == (0, True)
                else f"must be {'greater than' if self.low_open else 'at least'} {low}, got {value}"
            )
        if high is not None and (value >= high if self.high_open else value > high):
            raise ValueError(f"must be {'less than' if self.high_open else 'at most'} {high}, got {value}")
        return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def integer(low: int, high: int = INT_MAX, option: str = "") -> Rule:
    return Rule("int", low, high, option=option)


def number(
    low: float, high: float | None = None, low_open: bool = False, high_open: bool = False, option: str = ""
) -> Rule:
    return Rule("float", low, high, low_open, high_open, option=option)


def choice(*choices: str, option: str = "") -> Rule:
    return Rule("choice", choices=choices, option=option)


TEXT, BOOL, MAPPING = Rule("str"), Rule("bool"), Rule("mapping")
MAX_IMG_SIZE = 4096  # the largest input side in pixels, of the ranker and (`teacher-train --img-size`) the teacher
POSITIVE = {"low": 0, "low_open": True}

# Every key of RunConfig, ModelConfig ("model.*") and TrainConfig ("train.*"): its type and range.
RULES: dict[str, Rule] = {
    "name": Rule("name"),
    "model.img": TEXT,
    "model.img_size": integer(32, MAX_IMG_SIZE, option="--img-size"),
    "model.img_kwargs": MAPPING,
    "model.txt": choice(*TEXT_TOWERS, option="--txt"),
    "model.txt_layers": integer(1, 256),
    "model.fusion_layers": integer(0, 256),
    "model.hidden": integer(1, 65536),
    "model.heads": integer(1, 1024),
    "model.intermediate": integer(1, 262144),
    "model.max_len": integer(8, 65536),
    "model.vocab_size": integer(0, 100_000_000),
    "model.word_dim": integer(1, 65536),
    "model.embed_dim": integer(1, 65536),
    "model.temp": number(0.001, 0.5, option="--temp"),  # the range the model clamps the temperature to
    "model.learn_temp": BOOL,
    "model.txt_pool": choice("cls", "mean"),
    "model.embed_norm": choice("none", "batch"),
    "model.itm_input": choice("fusion", "fusion+itc"),
    "model.dropout": number(0, 1, high_open=True),
    "model.ekd_dim": integer(0, 1_000_000),
    "model.tscl_dim": integer(0, 65536),
    "model.txt_model": TEXT,
    "model.img_weights": TEXT,
    "train.batch_size": integer(1, option="--batch-size"),
    "train.steps": integer(0, option="--steps"),
    "train.epochs": number(0, 1e6, option="--epochs"),
    "train.lr": number(0, low_open=True, option="--lr"),
    "train.min_lr": number(0, option="--min-lr"),
    "train.weight_decay": number(0, option="--weight-decay"),
    "train.warmup_steps": integer(0),
    "train.val_every": integer(1, option="--val-every"),
    "train.val_limit": integer(0, option="--val-limit"),
    "train.log_every": integer(1, option="--log-every"),
    "train.save_every": integer(0, option="--save-every"),
    "train.compile": choice("auto", "on", "off", option="--compile"),
    "train.loss": choice("itm", "itc", option="--loss"),
    "train.grad_clip": number(0),
    "train.negatives": choice("phsm", "semantic", "random", option="--negatives"),
    "train.ekd": choice("anchors", "logits", "features", "off", option="--ekd"),
    "train.ekd_weight": number(0, option="--ekd-weight"),
    "train.ekd_tau": number(**POSITIVE, option="--ekd-tau"),
    "train.ekd_similarity": choice("dot", "distance", option="--ekd-similarity"),
    "train.phsm_emotion": choice("teacher", "student", option="--phsm-emotion"),
    "train.phsm_pool": choice("batch", "own"),
    "train.itm_negatives": integer(1, 4096, option="--itm-negatives"),
    "train.itm_list_weight": number(0, option="--itm-list-weight"),
    "train.intra_weight": number(0, option="--intra-weight"),
    "train.inter_weight": number(0, option="--inter-weight"),
    "train.tscl_temp": number(**POSITIVE, option="--tscl-temp"),
    "train.tscl_stop_grad": BOOL,
    "train.crop_scale": number(0, 1, low_open=True),
    "train.text_mask": number(0, 1, high_open=True, option="--text-mask"),
    "train.ema": number(0, 1, high_open=True, option="--ema"),
    "train.bn_batches": integer(0),
    "train.precision": choice("auto", "bf16", "fp32"),
}


def choices(key: str) -> list[str]:
    """The values a choice key of RULES takes, in order: what its `pbr train` option offers too."""
    return list(RULES[key].choices)


@dataclass(frozen=True)
class Relation:
    """A rule between keys: `holds(config)` must be true, else `key` is reported with `message(config)`."""

    key: str
    holds: Callable[[RunConfig], bool]
    message: Callable[[RunConfig], str]


RELATIONS: tuple[Relation, ...] = (
    Relation(
        "model.heads",
        lambda c: c.model.hidden % c.model.heads == 0,
        lambda c: f"must divide model.hidden ({c.model.hidden}), got {c.model.heads}",
    ),
    Relation(
        "model.hidden",
        lambda c: c.model.txt not in ("lstm", "gru") or c.model.hidden % 2 == 0,
        lambda c: f"must be even for the {c.model.txt} text tower, got {c.model.hidden}",
    ),
    Relation(
        "model.fusion_layers",
        lambda c: c.train.loss != "itm" or c.model.fusion_layers >= 1,
        lambda c: "must be at least 1 for the itm loss (its fusion encoder), got 0",
    ),
    Relation(
        "train.batch_size",
        lambda c: c.model.embed_norm != "batch" or c.train.batch_size >= 2,
        lambda c: (
            f"must be at least 2 with model.embed_norm batch (BatchNorm over the dialogues of a step), "
            f"got {c.train.batch_size}"
        ),
    ),
    Relation(
        "train.min_lr",
        lambda c: c.train.min_lr <= c.train.lr,
        lambda c: f"must be at most train.lr ({c.train.lr:g}), got {c.train.min_lr:g}",
    ),
    Relation(
        "train.epochs",
        lambda c: c.train.steps > 0 or c.train.epochs > 0,
        lambda c: "must be positive when train.steps is 0 (give a positive number of steps or epochs)",
    ),
)


def _key_label(key: str, path: str | None) -> str:
    """The key, with the option that sets it when the value came from the command line rather than a file."""
    option = RULES[key].option
    return f"{key} ({option})" if path is None and option else key


def validate(config: RunConfig, path: str | os.PathLike | None = None) -> None:
    """Check every key against RULES and RELATIONS, normalising numbers in place (1 -> 1.0 for a float key).

    The ConfigError names the key, and `path` (the file the values came from) or else the option that sets it.
    """
    where = None if path is None else os.fspath(path)
    sections = {"model": config.model, "train": config.train}
    values = [("name", config, "name")] + [
        (f"{section}.{f.name}", holder, f.name) for section, holder in sections.items() for f in fields(holder)
    ]
    for key, holder, attribute in values:
        try:
            setattr(holder, attribute, RULES[key].check(getattr(holder, attribute)))
        except ValueError as exc:
            raise ConfigError(f"{_key_label(key, where)}: {exc}", where) from None
    for relation in RELATIONS:
        if not relation.holds(config):
            raise ConfigError(f"{_key_label(relation.key, where)}: {relation.message(config)}", where)


# Keys older versions wrote into config.json that no longer mean anything: read and dropped, so their runs load.
RETIRED_KEYS: dict[str, frozenset[str]] = {
    "model": frozenset({"ekd_mode"}),  # a copy of train.ekd
    "train": frozenset({"workers"}),  # data-loader processes, never used
}


def _section(cls, data: Any, section: str, path: str | None):
    if not isinstance(data, dict):
        raise ConfigError(f"{section}: expected a mapping, got {_shown(data)}", path)
    data = {key: value for key, value in data.items() if key not in RETIRED_KEYS[section]}
    known = [f.name for f in fields(cls)]
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{section}.{key}' for key in unknown)} (known: {', '.join(sorted(known))})",
            path,
        )
    return cls(**data)


def run_config_from_dict(data: Any, where: str | os.PathLike | None) -> RunConfig:
    """A RunConfig from a mapping (a run's config.json), every key checked; ConfigError names `where` and the key."""
    path = None if where is None else os.fspath(where)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}", path)
    unknown = sorted(str(key) for key in data if key not in ("name", "model", "train"))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} (known: model, name, train)", path)
    config = RunConfig(
        data.get("name", "custom"),
        _section(ModelConfig, data.get("model", {}), "model", path),
        _section(TrainConfig, data.get("train", {}), "train", path),
    )
    validate(config, path)
    return config


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration ({exc.strerror or exc.__class__.__name__})", path) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"cannot parse configuration ({exc.__class__.__name__}: {_first_line(exc)})", path) from None
    except Exception as exc:  # yaml.YAMLError has no common base importable without yaml
        raise ConfigError(f"cannot parse configuration ({_first_line(exc)})", path) from None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [exc.__class__.__name__])[0]


def load_run_config(spec: str) -> RunConfig:
    """A named configuration (`tiny`, `paper`) or a YAML/JSON file whose keys override `base` (default tiny)."""
    if spec in NAMED:
        return NAMED[spec]()
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"--config: '{spec}' is neither a named configuration ({', '.join(NAMED)}) nor a file")
    data = _parse(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}", path)
    base_name = data.pop("base", "tiny")
    if not isinstance(base_name, str) or base_name not in NAMED:
        raise ConfigError(f"base: must be one of {', '.join(NAMED)}, got {_shown(base_name)}", path)
    merged = NAMED[base_name]().to_dict()
    for section in ("model", "train"):
        section_data = data.pop(section, None)
        if section_data is None:
            continue
        if not isinstance(section_data, dict):
            raise ConfigError(f"{section}: expected a mapping, got {_shown(section_data)}", path)
        merged[section].update(section_data)
    merged.update({"name": path.stem, **data})
    config = run_config_from_dict(merged, path)
    config.base = base_name
    return config
