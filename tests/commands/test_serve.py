"""`pbr serve` as a product would meet it: a real server on a loopback port, spoken to over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from helpers import TRAIN, assert_refused, module_cache, run_pbr  # noqa: E402
from synthetic import write_tiny_dataset  # noqa: E402

DIALOGUE = ["你好", "今天好开心"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A trained run and its sticker index."""
    root = tmp_path_factory.mktemp("serve")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        for args in (
            ["train", "--data", data, "-o", root / "run", *TRAIN],
            ["embed", data, "--model", root / "run", "-o", root / "index.h5"],
        ):
            result = run_pbr(*args)
            assert result.exit_code == 0, result.output
    (root / "dialogue.txt").write_text("\n".join(DIALOGUE) + "\n", encoding="utf-8")
    return {"root": root, "data": data}


def start_server(root, *options: str, **popen) -> tuple[subprocess.Popen, int]:
    """`pbr serve` for the built run and index on a free loopback port: (the process, its port)."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pbr_cli.cli",
            "serve",
            "--model",
            str(root / "run"),
            "--index",
            str(root / "index.h5"),
            "--port",
            "0",
            *options,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        **popen,
    )
    port, lines = None, []
    deadline = time.monotonic() + 120
    while port is None and time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        port = int(found.group(1)) if found else None
    if port is None:
        server.kill()
        pytest.fail("the server did not start:\n" + "".join(lines))
    return server, port


@pytest.fixture(scope="module")
def served(built):
    """`pbr serve` with three workers (the concurrency test below runs them side by side), bodies within 2 s."""
    root, data = built["root"], built["data"]
    server, port = start_server(root, "--max-body", "4096", "--workers", "3", "--body-timeout", "2")
    log: list[str] = []  # the server's stderr, line by line
    threading.Thread(target=lambda: log.extend(server.stderr), daemon=True).start()
    yield {"root": root, "data": data, "port": port, "server": server, "log": log}
    server.terminate()
    server.wait(timeout=30)


def worker_pids(pid: int) -> list[int]:
    """The server's ranking worker processes (Linux /proc)."""
    return [int(child) for task in Path(f"/proc/{pid}/task").glob("*/children") for child in task.read_text().split()]


def call(port: int, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    """(status, content type, body bytes) of one HTTP request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def post_rank(port: int, request: dict) -> tuple[int, dict]:
    status, _, payload = call(port, "POST", "/rank", json.dumps(request), {"Content-Type": "application/json"})
    return status, json.loads(payload)


def cli_ranking(served, score: str, top: int) -> list[dict]:
    root = served["root"]
    result = run_pbr(
        "rank",
        root / "dialogue.txt",
        root / "index.h5",
        "--model",
        root / "run",
        "--score",
        score,
        "--top",
        top,
        "--json",
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])["stickers"]


def test_health_names_the_model_and_the_stickers(served):
    status, kind, payload = call(served["port"], "GET", "/health")
    health = json.loads(payload)
    assert status == 200 and kind.startswith("application/json")
    assert health["status"] == "ok" and health["stickers"] == 20 and len(health["model"]) == 16
    assert health["workers"] == 3 and health["rerank"] == 32


@pytest.mark.parametrize("score", ["itm", "itc"])
def test_ranking_equals_pbr_rank(served, score):
    status, answer = post_rank(served["port"], {"context": DIALOGUE, "top": 7, "score": score})
    assert status == 200, answer
    expected = cli_ranking(served, score, 7)
    assert [(s["id"], s["rank"]) for s in answer["stickers"]] == [(s["id"], s["rank"]) for s in expected]
    # two processes may split the float sums over different thread counts: the last printed digit may differ
    assert [s["score"] for s in answer["stickers"]] == pytest.approx([s["score"] for s in expected], abs=2e-6)
    assert answer["score"] == score and answer["ms"] >= 0


def test_a_top_above_the_stickers_there_are_gives_them_all_and_a_bom_is_read_past(served):
    status, everything = post_rank(served["port"], {"context": DIALOGUE, "top": 1000})
    assert status == 200 and len(everything["stickers"]) == 20  # the whole index, as `pbr rank --top 1000`
    status, two = post_rank(served["port"], {"context": DIALOGUE, "top": 5, "candidates": ["t0s0", "t0s1"]})
    assert status == 200 and sorted(s["id"] for s in two["stickers"]) == ["t0s0", "t0s1"]
    body = b"\xef\xbb\xbf" + json.dumps({"context": DIALOGUE, "top": 3}).encode()
    status, _, payload = call(served["port"], "POST", "/rank", body, {"Content-Type": "application/json"})
    plain = post_rank(served["port"], {"context": DIALOGUE, "top": 3})[1]
    assert status == 200 and json.loads(payload)["stickers"] == plain["stickers"]


def test_null_fields_count_as_absent(served):
    status, plain = post_rank(served["port"], {"context": DIALOGUE})
    assert status == 200 and len(plain["stickers"]) == 10 and plain["score"] == "itm"
    status, nulls = post_rank(served["port"], {"context": DIALOGUE, "top": None, "score": None, "candidates": None})
    assert status == 200 and nulls["stickers"] == plain["stickers"] and nulls["score"] == "itm"
    assert post_rank(served["port"], {"context": DIALOGUE, "score": ""})[0] == 400


def test_candidates_rank_only_those_with_the_same_scores(served):
    everything = {s["id"]: s["score"] for s in cli_ranking(served, "itm", 20)}
    chosen = sorted(everything)[3:9]
    status, answer = post_rank(served["port"], {"context": DIALOGUE, "top": 6, "candidates": chosen})
    assert status == 200, answer
    assert sorted(s["id"] for s in answer["stickers"]) == chosen
    # a pair's score does not depend on the other candidates (up to float rounding of a smaller batch)
    assert [s["score"] for s in answer["stickers"]] == pytest.approx(
        [everything[s["id"]] for s in answer["stickers"]], abs=1e-5
    )
    scores = [s["score"] for s in answer["stickers"]]
    assert scores == sorted(scores, reverse=True)


BAD_REQUESTS = [
    ("not-json", b"{context: 1", 400, "not valid JSON"),
    ("not-utf8", b"\xff\xfe{}", 400, "not UTF-8"),
    ("nan", b'{"context": ["x"], "top": NaN}', 400, "not valid JSON"),
    ("array", b'["x"]', 400, "JSON object"),
    ("no-context", b'{"top": 3}', 400, "'context' must be a list"),
    ("context-string", b'{"context": "hello"}', 400, "'context' must be a list"),
    ("context-number", b'{"context": [1, 2]}', 400, "'context' must be a list"),
    ("empty-context", b'{"context": []}', 400, "'context' is empty"),
    ("blank-context", b'{"context": ["  ", ""]}', 400, "'context' is empty"),
    ("long-context", json.dumps({"context": ["x"] * 300}).encode(), 400, "too long"),
    ("unknown-field", b'{"context": ["x"], "tpo": 3}', 400, "unknown field 'tpo'"),
    ("top-zero", b'{"context": ["x"], "top": 0}', 400, "'top' must be a positive integer, got 0"),
    ("duplicate-key", b'{"context": ["x"], "context": ["y"]}', 400, "duplicate key 'context'"),
    ("top-bool", b'{"context": ["x"], "top": true}', 400, "'top'"),
    ("top-float", b'{"context": ["x"], "top": 2.5}', 400, "'top'"),
    ("unknown-candidate", b'{"context": ["x"], "candidates": ["t0s0", "nope"]}', 400, "unknown sticker id 'nope'"),
    ("empty-candidates", b'{"context": ["x"], "candidates": []}', 400, "non-empty list"),
    ("repeated-candidate", b'{"context": ["x"], "candidates": ["t0s0", "t0s0"]}', 400, "twice"),
    ("bad-score", b'{"context": ["x"], "score": "best"}', 400, "'score'"),
    ("deep-nesting", b'{"context": ["x"], "top": ' + b"[" * 1500 + b"]" * 1500 + b"}", 400, "nested too deeply"),
    ("lone-surrogate", b'{"context": ["x"], "candidates": ["\\udcff"]}', 400, "'candidates.0' holds an unpaired"),
    ("lone-surrogate-key", b'{"context": ["x"], "\\ud800": 1}', 400, "unpaired UTF-16 surrogate"),
    ("long-score", json.dumps({"context": ["x"], "score": "s" * 3000}).encode(), 400, "'score' must be"),
    ("long-field", json.dumps({"context": ["x"], "f" * 3000: 1}).encode(), 400, "unknown field 'fff"),
    ("too-large", json.dumps({"context": ["长" * 2000]}).encode(), 413, "over the limit of 4096 bytes"),
]


@pytest.mark.parametrize("name,body,status,needle", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_request_gets_a_json_error_and_the_server_goes_on(served, name, body, status, needle):
    got, kind, payload = call(served["port"], "POST", "/rank", body, {"Content-Type": "application/json"})
    assert got == status and kind.startswith("application/json"), payload
    error = json.loads(payload)["error"]
    assert needle in error and len(error) < 200  # an offending value is shown cut short, never echoed whole
    assert call(served["port"], "GET", "/health")[0] == 200


@pytest.mark.parametrize(
    "method,path,status",
    [("GET", "/rank", 405), ("POST", "/health", 405), ("GET", "/nowhere", 404), ("GET", "/stickers/nope", 404)],
)
def test_wrong_routes_get_json_errors(served, method, path, status):
    got, kind, payload = call(served["port"], method, path)
    assert got == status and "error" in json.loads(payload)


def test_sticker_images_are_served(served):
    from pbr_cli.data.pbrfolder import read_pbr_stickers

    sticker = next(iter(read_pbr_stickers(served["data"]).values()))
    status, kind, payload = call(served["port"], "GET", f"/stickers/{sticker.id}")
    assert status == 200 and kind == "image/png"
    assert payload == sticker.path.read_bytes()


def test_concurrent_requests_get_the_answers_of_sequential_ones(served):
    requests = [
        {"context": DIALOGUE[: 1 + i % 2] + [f"第{i}句"], "top": 5, "score": ("itm", "itc")[i % 2]} for i in range(8)
    ]
    expected = [post_rank(served["port"], request)[1]["stickers"] for request in requests]
    answers: dict[int, list] = {}

    def client(number: int) -> None:
        for repeat in range(3):
            answers[(number, repeat)] = post_rank(served["port"], requests[number])[1]["stickers"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 24
    assert all(answers[(number, repeat)] == expected[number] for number, repeat in answers)


LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux")


@LINUX
def test_workers_are_processes_on_a_linux_cpu(served):
    health = json.loads(call(served["port"], "GET", "/health")[2])
    assert health["worker_kind"] == "process" and health["workers_alive"] == 3
    assert len(worker_pids(served["server"].pid)) == 3


@LINUX
def test_a_killed_worker_is_replaced_and_no_request_is_lost(served):
    request = {"context": DIALOGUE, "top": 5}
    expected = post_rank(served["port"], request)
    victim = worker_pids(served["server"].pid)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{victim}").exists() and "Z" not in Path(f"/proc/{victim}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    answers = [post_rank(served["port"], request) for _ in range(6)]  # every worker, the dead one included
    assert [status for status, _ in answers] == [200] * 6, answers
    assert all(answer["stickers"] == expected[1]["stickers"] for _, answer in answers)
    health = json.loads(call(served["port"], "GET", "/health")[2])
    assert health["workers_alive"] == 3 and victim not in worker_pids(served["server"].pid)
    assert any(f"ranking worker {victim} stopped while idle (signal 9)" in line for line in served["log"])


@LINUX
def test_workers_with_several_threads_each_answer(built):
    # OpenMP's pool does not survive a fork: workers with more than one thread must still answer
    env = {**os.environ, "OMP_NUM_THREADS": "4"}
    server, port = start_server(built["root"], "--workers", "2", "--rerank", "2", env=env)
    try:
        health = json.loads(call(port, "GET", "/health")[2])
        assert health["worker_kind"] == "process" and health["workers_alive"] == 2
        answers = [post_rank(port, {"context": DIALOGUE, "top": 3}) for _ in range(4)]  # both workers
        assert [status for status, _ in answers] == [200] * 4
        assert len({json.dumps(answer["stickers"]) for _, answer in answers}) == 1
        for score in ("itm", "itc"):  # a top above --rerank widens the re-ranked list instead of being cut to it
            status, answer = post_rank(port, {"context": DIALOGUE, "top": 6, "score": score})
            assert status == 200 and len(answer["stickers"]) == 6, answer
    finally:
        server.terminate()
        server.communicate(timeout=30)


@LINUX
@pytest.mark.parametrize("stop", ["terminate", "ctrl-c"])
def test_stopping_the_server_stops_its_workers_without_a_traceback(built, stop):
    server, port = start_server(built["root"], "--workers", "2", start_new_session=True)
    assert post_rank(port, {"context": DIALOGUE, "top": 3})[0] == 200
    workers = worker_pids(server.pid)
    assert len(workers) == 2
    if stop == "terminate":
        server.terminate()
    else:
        os.killpg(server.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, stderr = server.communicate(timeout=30)
    # as a shell reports them: 130 interrupted, 143 terminated (after the workers were stopped)
    assert server.returncode == (143 if stop == "terminate" else 130), stderr
    assert ("Stopped (SIGTERM)." if stop == "terminate" else "Aborted.") in stderr, stderr
    assert "Traceback" not in stderr, stderr
    with socket.socket() as probe:  # no worker holds the listening socket
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the server"
        time.sleep(0.05)


def test_an_unreadable_image_of_an_index_without_tokens_is_named_in_the_500(built, tmp_path):
    import shutil

    library = tmp_path / "stickers"
    shutil.copytree(built["data"] / "stickers", library)
    index = tmp_path / "index.h5"
    made = run_pbr("embed", library, "--model", built["root"] / "run", "--no-tokens", "-o", index)
    assert made.exit_code == 0, made.output
    victim = sorted(library.rglob("*.png"))[0]
    server = subprocess.Popen(
        [sys.executable, "-m", "pbr_cli.cli", "serve", "--model", str(built["root"] / "run"), "--index", str(index)]
        + ["--port", "0", "--workers", "1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = None
        while port is None:
            line = server.stderr.readline()
            assert line, "the server did not start"
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        victim.write_bytes(b"\x89PNG\r\n\x1a\n broken")
        status, answer = post_rank(port, {"context": DIALOGUE, "top": 3})
        assert status == 500 and "a sticker image cannot be read" in answer["error"], answer
        assert victim.name in answer["error"]
        assert post_rank(port, {"context": DIALOGUE, "top": 3, "score": "itc"})[0] == 200  # ITC reads no image
        status, kind, _ = call(port, "GET", "/rank")
        assert status == 405
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "internal error ranking a request: a sticker image cannot be read" in stderr
    assert "Traceback" not in stderr, stderr


def test_a_405_names_the_allowed_methods(served):
    connection = http.client.HTTPConnection("127.0.0.1", served["port"], timeout=60)
    try:
        connection.request("GET", "/rank")
        response = connection.getresponse()
        response.read()
        assert response.status == 405 and "POST" in response.getheader("allow", "")
    finally:
        connection.close()


def test_a_client_leaving_or_stalling_mid_body_leaves_no_traceback(served):
    """A client that leaves mid-body is forgotten; one whose body stalls gets 408 after --body-timeout and its
    connection is closed; the server answers the next request either way."""
    port = served["port"]
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b'POST /rank HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"context"')
        time.sleep(0.3)
    time.sleep(0.5)
    assert post_rank(port, {"context": DIALOGUE, "top": 3})[0] == 200
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(b'POST /rank HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"context"')
        started, answer = time.monotonic(), b""
        while chunk := client.recv(4096):  # until the server closes the connection
            answer += chunk
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 s" in answer, answer
    assert 1.9 < waited < 20, waited
    assert post_rank(port, {"context": DIALOGUE, "top": 3})[0] == 200
    log = "".join(served["log"])
    assert "Traceback" not in log and "ClientDisconnect" not in log, log


def test_serve_without_the_extra_says_how_to_get_it(invoke, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails
    assert_refused(invoke("serve", "--index", tmp_path / "index.h5"), "pip install 'pbr-cli[serve]'")


def test_serve_refuses_workers_below_one(invoke, served):
    result = invoke("serve", "--model", served["root"] / "run", "--index", served["root"] / "index.h5", "--workers", 0)
    assert_refused(result, "--workers")


def test_serve_refuses_a_missing_index_before_listening(invoke, served, tmp_path):
    assert_refused(
        invoke("serve", "--model", served["root"] / "run", "--index", tmp_path / "none.h5"), str(tmp_path / "none.h5")
    )


# ---------------------------------------------------------------------------------------------------------------
# batch ranking: `pbr rank dialogues.jsonl STICKERS`

BATCH = [
    {"id": f"q{i}", "context": context}
    for i, context in enumerate([DIALOGUE, ["好烦啊"], ["明天一起去吗", "好呀"], ["哈哈哈"], ["你在干嘛"]])
]


def single_ranking(root, context, tmp_path, score="itm", top=5):
    (tmp_path / "one.txt").write_text("\n".join(context) + "\n", encoding="utf-8")
    result = run_pbr(
        "rank",
        tmp_path / "one.txt",
        root / "index.h5",
        "--model",
        root / "run",
        "--top",
        top,
        "--score",
        score,
        "--json",
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])["stickers"]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("score", ["itm", "itc"])
def test_batch_ranking_equals_one_dialogue_at_a_time(invoke, built, tmp_path, score):
    root = built["root"]
    dialogues = write_jsonl(tmp_path / "dialogues.jsonl", BATCH)
    out = tmp_path / "ranked.jsonl"
    result = invoke(
        "rank",
        dialogues,
        root / "index.h5",
        "--model",
        root / "run",
        "--top",
        5,
        "--score",
        score,
        "--batch-size",
        2,
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [record["id"] for record in BATCH]
    for line, record in zip(lines, BATCH):
        expected = single_ranking(root, record["context"], tmp_path, score)
        assert [s["id"] for s in line["stickers"]] == [s["id"] for s in expected]
        assert [s["score"] for s in line["stickers"]] == pytest.approx([s["score"] for s in expected], abs=1e-5)


@pytest.mark.parametrize("score", ["itm", "itc"])
def test_a_top_above_rerank_is_not_cut_to_it(invoke, built, tmp_path, score):
    root = built["root"]
    dialogues = write_jsonl(tmp_path / "dialogues.jsonl", BATCH[:2])

    def ranked(*options):
        common = ["--model", root / "run", "--score", score, "--top", 6, *options, "--json"]
        one = invoke("rank", root / "dialogue.txt", root / "index.h5", *common)
        assert one.exit_code == 0, one.output
        many = invoke("rank", dialogues, root / "index.h5", *common, "--batch-size", 1)
        assert many.exit_code == 0, many.output
        lines = [json.loads(line) for line in many.output.splitlines() if line.startswith("{")]
        return [json.loads(one.output.strip().splitlines()[-1])["stickers"]] + [line["stickers"] for line in lines]

    narrow, wide = ranked("--rerank", 2), ranked("--rerank", 6)
    assert [len(stickers) for stickers in narrow] == [6, 6, 6]
    assert [[s["id"] for s in stickers] for stickers in narrow] == [[s["id"] for s in stickers] for stickers in wide]


def test_batch_candidates_rank_only_those(invoke, built, tmp_path):
    root = built["root"]
    chosen = ["t0s1", "t1s2", "t1s5"]
    dialogues = write_jsonl(tmp_path / "dialogues.jsonl", [{**BATCH[0], "candidates": chosen}, BATCH[1]])
    result = invoke("rank", dialogues, root / "index.h5", "--model", root / "run", "--json")
    assert result.exit_code == 0, result.output
    first, second = [json.loads(line) for line in result.output.strip().splitlines()[-2:]]
    assert sorted(s["id"] for s in first["stickers"]) == chosen
    assert len(second["stickers"]) == 10


def test_batch_fields_that_are_not_read_are_named(invoke, built, tmp_path):
    """A misspelt "candidates" or a per-line "top" would be dropped silently; a dataset's "sticker" is fine."""
    root = built["root"]
    lines = [{**BATCH[0], "candidate": ["t0s1"], "top": 3}, {**BATCH[1], "sticker": "t0s1"}, {**BATCH[2], "top": 1}]
    result = invoke("rank", write_jsonl(tmp_path / "odd.jsonl", lines), root / "index.h5", "--model", root / "run")
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "odd.jsonl: not read: 'candidate' (line 1), 'top' (line 1); a line gives 'id', 'context'" in said
    assert "'sticker'" not in said


def test_text_in_square_brackets_is_printed_as_written(invoke, built, tmp_path):
    """Ids, paths, dialogue ids and the title are text, not rich markup ("[/red]" crashed the table)."""
    root = built["root"]
    (tmp_path / "brackets.txt").write_text("好的\n[/red] 好\n", encoding="utf-8")
    result = invoke("rank", tmp_path / "brackets.txt", root / "index.h5", "--model", root / "run", "--top", 2)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "ranked for: [/red] 好" in result.output  # the title quotes the last utterance
    lines = [{"id": "[/x]", "context": ["好"]}]
    result = invoke("rank", write_jsonl(tmp_path / "b.jsonl", lines), root / "index.h5", "--model", root / "run")
    assert result.exit_code == 0 and "[/x]" in result.output, result.output


@pytest.mark.parametrize(
    "line,needle",
    [
        ('{"context": ["x"]}', "missing required field 'id'"),
        ('{"id": "a", "context": []}', "empty context"),
        ('{"id": "a", "context": "x"}', "'context' must be an array"),
        ('{"id": "a", "context": ["x"], "candidates": ["nope"]}', "unknown candidate sticker 'nope'"),
        ('{"id": "a", "context": ["x"], "candidates": []}', "'candidates' is empty"),
        ('{"id": "q0", "context": ["x"]}', "duplicate dialogue id 'q0'"),
        ('{"id": "a", "context": ["x"]', "malformed JSON"),
    ],
)
def test_bad_batch_line_names_file_and_line(invoke, built, tmp_path, line, needle):
    root = built["root"]
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text(json.dumps(BATCH[0], ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8")
    out = tmp_path / "ranked.jsonl"
    assert_refused(
        invoke("rank", dialogues, root / "index.h5", "--model", root / "run", "-o", out),
        f"{dialogues}: line 2",
        needle,
        not_written=(out,),
        folder=tmp_path,
    )


def test_batch_options_that_need_one_dialogue_are_refused(invoke, built, tmp_path):
    root = built["root"]
    dialogues = write_jsonl(tmp_path / "dialogues.jsonl", BATCH)
    assert_refused(
        invoke("rank", dialogues, root / "index.h5", "--model", root / "run", "--sheet", tmp_path / "s.png"),
        "--sheet and --html draw one dialogue",
    )
    assert_refused(
        invoke("rank", root / "dialogue.txt", root / "index.h5", "--model", root / "run", "-o", tmp_path / "r.jsonl"),
        "-o writes the rankings of a .jsonl file",
    )
    assert_refused(
        invoke("rank", dialogues, root / "index.h5", "--model", root / "run", "-o", dialogues), "names the input"
    )


def test_a_dialogue_the_model_cannot_read_is_said(served, invoke, tmp_path):
    """Emoji alone are [UNK] to the model: the answer still ranks, and says that the ranking does not follow from
    the dialogue; `pbr rank` says it on stderr, for one dialogue and for a batch (naming one)."""
    unread = ["😀😀", "🎉 🎉"]
    status, answer = post_rank(served["port"], {"context": unread, "top": 3})
    assert status == 200 and len(answer["stickers"]) == 3
    assert "every token is [UNK]" in answer["warning"]
    status, answer = post_rank(served["port"], {"context": ["😀", "好开心"], "top": 3})
    assert status == 200 and "warning" not in answer
    root = served["root"]
    (tmp_path / "emoji.txt").write_text("\n".join(unread) + "\n", encoding="utf-8")
    result = invoke("rank", tmp_path / "emoji.txt", root / "index.h5", "--model", root / "run", "--top", 3)
    assert result.exit_code == 0 and "emoji.txt: none of the dialogue's text" in " ".join(result.output.split())
    batch = write_jsonl(tmp_path / "batch.jsonl", [*BATCH, {"id": "emoji", "context": unread}])
    out = tmp_path / "ranked.jsonl"
    result = invoke("rank", batch, root / "index.h5", "--model", root / "run", "--top", 3, "-o", out)
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "batch.jsonl: 1 dialogue(s) with no text" in said and "'emoji'" in said
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(BATCH) + 1
    result = invoke("rank", write_jsonl(tmp_path / "fine.jsonl", BATCH), root / "index.h5", "--model", root / "run")
    assert result.exit_code == 0 and "[UNK]" not in result.output
