"""Ablations in the form of the paper's Tables 3, 4 and 5, on the demo data or any dataset, with several seeds.

    python examples/ablation.py --table 3 --seeds 0 1            # Base, +EKD, +Intra, +Inter, +PHSM, ...
    python examples/ablation.py --table 4 --m 10 20 40           # EKD with M anchors per emotion
    python examples/ablation.py --table 5                        # anchors vs logit vs feature distillation
    python examples/ablation.py --data my_dataset/ --steps 3000 --report ablation/
    python examples/ablation.py --table 3 --jobs 2               # two trainings at a time, one thread each
    python examples/ablation.py --table 3 --only base full --seeds 0 1 2   # some rows only
    python examples/ablation.py --table 3 --only full --set ekd_weight=1.5 --report ablation-a15/

The emotion teacher, anchors, teacher features and sentiment are made once when a row asked for
reads them (or reused from the report folder); every configuration is then trained for the same
number of steps with each seed (a run of the report folder with the same options, seed and inputs
is kept when it finished and resumed when it was interrupted, so a stopped ablation goes on where
it stopped; --retrain: anew) and scored on the test split by ITM (the paper) and by ITC
similarity. Prints a table of MAP and R10@1 as mean ± standard deviation over seeds, and writes it
to REPORT/table<N>.md; the json next to it also has each run's val R10@1 (ITM, at its kept
checkpoint), for choosing between settings without the test split.
`--set FIELD=VALUE` sets a `pbr train` option (its TrainOptions field name) for every row.

With --jobs N, N trainings run at once in separate processes, each with cores/N threads (on a
CPU this is faster than one training with all cores: small models do not use many threads well).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def run_job(job: tuple) -> dict:
    """One training + evaluation in a worker process, with its share of the cores."""
    import torch

    from pbr_cli.demo.pipeline import train_and_evaluate

    plan, name, extra, seed, title, paths, reuse, threads = job
    torch.set_num_threads(threads)
    return train_and_evaluate(plan, name, extra, seed, title, paths, reuse=reuse)


EKD = {"anchors": "{anchors}", "teacher_features": "{features}"}
PHSM_STUDENT = {"sentiment": "{sentiment}", "phsm_emotion": "student"}
TABLE3 = [  # (name, EKD, Intra, Inter, PHSM, the `pbr train` options as TrainOptions fields)
    ("base", "", "", "", "", {}),
    ("ekd", "✓", "", "", "", EKD),
    ("intra", "", "✓", "", "", {"intra": True}),
    ("inter", "", "", "✓", "", {"inter": True}),
    ("tscl", "", "✓", "✓", "", {"intra": True, "inter": True}),
    ("phsm-teacher", "", "", "", "✓", {"teacher_features": "{features}", "sentiment": "{sentiment}"}),
    ("ekd-phsm", "✓", "", "", "✓", {**EKD, **PHSM_STUDENT}),
    ("ekd-intra-phsm", "✓", "✓", "", "✓", {**EKD, **PHSM_STUDENT, "intra": True}),
    ("ekd-inter-phsm", "✓", "", "✓", "✓", {**EKD, **PHSM_STUDENT, "inter": True}),
    ("full", "✓", "✓", "✓", "✓", {**EKD, **PHSM_STUDENT, "intra": True, "inter": True}),
]
TABLE5 = [
    ("features", {"teacher_features": "{features}", "ekd": "features"}),
    ("logits", {"teacher_features": "{features}", "ekd": "logits"}),
    ("anchors", {"teacher_features": "{features}", "anchors": "{anchors}"}),
]


def filled(options: dict, files: dict[str, str]) -> dict:
    """`options` with the report folder's files in place of their {anchors}, {features}, {sentiment} names."""
    return {key: value.format(**files) if isinstance(value, str) else value for key, value in options.items()}


def needs_teacher(options: dict) -> bool:
    """Whether a row's options name a file made from the teacher (anchors, its features, the sentiment)."""
    return any(isinstance(value, str) and value.startswith("{") for value in options.values())


def parse_setting(text: str) -> tuple[str, object]:
    """FIELD=VALUE for `--set`: the value as JSON where it parses (numbers, true/false), else the string."""
    import dataclasses

    from pbr_cli.training import TrainOptions

    field, equals, value = text.partition("=")
    fields = {f.name for f in dataclasses.fields(TrainOptions)} - {"data", "config", "out", "steps", "batch_size"}
    if not equals or field not in fields:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with FIELD one of {', '.join(sorted(fields))}")
    try:
        return field, json.loads(value)
    except ValueError:
        return field, value


def best_val(run: Path) -> float | None:
    """Val R@1 by ITM of the checkpoint a run keeps (its best val MAP), from metrics.jsonl; None if it never
    validated."""
    path = run / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []
    records = [r for r in records if r.get("split") == "val" and r.get("score") == "itm"]
    if not records:
        return None
    best = max(records, key=lambda r: r["map"])
    return next(v for k, v in best.items() if k.startswith("r") and k.endswith("@1"))


def spread(values: list[float]) -> str:
    """Mean ± sample standard deviation over seeds (± 0 for a single seed), in %."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def main() -> None:
    from pbr_cli.demo.build import ensure_demo
    from pbr_cli.demo.pipeline import (
        DemoPlan,
        build_anchors_step,
        claim_report_folder,
        prepare_inputs,
        train_and_evaluate,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=int, choices=(3, 4, 5), default=3)
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (default: the demo dataset)")
    parser.add_argument("--report", type=Path, default=Path("ablation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--teacher-epochs", type=int, default=None)
    parser.add_argument("--m", type=int, nargs="+", default=[10, 20, 30, 40, 50, 60], help="Table 4: values of M")
    parser.add_argument("--size", default="small", help="demo size when --data is not given")
    parser.add_argument("--jobs", type=int, default=1, help="trainings to run at once (separate processes)")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="ROW",
        help="train only these rows of the table (names as printed, e.g. base full)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        type=parse_setting,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a `pbr train` option for every row, by its TrainOptions field name (repeatable)",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train every run anew; by default a run of the report folder started with the same options, seed "
        "and inputs is kept when finished and resumed when interrupted",
    )
    args = parser.parse_args()

    row_names = {3: [row[0] for row in TABLE3], 5: [row[0] for row in TABLE5]}.get(args.table, [str(m) for m in args.m])
    unknown = sorted(set(args.only or ()) - set(row_names))
    if unknown:
        parser.error(f"--only: no row named {', '.join(unknown)} in table {args.table} (rows: {', '.join(row_names)})")

    data = args.data or ensure_demo(size=args.size)
    plan = DemoPlan(
        data=Path(data), report=args.report, steps=args.steps, teacher_epochs=args.teacher_epochs, reuse=True
    )
    if args.table == 3:
        configurations = [([name, ekd, intra, inter, phsm], extra) for name, ekd, intra, inter, phsm, extra in TABLE3]
        header = ["configuration", "EKD", "Intra", "Inter", "PHSM"]
    elif args.table == 5:
        configurations = [([name], extra) for name, extra in TABLE5]
        header = ["distillation"]
    else:
        configurations = [
            ([str(m)], {"teacher_features": "{features}", "anchors": f"{{anchors_m{m}}}"}) for m in args.m
        ]
        header = ["M"]
    if args.only:
        configurations = [(labels, extra) for labels, extra in configurations if labels[0] in args.only]
    if any(needs_teacher(extra) for _, extra in configurations):
        paths = prepare_inputs(plan)  # the teacher and what it gives, made once (kept in the report folder)
    else:  # the rows asked for (Base) read none of it: no teacher is trained
        claim_report_folder(plan.report)
        paths = {}
    fill = {key: str(paths[key]) for key in ("anchors", "features", "sentiment") if key in paths}
    if args.table == 4:
        for m in (int(labels[0]) for labels, _ in configurations):
            anchors = args.report / f"anchors_m{m}.h5"
            if not anchors.is_file():
                build_anchors_step(plan, paths, f"anchors with M = {m}", m=m, output=anchors)
            fill[f"anchors_m{m}"] = str(anchors)
    configurations = [(labels, filled(extra, fill)) for labels, extra in configurations]
    configurations = [(labels, {**extra, **dict(args.settings)}) for labels, extra in configurations]
    jobs = [
        (
            plan,
            f"t{args.table}-{labels[0]}-s{seed}",
            extra,
            seed,
            f"table {args.table}: {labels[0]}, seed {seed}",
            paths,
            not args.retrain,
        )
        for labels, extra in configurations
        for seed in args.seeds
    ]
    if args.jobs > 1:
        import multiprocessing

        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(run_job, [(*job, threads) for job in jobs]))
    else:
        results = [train_and_evaluate(*job[:-1], reuse=job[-1]) for job in jobs]
    rows: list[tuple[list[str], dict]] = []
    for index, (labels, _) in enumerate(configurations):
        metrics = {"map": [], "r@1": [], "itc_map": [], "itc_r@1": [], "val_r@1": []}
        for seed, result in zip(args.seeds, results[index * len(args.seeds) : (index + 1) * len(args.seeds)]):
            metrics["val_r@1"].append(best_val(plan.report / "runs" / f"t{args.table}-{labels[0]}-s{seed}"))
            metrics["map"].append(result["map"])
            metrics["r@1"].append(result[f"r{result['candidates']}@1"])
            metrics["itc_map"].append(result["itc"]["map"])
            metrics["itc_r@1"].append(result["itc"][f"r{result['candidates']}@1"])
        rows.append((labels, metrics))

    columns = ["MAP (ITM)", "R10@1 (ITM)", "MAP (ITC)", "R10@1 (ITC)"]
    lines = ["| " + " | ".join(header + columns) + " |", "|" + "---|" * (len(header) + len(columns))]
    for labels, metrics in rows:
        lines.append(
            "| " + " | ".join(labels + [spread(metrics[key]) for key in ("map", "r@1", "itc_map", "itc_r@1")]) + " |"
        )
    table = "\n".join(lines) + "\n"
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / f"table{args.table}.md").write_text(table, encoding="utf-8")
    (args.report / f"table{args.table}.json").write_text(
        json.dumps([{"labels": labels, **metrics} for labels, metrics in rows], indent=2), encoding="utf-8"
    )
    settings = "".join(f", {field} = {value}" for field, value in args.settings)
    print(f"Table {args.table} on {data} ({args.steps} steps, seeds {args.seeds}{settings}; mean ± std, %):")
    print(table)


if __name__ == "__main__":
    main()
