"""`run_training`: resolve the configuration, load data and weights, and run the Trainer into a run folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from . import console
from .errors import ConfigError, OutputError
from .model.config import TINY_IMAGE_KWARGS, RunConfig, load_run_config, validate


@dataclass
class TrainOptions:
    """What the user asked for; None means 'keep the configuration's value'."""

    data: str | None = None
    config: str = "tiny"
    img: str | None = None
    txt: str | None = None
    out: str | None = None
    loss: str | None = None
    batch_size: int | None = None
    steps: int | None = None
    epochs: float | None = None
    lr: float | None = None
    min_lr: float | None = None
    weight_decay: float | None = None
    img_size: int | None = None
    val_every: int | None = None
    val_limit: int | None = None
    temp: float | None = None
    fixed_temp: bool = False
    img_weights: str | None = None
    txt_model: str | None = None
    word_vectors: str | None = None
    skip_bad_images: bool = False


def resolve_config(options: TrainOptions) -> RunConfig:
    """The named or file configuration with the command-line overrides applied, validated."""
    config = load_run_config(options.config)
    model, train = config.model, config.train
    if options.img and options.img != model.img:
        model.img = options.img
        model.img_kwargs = dict(TINY_IMAGE_KWARGS.get(options.img, {})) if config.name == "tiny" else {}
    if options.img_size:
        model.img_size = options.img_size
    if model.img in ("inception", "inception_v3") and model.img_size < 75:
        console.notice(f"Inception-v3 needs at least 75 px; using 80 px instead of {model.img_size}")
        model.img_size = 80
    if options.txt:
        model.txt = options.txt
        if options.txt != "bert" and config.name == "paper":
            model.max_len = 256   # the paper's N_T for word-level towers
    for field_name in ("batch_size", "steps", "epochs", "lr", "min_lr", "weight_decay", "val_every", "val_limit"):
        value = getattr(options, field_name)
        if value is not None:
            setattr(train, field_name, value)
    if options.epochs is not None and options.steps is None:
        train.steps = 0
    if options.loss:
        train.loss = options.loss
    if train.loss == "itc":
        model.fusion_layers = 0
    if options.temp is not None:
        model.temp = options.temp
    if options.fixed_temp:
        model.learn_temp = False
    if options.img_weights:
        model.img_weights = str(options.img_weights)
    if options.txt_model:
        if model.txt != "bert":
            raise ConfigError("--txt-model applies to the bert text tower only")
        from .model.pbr import config_from_hf_bert

        config_from_hf_bert(model, options.txt_model)
    validate(config)
    if train.loss == "itm" and model.fusion_layers < 1:
        raise ConfigError("the itm loss needs at least one fusion layer")
    return config


def default_run_dir(config: RunConfig) -> Path:
    base = Path("runs") / f"{config.name}-{config.train.loss}"
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = Path(f"{base}-{number}")
    return candidate


def write_run_info(run_dir: Path, options: TrainOptions, settings) -> None:
    """run.json: where the data came from and how the run was started (read by evaluate as its default)."""
    import json

    from . import __version__
    from .features import command_line
    from .io import write_text_atomic

    info = {"data": str(Path(options.data).resolve()) if options.data else None, "seed": settings.seed,
            "pbr_version": __version__, "command": command_line()}
    write_text_atomic(run_dir / "run.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")


def run_training(options: TrainOptions, settings) -> dict:
    """Train according to `options`; returns a summary (run folder, steps, seconds, validation metrics)."""
    import torch

    from .commands.common import load_dataset
    from .data.cache import sticker_image_cache
    from .data.tokenize import make_tokenizer
    from .engine import MetricsLog, Trainer, prepare_data, start_run_dir
    from .model.pbr import PBRModel
    from .runtime import seed_everything

    config = resolve_config(options)
    run_dir = Path(options.out) if options.out else default_run_dir(config)
    if (run_dir / "config.json").exists():
        raise OutputError("a run already exists in this folder; choose another -o", run_dir)
    if run_dir.parent != Path("") and run_dir.parent.exists() and not run_dir.parent.is_dir():
        raise OutputError("output parent is not a folder", run_dir.parent)
    device = settings.torch_device()
    seed_everything(settings.seed)

    dataset = load_dataset(options.data, settings.seed)
    train_dialogues = dataset.split("train")
    tokenizer = make_tokenizer(config.model.txt, config.model.txt_model, (d.context for d in train_dialogues))
    config.model.vocab_size = len(tokenizer)

    stickers = list(dataset.stickers.values())
    with console.progress(total=len(stickers), desc="decoding stickers", unit="img") as bar:
        images = sticker_image_cache(stickers, config.model.img_size, options.skip_bad_images, bar.update)
    data = prepare_data(dataset, tokenizer, config, images)

    model = PBRModel(config.model)
    for notice in model.load_pretrained(config.model.img_weights, config.model.txt_model):
        console.notice(notice)
    if options.word_vectors:
        if config.model.txt == "bert":
            raise ConfigError("--word-vectors applies to the lstm, gru and transformer text towers")
        from .model.towers import load_word_vectors

        embedding = model.text.embeddings if config.model.txt != "transformer" else model.text.embeddings.word
        found = load_word_vectors(embedding, tokenizer.vocab, options.word_vectors)
        console.info(f"word vectors: {found} of {len(tokenizer)} vocabulary words initialised")
    model.to(device)

    try:
        start_run_dir(run_dir, config, tokenizer)
    except PermissionError:
        raise OutputError("cannot create the run folder (permission denied)", run_dir) from None
    write_run_info(run_dir, options, settings)
    log = MetricsLog(run_dir / "metrics.jsonl")
    trainer = Trainer(model, config, data, tokenizer, run_dir, device, seed=settings.seed, log=log)
    console.info(f"training {config.name} ({config.model.img} + {config.model.txt}, loss {config.train.loss}) "
                 f"for {trainer.steps} steps of {config.train.batch_size} dialogues on {device}; run folder {run_dir}")
    try:
        with console.progress(total=trainer.steps, desc="train", unit="step") as bar:
            def on_log(step, record):
                bar.n = step
                bar.set_postfix(loss=record["loss"], dlg_s=record["dialogues_per_s"], refresh=False)
                bar.refresh()
            summary = trainer.run(on_log)
    finally:
        log.close()
    return {"run": str(run_dir), **summary, "config": dataclasses.asdict(config)["name"]}
