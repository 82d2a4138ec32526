"""`run_training`: resolve the configuration, load data and weights, and run the Trainer into a run folder."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import console
from .errors import ConfigError
from .model.config import RULES, RunConfig, load_run_config, tiny_image_kwargs, validate


def option_field(option: str) -> str:
    """The TrainOptions field and `pbr train` parameter of an option: --batch-size -> batch_size."""
    return option.removeprefix("--").replace("-", "_")


# TrainOptions field -> the configuration key it overrides: every key whose rule names its `pbr train` option
OVERRIDES: dict[str, str] = {option_field(rule.option): key for key, rule in RULES.items() if rule.option}
_FIELD_TYPES = {"int": int, "float": float, "bool": bool}


@dataclass
class TrainInputs:
    """The options of `pbr train` that are not configuration keys: data, files, flags; None is 'not given'."""

    data: str | None = None
    config: str = "tiny"
    img: str | None = None
    out: str | None = None
    fixed_temp: bool = False
    img_weights: str | None = None
    txt_model: str | None = None
    word_vectors: str | None = None
    skip_bad_images: bool = False
    teacher: str | None = None
    teacher_features: str | None = None
    anchors: str | None = None
    sentiment: str | None = None
    intra: bool | None = None
    inter: bool | None = None

    @property
    def has_teacher(self) -> bool:
        return bool(self.teacher or self.teacher_features)

    def command_args(self) -> list[str]:
        """The `pbr train` options that ask for these options (each field is its option, `--out` last)."""
        args = []
        for option in sorted(dataclasses.fields(self), key=lambda option: option.name == "out"):
            value, flag = getattr(self, option.name), "--" + option.name.replace("_", "-")
            if value is None or (value is False and option.default is False):
                continue
            if option.name == "compile":
                args += {"on": [flag], "off": ["--no-compile"]}.get(value, [])
            elif isinstance(value, bool):
                args.append(flag if value else "--no-" + flag[2:])
            else:
                args += [flag, str(value)]
        return args


TrainOptions = dataclasses.make_dataclass(
    "TrainOptions",
    [
        (name, _FIELD_TYPES.get(RULES[key].kind, str) | None, dataclasses.field(default=None))
        for name, key in OVERRIDES.items()
    ],
    bases=(TrainInputs,),
)
TrainOptions.__module__ = __name__  # for pickling (make_dataclass's `module` argument needs Python 3.12)
TrainOptions.__doc__ = """What the user asked for: TrainInputs, and one field per configuration key of OVERRIDES
(named by its option in RULES, e.g. `batch_size` for train.batch_size); None keeps the configuration's value."""


def apply_overrides(config: RunConfig, options: TrainOptions) -> None:
    """Set every configuration key of OVERRIDES that `options` gives a value."""
    for name, key in OVERRIDES.items():
        value = getattr(options, name)
        if value is not None:
            section, attribute = key.split(".")
            setattr(getattr(config, section), attribute, value)


def resolve_components(config: RunConfig, options: TrainOptions) -> None:
    """Decide EKD / PHSM / TSCL from the options and the inputs given (defaults: on when their inputs are), after
    `apply_overrides`."""
    train = config.train
    if options.ekd is None and options.anchors:
        train.ekd = "anchors"
    for term in ("intra", "inter"):
        switch, weight = getattr(options, term), getattr(options, f"{term}_weight")
        if switch is True and weight == 0:
            raise ConfigError(f"--{term}-weight 0 turns off the TSCL term that --{term} turns on; give one of them")
        if switch is False and weight:
            raise ConfigError(f"--{term}-weight has no effect with --no-{term}")
        if switch is not None:
            setattr(train, f"{term}_weight", (getattr(train, f"{term}_weight") or 0.5) if switch else 0.0)
    if train.loss == "itc":
        itm_options = ("itm_negatives", "itm_list_weight")
        given = next((name for name in itm_options if getattr(options, name) is not None), None)
        if given is not None:
            raise ConfigError(f"{flag(given)} shapes the ITM loss, which --loss itc does not train")
    emotion_available = options.has_teacher or (train.ekd == "anchors" and train.phsm_emotion == "student")
    if options.negatives is None and options.sentiment and emotion_available and train.loss == "itm":
        train.negatives = "phsm"
    if train.ekd != "off" and not options.has_teacher:
        raise ConfigError(f"--ekd {train.ekd} needs teacher features: give --teacher-features FILE or --teacher FILE")
    if train.ekd == "anchors" and not options.anchors:
        raise ConfigError("--ekd anchors needs --anchors FILE (from `pbr build-anchors`)")
    if train.negatives == "phsm":
        if not options.sentiment:
            raise ConfigError(
                "--negatives phsm needs dialogue sentiment: give --sentiment FILE (from `pbr score-sentiment`)"
            )
        if train.phsm_emotion == "student" and train.ekd != "anchors":
            raise ConfigError("--phsm-emotion student reads the EKD head: it needs --ekd anchors")
        if train.phsm_emotion == "teacher" and not options.has_teacher:
            raise ConfigError("--phsm-emotion teacher needs --teacher-features FILE or --teacher FILE")
        if train.loss != "itm":
            raise ConfigError("--negatives phsm mines ITM negatives; it needs --loss itm")
    model = config.model
    model.tscl_dim = 128 if (train.intra_weight or train.inter_weight) else 0


# The TrainOptions fields that name input files or folders (each is its `pbr train` option, e.g. --teacher-features)
INPUT_PATHS = (
    "data",
    "img_weights",
    "txt_model",
    "word_vectors",
    "teacher",
    "teacher_features",
    "anchors",
    "sentiment",
)


def flag(field: str) -> str:
    """The `pbr train` option of a TrainOptions field: teacher_features -> --teacher-features."""
    return "--" + field.replace("_", "-")


def refuse_unused_inputs(config: RunConfig, options: TrainOptions) -> None:
    """ConfigError for an input file the resolved configuration never reads (after `resolve_components`): a file
    named on the command line is either used or refused, never silently ignored."""
    train = config.train
    phsm_teacher = train.negatives == "phsm" and train.phsm_emotion == "teacher"
    if options.anchors and train.ekd != "anchors" and not phsm_teacher:
        raise ConfigError(
            "--anchors is only read with --ekd anchors or PHSM negatives with the teacher's emotion; this run has "
            f"--ekd {train.ekd} and --negatives {train.negatives}: leave --anchors out"
        )
    if train.ekd == "off" and not phsm_teacher:
        for field in ("teacher_features", "teacher"):
            if getattr(options, field):
                raise ConfigError(
                    f"{flag(field)} is only read for EKD (--anchors, or --ekd logits|features) or PHSM negatives "
                    f"with the teacher's emotion (--sentiment); this run has --ekd off and --negatives "
                    f"{train.negatives}: leave {flag(field)} out"
                )
    if options.sentiment and train.negatives != "phsm":
        if options.negatives is not None:
            why = f"this run asks for --negatives {train.negatives}"
        elif train.loss != "itm":
            why = f"--loss {train.loss} has no ITM negatives"
        else:
            why = (
                f"this run has --negatives {train.negatives}, since phsm (the default with --sentiment) also needs "
                "the stickers' emotion: add --teacher-features FILE or --teacher FILE"
            )
        raise ConfigError(f"--sentiment is only read with --negatives phsm; {why}")
    if options.word_vectors and config.model.txt == "bert":
        raise ConfigError("--word-vectors applies to the lstm, gru and transformer text towers")


def refuse_inputs_with_resume(options: TrainOptions) -> None:
    """ConfigError for an input file named together with --resume, which reads the run's own inputs instead."""
    for field in INPUT_PATHS:
        if getattr(options, field):
            raise ConfigError(
                f"{flag(field)} is not read with --resume: a resumed run reads the inputs it was started with"
            )


def resolve_config(options: TrainOptions) -> RunConfig:
    """The named or file configuration with the command-line overrides applied, validated."""
    config = load_run_config(options.config)
    model, train = config.model, config.train
    apply_overrides(config, options)
    if options.img and options.img != model.img:
        model.img = options.img
        model.img_kwargs = tiny_image_kwargs(options.img) if config.base == "tiny" else {}
    if model.img in ("inception", "inception_v3") and model.img_size < 75:
        console.notice(f"Inception-v3 needs at least 75 px; using 80 px instead of {model.img_size}")
        model.img_size = 80
    if options.txt is not None and options.txt != "bert" and config.base == "paper":
        model.max_len = 256  # the paper's N_T for word-level towers
    if options.epochs is not None and options.steps is None:
        train.steps = 0
    if train.loss == "itc":
        model.fusion_layers = 0
    if options.fixed_temp:
        model.learn_temp = False
    if options.img_weights:
        model.img_weights = str(options.img_weights)
    if options.txt_model:
        if model.txt != "bert":
            raise ConfigError("--txt-model applies to the bert text tower only")
        from .model.pbr import config_from_hf_bert

        config_from_hf_bert(model, options.txt_model)
    resolve_components(config, options)
    refuse_unused_inputs(config, options)
    validate(config)
    return config


def attach_knowledge(data, config: RunConfig, options: TrainOptions, stickers, settings) -> None:
    """Load EKD targets, teacher sticker polarity and dialogue polarity into `data` as needed."""
    from .knowledge import load_dialogue_polarity, load_emotion_knowledge, teacher_features_for

    train = config.train
    config.model.ekd_dim = 0  # derived here, whatever a configuration file (a run's config.json reused) says
    needs_teacher = train.ekd != "off" or (train.negatives == "phsm" and train.phsm_emotion == "teacher")
    if needs_teacher:
        features = teacher_features_for(
            stickers, options.teacher_features, options.teacher, settings, options.skip_bad_images
        )
        knowledge = load_emotion_knowledge(
            data.sticker_ids, features, options.anchors, train.ekd, train.ekd_tau, train.ekd_similarity
        )
        if knowledge.ekd_target is not None:
            data.ekd_target = knowledge.ekd_target
            config.model.ekd_dim = int(knowledge.ekd_target.shape[1])
        data.sticker_polarity = knowledge.sticker_polarity
    if train.negatives == "phsm":
        from .datasets import dataset_path

        dataset = dataset_path(options.data, build=False)
        data.dialogue_polarity = load_dialogue_polarity(options.sentiment, data.train.ids, "train", dataset)


def objective_for(config: RunConfig):
    from .losses.objective import Objective

    t = config.train
    return Objective(
        loss=t.loss,
        negatives=t.negatives,
        ekd=t.ekd,
        ekd_weight=t.ekd_weight,
        ekd_m=max(1, config.model.ekd_dim // 7) if t.ekd == "anchors" else 0,
        intra_weight=t.intra_weight,
        inter_weight=t.inter_weight,
        tscl_temperature=t.tscl_temp,
        tscl_stop_grad=t.tscl_stop_grad,
        phsm_emotion=t.phsm_emotion,
        phsm_pool=t.phsm_pool,
        itm_negatives=t.itm_negatives,
        itm_list_weight=t.itm_list_weight,
    )


def note_capped_negatives(config: RunConfig, n_candidates: int, world_size: int = 1) -> None:
    """Say so when --itm-negatives asks for more negative stickers than a dialogue's pool holds: the extra draws
    would be masked out, so the run trains with fewer than it records."""
    t = config.train
    if t.loss != "itm" or t.itm_negatives == 1:
        return
    if t.negatives == "phsm" and t.phsm_pool == "batch":
        most, where = t.batch_size // world_size * n_candidates - 1, "the batch's other candidates"
    else:
        most, where = n_candidates - 1, "a dialogue's other candidates"
    if t.itm_negatives > most:
        console.notice(
            f"--itm-negatives {t.itm_negatives} is more than the {most} of {where}: each dialogue gets at most "
            f"{most} negative stickers (fewer where a candidate repeats its truth)"
        )


def describe(config: RunConfig) -> str:
    """A short description of the objective, e.g. 'itm, ekd anchors, phsm, intra, inter'."""
    t = config.train
    parts = [t.loss]
    if t.ekd != "off":
        parts.append(f"ekd {t.ekd}")
    if t.negatives != "semantic":
        parts.append(f"{t.negatives} negatives")
    parts += [name for name, weight in (("intra", t.intra_weight), ("inter", t.inter_weight)) if weight]
    return ", ".join(parts)


def default_run_dir(config: RunConfig) -> Path:
    """runs/<config>-<loss>[-N]: the first name neither taken by a folder nor being started by another run."""
    from .runfolder import is_taken

    base = Path("runs") / f"{config.name}-{config.train.loss}"
    candidate, number = base, 1
    while is_taken(candidate):
        number += 1
        candidate = Path(f"{base}-{number}")
    return candidate


def _absolute(path) -> str | None:
    return str(Path(path).resolve()) if path else None


def stored_options(options: TrainOptions) -> dict:
    """`options` as run.json holds them: every field, input paths made absolute."""
    stored = dataclasses.asdict(options)
    for key in INPUT_PATHS:
        stored[key] = _absolute(stored[key])
    return stored


def write_run_info(run_dir: Path, options: TrainOptions, settings) -> None:
    """run.json: where the data came from and how the run was started (read by evaluate as its default)."""
    from . import __version__
    from .features import command_line
    from .io import write_text_atomic
    from .strict_json import dumps

    info = {
        "options": stored_options(options),
        "data": _absolute(options.data),
        "seed": settings.seed,
        "deterministic": settings.deterministic,
        "teacher": _absolute(options.teacher),
        "teacher_features": _absolute(options.teacher_features),
        "anchors": _absolute(options.anchors),
        "sentiment": _absolute(options.sentiment),
        "pbr_version": __version__,
        "command": command_line(),
    }
    write_text_atomic(run_dir / "run.json", dumps(info, "run.json", run_dir / "run.json", indent=2) + "\n")


def mistyped_option(options: TrainOptions) -> str | None:
    """The first field of `options` whose value is not None and not of the field's type (run.json is edited text)."""
    kinds = {field.name: bool if "bool" in str(field.type) else str for field in dataclasses.fields(TrainInputs)}
    kinds.update({name: _FIELD_TYPES.get(RULES[key].kind, str) for name, key in OVERRIDES.items()})
    for name, kind in kinds.items():
        value = getattr(options, name)
        if value is None:
            continue
        if kind is bool:
            fits = isinstance(value, bool)
        elif kind in (int, float):
            fits = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
        else:
            fits = isinstance(value, str)
        if not fits:
            return name
    return None


def resume_options(run_dir: Path) -> tuple[TrainOptions, RunConfig, int]:
    """The options, resolved configuration and seed a run was started with (run.json, config.json)."""
    import json

    from .errors import FormatError
    from .model.config import run_config_from_dict
    from .model.run import resolve_run

    run_dir = resolve_run(run_dir)
    try:
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        config = run_config_from_dict(
            json.loads((run_dir / "config.json").read_text(encoding="utf-8")), str(run_dir / "config.json")
        )
        stored = info["options"]
        options = TrainOptions(**{k: v for k, v in stored.items() if k in TrainOptions.__dataclass_fields__})
        seed = info.get("seed", 0)
        if type(seed) is not int or not 0 <= seed < 2**31:  # the range of `pbr --seed`
            raise ValueError(seed)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise FormatError(
            "cannot resume: run.json / config.json are missing or not from `pbr train`", run_dir
        ) from None
    wrong = mistyped_option(options)
    if wrong is not None:
        raise FormatError(f"cannot resume: option '{wrong}' holds {getattr(options, wrong)!r}", run_dir / "run.json")
    options.out = str(run_dir)
    return options, config, seed


def run_training(
    options: TrainOptions, settings, resume: str | None = None, on_log: Callable[[int, dict], None] | None = None
) -> dict | None:
    """Train according to `options` (or continue the run `resume`); returns a summary of the run.

    `on_log(step, record)` is called at every log step (record: the step's metrics.jsonl line). Under torchrun
    only process 0 gets the summary (the others get None).
    """
    import dataclasses as dc

    from .runtime import deterministic_algorithms

    deterministic = settings.deterministic or (resume is not None and _started_deterministic(Path(resume)))
    with deterministic_algorithms(deterministic):
        return _run_training(options, dc.replace(settings, deterministic=deterministic), resume, on_log)


def _started_deterministic(run_dir: Path) -> bool:
    """Whether the run in `run_dir` was started with `pbr --deterministic` (so that resuming it is, too)."""
    import json

    from .model.run import resolve_run

    try:
        return json.loads((resolve_run(run_dir) / "run.json").read_text(encoding="utf-8")).get("deterministic") is True
    except Exception:  # noqa: BLE001 - an unreadable run folder is reported by resume_options
        return False


def _run_training(
    options: TrainOptions, settings, resume: str | None, on_log: Callable[[int, dict], None] | None
) -> dict | None:
    """run_training within its kernel settings."""
    import dataclasses as dc

    from .data.cache import sticker_image_cache
    from .data.images import missing_images_allowed
    from .data.tokenize import make_tokenizer
    from .datasets import load_dataset
    from .engine import MetricsLog, Trainer, cosine_lr, drop_records_after, prepare_data
    from .errors import OutputError
    from .model.run import create_model, run_tokenizer, save_run_files
    from .runfolder import check_new_run_dir, existing_run_dir, is_taken, new_run_dir
    from .runtime import init_distributed, seed_everything

    rank, world_size = init_distributed(settings.torch_device())
    if rank != 0:
        console.set_verbosity(-1)  # one process speaks for the run
    if resume:
        refuse_inputs_with_resume(options)
        options, config, seed = resume_options(Path(resume))
        settings = dc.replace(settings, seed=seed)
        run_dir = Path(options.out)
        if (run_dir / "metrics.jsonl").exists():  # the run's log goes on: refuse a damaged one before any work
            from .report.curves import read_metrics

            read_metrics(run_dir / "metrics.jsonl")
    else:
        config = resolve_config(options)
        run_dir = Path(options.out) if options.out else default_run_dir(config)
        if world_size > 1 and not options.out:
            raise ConfigError("under torchrun, name the run folder with -o")
        if rank == 0:
            check_new_run_dir(run_dir)
    device = settings.torch_device()
    seed_everything(settings.seed)

    with missing_images_allowed(options.skip_bad_images):  # a sticker file gone is left out like a broken one
        dataset = load_dataset(options.data, splits=("train", "val"))  # the test split is read by `evaluate` alone
    train_dialogues = dataset.split("train")
    if resume:
        tokenizer = run_tokenizer(run_dir, config)
    else:
        tokenizer = make_tokenizer(config.model.txt, config.model.txt_model, (d.context for d in train_dialogues))
        config.model.vocab_size = len(tokenizer)

    stickers = list(dataset.stickers.values())
    unreadable: list[int] = []
    with console.progress(total=len(stickers), desc="decoding stickers", unit="img") as bar:
        images = sticker_image_cache(
            stickers, config.model.img_size, options.skip_bad_images, bar.update, unreadable.extend
        )
    if unreadable and len(unreadable) == len(stickers):
        from .errors import DataError

        raise DataError(f"no readable sticker images: all {len(stickers)} were skipped as unreadable", dataset.root)
    if unreadable:
        first = stickers[unreadable[0]]
        console.warn(
            f"{len(unreadable)} unreadable sticker image(s) replaced by blank images, e.g. {first.path or first.id}"
        )
    data = prepare_data(dataset, tokenizer, config, images)
    attach_knowledge(data, config, options, stickers, settings)
    if data.val is None:
        console.notice("the val split is empty: no validation; best.safetensors will be the last step's weights")

    try:
        model = create_model(config.model)
    except ConfigError as exc:  # a tower the configuration file describes: name the file
        named = None if resume or options.config in ("tiny", "paper") else options.config
        raise ConfigError(exc.message, named) from None
    if not resume:
        for notice in model.load_pretrained(config.model.img_weights, config.model.txt_model):
            console.notice(notice)
        if options.word_vectors:  # with the bert tower refused by refuse_unused_inputs
            from .model.towers import load_word_vectors

            embedding = model.text.embeddings if config.model.txt != "transformer" else model.text.embeddings.word
            found = load_word_vectors(embedding, tokenizer.vocab, options.word_vectors)
            console.info(f"word vectors: {found} of {len(tokenizer)} vocabulary words initialised")
    model.to(device)
    objective = objective_for(config)
    trainer = Trainer(model, config, data, tokenizer, run_dir, device, seed=settings.seed, objective=objective)
    trainer.check_batch()  # everything that can be checked is checked before the run folder exists
    if not resume:
        note_capped_negatives(config, data.train.candidates.shape[1], trainer.world_size)
    warmup = config.train.warmup_steps
    if not resume and warmup > trainer.steps:
        peak = cosine_lr(trainer.steps - 1, trainer.steps, config.train.lr, config.train.min_lr, warmup)
        console.notice(
            f"the warm-up ({warmup} steps) is longer than the run ({trainer.steps} steps): the learning rate "
            f"peaks at {peak:.3g}, not at {config.train.lr:g}"
        )

    with contextlib.ExitStack() as stack:
        if rank == 0:
            if resume:
                stack.enter_context(existing_run_dir(run_dir))
            else:
                for _ in range(100):
                    try:
                        new_run = stack.enter_context(new_run_dir(run_dir))
                        break
                    except OutputError:
                        # a default name another run took since it was chosen (two started at once): the next
                        if options.out or not is_taken(run_dir):
                            raise
                        run_dir = default_run_dir(config)
                else:
                    raise OutputError("no free default run folder name; choose one with -o", run_dir)
                save_run_files(new_run.path, config, tokenizer)
                write_run_info(new_run.path, options, settings)
                trainer.run_dir = new_run.path

                def publish() -> None:
                    trainer.run_dir = new_run.publish()

                trainer.after_save = publish
        if world_size > 1:
            import torch.distributed as dist

            dist.barrier()  # the run folder exists before any process goes on
        if resume:
            trainer.load_state()
            dropped = drop_records_after(run_dir / "metrics.jsonl", trainer.start_step) if rank == 0 else 0
            if dropped:
                console.notice(
                    f"{dropped} record(s) of metrics.jsonl after step {trainer.start_step} (the last checkpoint) "
                    "dropped: those steps are trained again"
                )
            if trainer.start_step >= trainer.steps:
                console.info(f"{run_dir} finished its {trainer.steps} steps already: nothing to train")
            else:
                console.info(f"resuming {run_dir} at step {trainer.start_step} of {trainer.steps}")
        else:
            console.info(
                f"training {config.name} ({config.model.img} + {config.model.txt}, {describe(config)}) "
                f"for {trainer.steps} steps of {config.train.batch_size} dialogues on {device}; "
                f"run folder {run_dir}"
            )
        log = stack.enter_context(MetricsLog(trainer.run_dir / "metrics.jsonl")) if rank == 0 else None
        if log is not None:
            trainer.log = log
        with console.progress(total=trainer.steps, initial=trainer.start_step, desc="train", unit="step") as bar:

            def progress(step, record):
                bar.n = step
                bar.set_postfix(loss=record["loss"], dlg_s=record["dialogues_per_s"], refresh=False)
                bar.refresh()
                if on_log is not None:
                    on_log(step, record)

            summary = trainer.run(progress)
    if rank != 0:
        return None  # under torchrun, process 0 reports
    curves = write_learning_curves(run_dir)
    return {
        "run": str(run_dir),
        **summary,
        "config": config.name,
        "processes": world_size,
        "rank": rank,
        "curves": curves,
    }


def write_learning_curves(run_dir: Path) -> str | None:
    """learning_curves.png in the run folder (val MAP / R@1 and the loss terms by step); None without matplotlib."""
    from .report.curves import write_learning_curves as write

    written = write(run_dir / "learning_curves.png", {run_dir.name: run_dir / "metrics.jsonl"})
    if written is None:
        console.notice("matplotlib is not installed: no learning_curves.png (pip install 'pbr-cli[plot]')")
    return written
