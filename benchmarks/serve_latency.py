"""Latency and throughput of `pbr serve` under a bounded load from concurrent HTTP clients.

    python benchmarks/serve_latency.py                          # tiny model, 1,000 stickers, 500 requests, 8 clients
    python benchmarks/serve_latency.py --stickers 10000 --clients 1 --score itc

Builds a run folder of the configuration with random weights and a sticker index of random embeddings
(latency does not depend on what the weights learned), starts `pbr serve` on a free loopback port, sends
`--requests` POST /rank requests from `--clients` threads (each with its own keep-alive connection), stops
the server and prints one JSON object: p50 / p90 / p99 latency in ms, requests per second, the server's own
per-request model time, and the errors seen (there should be none).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DIALOGUES = [
    ["今天考试终于过了！", "真的吗？太好了", "晚上一起去吃火锅庆祝一下吧", "好呀好呀"],
    ["我的猫又把杯子打碎了", "哈哈哈它是故意的吧"],
    ["明天要早起开会", "好烦啊", "我也是，一点都不想去"],
    ["你看到那个新闻了吗？", "太吓人了"],
]


def make_run(folder: Path, config_name: str, stickers: int) -> tuple[Path, Path]:
    """A run folder with random weights and a sticker index of `stickers` random rows for it."""
    import numpy as np
    import torch

    from pbr_cli.data.tokenize import CharTokenizer
    from pbr_cli.features import write_h5
    from pbr_cli.model.config import load_run_config
    from pbr_cli.model.pbr import PBRModel
    from pbr_cli.model.run import save_run_files
    from pbr_cli.model.weights import save_weights

    config = load_run_config(config_name)
    tokenizer = CharTokenizer()
    config.model.vocab_size = len(tokenizer)
    torch.manual_seed(0)
    model = PBRModel(config.model).eval()
    run = folder / "run"
    run.mkdir()
    save_run_files(run, config, tokenizer)
    model_hash = save_weights(run / "best.safetensors", model)
    with torch.no_grad():
        tokens = model.encode_image(torch.zeros(1, 3, config.model.img_size, config.model.img_size)).tokens
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((stickers, config.model.embed_dim)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    index = folder / "sticker_index.h5"
    write_h5(
        index,
        "sticker_index",
        {
            "ids": [f"s{i}" for i in range(stickers)],
            "paths": [""] * stickers,
            "embeddings": embeddings.astype(np.float16),
            "image_tokens": rng.standard_normal((stickers, *tokens.shape[1:])).astype(np.float16),
        },
        {"model_hash": model_hash, "dim": config.model.embed_dim, "img_size": config.model.img_size},
    )
    return run, index


def start_server(run: Path, index: Path, options: list[str], threads: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pbr_cli.cli",
            "--device",
            "cpu",
            "serve",
            "--model",
            str(run),
            "--index",
            str(index),
            "--port",
            "0",
            *options,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    lines = []
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            threading.Thread(target=server.stderr.read, daemon=True).start()  # keep draining
            return server, int(found.group(1))
    server.kill()
    raise SystemExit("the server did not start:\n" + "".join(lines))


def connect(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection with Nagle's algorithm off: http.client sends a POST's headers and body in two
    writes, and Nagle would hold the body back until the server's delayed ACK (~40 ms) of the headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time (user + system) used so far by process `pid` and its worker processes (Linux /proc), or by
    this process."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    total = 0.0
    for process in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if process == pid:
                return None
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    """The child processes of `pid` (the server's ranking workers), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def get_health(port: int) -> dict:
    connection = connect(port)
    try:
        connection.request("GET", "/health")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def load(port: int, requests: int, clients: int, top: int, score: str) -> dict:
    """Send `requests` POST /rank from `clients` threads; latencies in ms and errors."""
    latencies: list[float] = []
    model_ms: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        connection = connect(port)
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            body = json.dumps({"context": DIALOGUES[number % len(DIALOGUES)], "top": top, "score": score})
            start = time.perf_counter()
            try:
                connection.request("POST", "/rank", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(type(exc).__name__)
                connection.close()
                connection = connect(port)
                continue
            elapsed = 1000 * (time.perf_counter() - start)
            with lock:
                if response.status == 200:
                    latencies.append(elapsed)
                    model_ms.append(json.loads(payload)["ms"])
                else:
                    errors.append(str(response.status))
        connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    latencies.sort()

    def percentile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else float("nan")

    return {
        "requests": requests,
        "ok": len(latencies),
        "errors": errors[:10],
        "error_count": len(errors),
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": percentile(0.50),
        "p90_ms": percentile(0.90),
        "p99_ms": percentile(0.99),
        "model_ms_median": round(statistics.median(model_ms), 2) if model_ms else None,
    }


def per_request(before: float | None, after: float | None, requests: int) -> float | None:
    return None if before is None or after is None or not requests else round(1000 * (after - before) / requests, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--stickers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--rerank", type=int, default=None, help="default: the server's")
    parser.add_argument("--workers", type=int, default=None, help="default: the server's")
    parser.add_argument("--score", choices=("itm", "itc"), default="itm")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads of the server")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        run, index = make_run(Path(folder), args.config, args.stickers)
        options = [f"--{name}={value}" for name, value in (("rerank", args.rerank), ("workers", args.workers)) if value]
        server, port = start_server(run, index, options, args.threads)
        try:
            health = get_health(port)
            load(port, min(8, args.requests), 1, args.top, args.score)  # warm-up
            before = cpu_seconds(server.pid), cpu_seconds()
            result = load(port, args.requests, args.clients, args.top, args.score)
            after = cpu_seconds(server.pid), cpu_seconds()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        json.dumps(
            {
                "benchmark": "serve_latency",
                "config": args.config,
                "stickers": args.stickers,
                "clients": args.clients,
                "rerank": health["rerank"],
                "workers": health["workers"],
                "worker_kind": health.get("worker_kind"),
                "score": args.score,
                "top": args.top,
                "threads": args.threads,
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
                **result,
                # CPU time per answered request, of the server (with its worker processes) and of this load
                # generator (same machine)
                "server_cpu_ms_per_request": per_request(before[0], after[0], result["ok"]),
                "client_cpu_ms_per_request": per_request(before[1], after[1], result["ok"]),
            }
        )
    )


if __name__ == "__main__":
    main()
