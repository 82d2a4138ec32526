"""Sticker suggestions over HTTP: a model and a sticker index loaded once, ranked per JSON request.

`Ranker` is the product-facing library object (validate a request, rank, answer a dict); `create_app`
wraps it in a Starlette application that `pbr serve` runs under uvicorn. Requests are validated before
any model work; model work runs off the event loop, in forked worker processes on a Linux CPU
(`ProcessWorkers`: the HTTP front never contends with the model for the interpreter lock) or in worker
threads elsewhere (`ThreadWorkers`). A bad request never stops the server: it gets a JSON `{"error": ...}`
with status 400 (or 413 for a body over the limit).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .index import DEFAULT_RERANK, SCORES

MAX_TURNS = 256  # utterances in one request's context
MAX_TURN_CHARS = 4096
DEFAULT_MAX_BODY = 64 * 1024  # bytes
DEFAULT_BODY_TIMEOUT = 30.0  # seconds a request's body may take to arrive
MAX_DEFAULT_WORKERS = 4
_FIELDS = ("context", "top", "candidates", "score")
_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
}


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class RankRequest:
    context: list[str]
    top: int
    candidates: list[int] | None  # rows of the index, or None for all
    score: str


class Ranker:
    """A loaded run and sticker set; `rank` gives the same stickers and scores as `pbr rank`."""

    def __init__(
        self,
        model,
        tokenizer,
        sticker_set,
        device,
        model_hash: str,
        run: str,
        reload: Callable[[list[int]], np.ndarray],
        rerank: int = DEFAULT_RERANK,
        workers: int = 1,
    ):
        self.model, self.tokenizer, self.stickers, self.device = model, tokenizer, sticker_set, device
        self.model_hash, self.run, self.reload, self.rerank = model_hash, run, reload, rerank
        self.rows = {sticker_id: row for row, sticker_id in enumerate(sticker_set.ids)}
        self.workers = workers
        self._slots = threading.BoundedSemaphore(workers)  # forward passes at once; more requests queue here

    def __len__(self) -> int:
        return len(self.stickers.ids)

    def parse(self, body: bytes) -> RankRequest:
        """Validate a POST /rank body; RequestError naming the field on anything wrong."""
        from .data.records import DuplicateKey, loads_unique, printable, surrogate_problem

        if body.startswith(b"\xef\xbb\xbf"):  # a byte-order mark, as some Windows clients send: read past it
            body = body[3:]
        try:
            text = body.decode("utf-8")
            data = loads_unique(text, parse_constant=_no_constant)
        except UnicodeDecodeError:
            raise RequestError("the body is not UTF-8") from None
        except DuplicateKey as exc:  # the last value would win silently, as `pbr rank` refuses too
            raise RequestError(f"duplicate key '{printable(exc.args[0], 60)}'") from None
        except ValueError as exc:
            raise RequestError(f"the body is not valid JSON ({exc})") from None
        except RecursionError:
            raise RequestError("the body is not valid JSON (nested too deeply)") from None
        problem = surrogate_problem(text, data)
        if problem is not None:
            raise RequestError(problem)
        if not isinstance(data, dict):
            raise RequestError('the body must be a JSON object like {"context": ["..."]}')
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise RequestError(f"unknown field '{printable(unknown[0], 60)}' (fields: {', '.join(_FIELDS)})")
        context = data.get("context")
        if not isinstance(context, list) or not all(isinstance(turn, str) for turn in context):
            raise RequestError("'context' must be a list of strings, oldest utterance first")
        if len(context) > MAX_TURNS or any(len(turn) > MAX_TURN_CHARS for turn in context):
            raise RequestError(f"'context' is too long (at most {MAX_TURNS} utterances of {MAX_TURN_CHARS} characters)")
        context = [turn.strip() for turn in context if turn.strip()]
        if not context:
            raise RequestError("'context' is empty: give at least one utterance")
        candidates = data.get("candidates")
        if candidates is not None:
            if not isinstance(candidates, list) or not candidates or not all(isinstance(c, str) for c in candidates):
                raise RequestError("'candidates' must be a non-empty list of sticker ids")
            missing = [c for c in candidates if c not in self.rows]
            if missing:
                raise RequestError(
                    f"unknown sticker id '{printable(missing[0], 60)}' in 'candidates' ({len(missing)} unknown)"
                )
            if len(set(candidates)) != len(candidates):
                raise RequestError("'candidates' lists a sticker twice")
            candidates = [self.rows[c] for c in candidates]
        available = len(candidates) if candidates is not None else len(self)
        top = data.get("top")
        top = 10 if top is None else top  # null counts as absent, as for 'candidates'
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise RequestError(f"'top' must be a positive integer, got {printable(repr(top), 60)}")
        top = min(top, available)  # more than there are: all of them, as `pbr rank --top` gives
        score = "itm" if data.get("score") is None else data["score"]
        if score not in SCORES:
            raise RequestError(f'\'score\' must be "itm" or "itc", got {printable(repr(score), 60)}')
        return RankRequest(context, top, candidates, score)

    def rank(self, request: RankRequest) -> dict[str, Any]:
        """The top stickers for a validated request: [{"id", "path", "score", "rank"}], the model, the time, and
        a "warning" when the model reads none of the dialogue's text."""
        from .index import rank_stickers, shortlist
        from .metrics import NonFiniteScores

        started = time.perf_counter()
        try:
            with self._slots:
                ranked = rank_stickers(
                    self.model,
                    self.tokenizer,
                    request.context,
                    self.stickers,
                    self.device,
                    shortlist(request.top, self.rerank, request.score),
                    request.score,
                    self.reload,
                    request.candidates,
                )[: request.top]
        except NonFiniteScores:
            raise RequestError("the model's scores are not finite; its weights are broken", status=500) from None
        stickers = self.stickers
        results = [
            {"id": stickers.ids[r], "path": stickers.paths[r], "score": round(s, 6), "rank": i + 1}
            for i, (r, s) in enumerate(ranked)
        ]
        answer = {
            "stickers": results,
            "score": request.score,
            "model": self.model_hash,
            "ms": round(1000 * (time.perf_counter() - started), 2),
        }
        if self.tokenizer.reads_nothing(request.context, self.model.config.max_len):
            from .data.tokenize import UNREAD_DIALOGUE

            answer["warning"] = UNREAD_DIALOGUE
        return answer

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "run": self.run,
            "model": self.model_hash,
            "stickers": len(self),
            "image_tokens": self.stickers.image_tokens is not None,
            "rerank": self.rerank,
            "workers": self.workers,
            "device": str(self.device),
        }

    def sticker_file(self, sticker_id: str) -> tuple[bytes | Path, str]:
        """(the image file, or PNG bytes for a .npy sticker, and its media type); RequestError 404 if unknown."""
        from .data.records import printable

        row = self.rows.get(sticker_id)
        if row is None:
            raise RequestError(f"no sticker '{printable(sticker_id, 60)}' in the index", status=404)
        path = Path(self.stickers.paths[row])
        media = _IMAGE_TYPES.get(path.suffix.lower())
        if not path.is_file():
            raise RequestError(f"the image of '{sticker_id}' is gone ({path})", status=404)
        if media is not None:
            return path, media
        import io

        from PIL import Image

        from .data.images import load_image

        buffer = io.BytesIO()
        Image.fromarray(load_image(path)).save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"


def internal_error(exc: Exception) -> str:
    """A 500's message, also logged: a sticker image that cannot be read is named (an index without image
    tokens reads its images per request); anything else by its type alone."""
    from . import console
    from .errors import DataError

    message = f"a sticker image cannot be read: {exc}" if isinstance(exc, DataError) else type(exc).__name__
    console.warn(f"internal error ranking a request: {message}")
    return f"internal error: {message}"


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


async def _read_body(request, limit: int, timeout: float = DEFAULT_BODY_TIMEOUT) -> bytes:
    """The request's body: 413 past `limit` bytes, 408 when it has not all arrived within `timeout` seconds (a
    stalled client would otherwise hold its connection open for ever)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(f"the body is over the limit of {limit} bytes", status=413)

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(f"the body is over the limit of {limit} bytes", status=413)
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        raise RequestError(f"the body did not arrive within {timeout:g} s", status=408) from None


@dataclass(frozen=True)
class WorkerPlan:
    """How a server ranks requests side by side: `count` workers, each with `threads` torch threads, as
    forked processes (`processes`) or as threads of the server's own process."""

    count: int
    processes: bool
    threads: int

    def describe(self) -> str:
        kind = ("process", "processes") if self.processes else ("thread", "threads")
        return f"{self.count} worker {kind[self.count != 1]}, {self.threads} torch thread(s) each"


def plan_workers(device, workers: int | None) -> WorkerPlan:
    """`workers` (default: one per core, at most 4, on the CPU; 1 on a GPU) and how they run.

    On a Linux CPU the workers are processes forked once the model is loaded (copy-on-write, so the weights
    and the index are not duplicated): a ranking request is dozens of small tensor operations whose Python
    overhead dominates, and threads of one process would queue for its interpreter lock. The cores are
    divided among the workers. OpenMP's thread pool does not survive a fork, so when the workers get more
    than one thread each, this process loads the model on one thread and the pool first starts in them.
    Elsewhere (a GPU, macOS, Windows) the workers are threads sharing the process's torch threads."""
    cpu = device.type == "cpu"
    if workers is None:
        workers = max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)) if cpu else 1
    processes = cpu and sys.platform.startswith("linux")
    threads = max(1, torch.get_num_threads() // workers) if cpu else torch.get_num_threads()
    if processes and threads > 1:
        torch.set_num_threads(1)
    elif cpu and not processes:
        torch.set_num_threads(threads)
    return WorkerPlan(workers, processes, threads)


def start_workers(ranker: Ranker, plan: WorkerPlan, inherited=()) -> ThreadWorkers | ProcessWorkers:
    """The workers `plan` asks for; processes are forked now (call before the event loop and its threads).

    `inherited`: sockets (the listening one) that forked workers close at once, so that none of them holds
    the server's port after the server has gone."""
    return ProcessWorkers(ranker, plan, inherited) if plan.processes else ThreadWorkers(ranker)


class ThreadWorkers:
    """Ranking in the server's thread pool, `count` forward passes at once (the Ranker's own limit)."""

    kind = "thread"

    def __init__(self, ranker: Ranker):
        self.ranker = ranker

    async def rank(self, request: RankRequest) -> dict[str, Any]:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.ranker.rank, request)

    def alive(self) -> int:
        return self.ranker.workers

    def close(self) -> None:
        pass


class _Worker:
    def __init__(self, process, connection):
        self.process, self.connection = process, connection


class ProcessWorkers:
    """Ranking in `plan.count` worker processes forked from this one, each handed one request at a time
    over a pipe; the event loop waits for the answer on the pipe's descriptor, so no thread is involved.

    A worker that dies answers its request with a 500 and is replaced by a fresh fork; one whose server
    has gone (killed without a chance to stop it) notices within a second and exits."""

    kind = "process"

    def __init__(self, ranker: Ranker, plan: WorkerPlan, inherited=()):
        import multiprocessing

        self.ranker, self.threads, self.inherited = ranker, plan.threads, tuple(inherited)
        self._context = multiprocessing.get_context("fork")
        self._pid = os.getpid()
        self._workers = [self._start() for _ in range(plan.count)]
        self._idle: asyncio.Queue | None = None  # made on the server's event loop

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve_requests,
            args=(self.ranker, theirs, ours, self.threads, self._pid, self.inherited),
            name="pbr-rank",
            daemon=True,
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def alive(self) -> int:
        return sum(worker.process.is_alive() for worker in self._workers)

    async def rank(self, request: RankRequest) -> dict[str, Any]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        loop = asyncio.get_running_loop()
        while True:
            worker = await self._idle.get()
            try:
                worker.connection.send(request)
                break
            except OSError:  # it died while idle and never saw the request: replace it, try the next one
                _worker_stopped(worker, "while idle")
                self._idle.put_nowait(self._replace(worker))
        answer = loop.create_future()
        loop.add_reader(worker.connection.fileno(), self._answered, worker, answer)
        # shielded: a cancelled request still lets the worker's answer arrive before the worker is reused
        status, payload = await asyncio.shield(answer)
        if status != 200:
            raise RequestError(payload, status)
        return payload

    def _answered(self, worker: _Worker, answer: asyncio.Future) -> None:
        asyncio.get_running_loop().remove_reader(worker.connection.fileno())
        try:
            reply = worker.connection.recv()
        except (EOFError, OSError):  # it died on this request
            _worker_stopped(worker, "while answering a request (answered 500)")
            worker = self._replace(worker)
            reply = (500, "the ranking worker stopped while answering (it has been restarted)")
        self._idle.put_nowait(worker)
        if not answer.done():
            answer.set_result(reply)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.connection.close()
        worker.process.join(timeout=1)
        fresh = self._start()
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    def close(self) -> None:
        """Let every worker finish its request and exit (a second later, make it)."""
        for worker in self._workers:
            worker.connection.close()
        deadline = time.monotonic() + 5
        for worker in self._workers:
            worker.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=1)


def _worker_stopped(worker: _Worker, when: str) -> None:
    """Log a ranking worker that ended on its own (killed, out of memory), with its exit status."""
    from . import console

    worker.process.join(timeout=1)
    code = worker.process.exitcode
    how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    console.warn(f"ranking worker {worker.process.pid} stopped {when} ({how}); a new one replaces it")


def _serve_requests(ranker: Ranker, connection, server_end, threads: int, server_pid: int, inherited=()) -> None:
    """A worker process: rank each request from the pipe and send back (status, answer or error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the server's handler, which the fork copied
    server_end.close()
    for sock in inherited:
        sock.close()  # this process's copy of the listening socket
    torch.set_num_threads(threads)
    while True:
        try:
            if not connection.poll(1.0):
                if os.getppid() != server_pid:
                    return
                continue
            request = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply = (200, ranker.rank(request))
        except RequestError as exc:
            reply = (exc.status, str(exc))
        except Exception as exc:  # noqa: BLE001 - the server answers 500 and goes on
            reply = (500, internal_error(exc))
        try:
            connection.send(reply)
        except OSError:
            return


def create_app(
    ranker: Ranker,
    max_body: int = DEFAULT_MAX_BODY,
    workers: ThreadWorkers | ProcessWorkers | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
):
    """The Starlette application: POST /rank, GET /health, GET /stickers/{id}; errors as JSON.

    Requests are ranked by `workers` (default: the Ranker in the server's thread pool); a body must arrive
    within `body_timeout` seconds."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    if workers is None:
        workers = ThreadWorkers(ranker)

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def rank(request):
        try:
            body = await _read_body(request, max_body, body_timeout)
            parsed = ranker.parse(body)  # before any model work
            return JSONResponse(await workers.rank(parsed))
        except RequestError as exc:
            response = error(str(exc), exc.status)
            if exc.status == 408:  # the rest of the body may still come: the connection cannot be reused
                response.headers["Connection"] = "close"
            return response
        except ClientDisconnect:  # the client left mid-body: no one reads an answer
            return error("the client disconnected before the body ended", 400)
        except Exception as exc:  # noqa: BLE001 - answered here: Starlette's catch-all would log a traceback too
            return error(internal_error(exc), 500)

    async def health(request):
        return JSONResponse({**ranker.health(), "worker_kind": workers.kind, "workers_alive": workers.alive()})

    async def sticker(request):
        try:
            content, media = await run_in_threadpool(ranker.sticker_file, request.path_params["sticker_id"])
        except RequestError as exc:
            return error(str(exc), exc.status)
        if isinstance(content, Path):
            return FileResponse(content, media_type=media)
        return Response(content, media_type=media)

    async def http_error(request, exc: HTTPException):
        response = error(exc.detail or "error", exc.status_code)
        response.headers.update(exc.headers or {})  # a 405's Allow
        return response

    async def server_error(request, exc: Exception):
        return error(internal_error(exc), 500)

    routes = [
        Route("/rank", rank, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/stickers/{sticker_id:path}", sticker, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})


def load_ranker(
    run: str | None,
    stickers: str,
    which: str,
    device,
    rerank: int = DEFAULT_RERANK,
    skip_bad: bool = False,
    on_skipped: Callable[[list[str]], None] | None = None,
    workers: int = 1,
) -> Ranker:
    """A Ranker for a run folder and a sticker index .h5 (or a folder of stickers, embedded now).

    `on_skipped` gets the paths of images left out as unreadable (with `skip_bad`); `workers` requests are ranked
    at once (see `plan_workers`)."""
    from .index import load_sticker_set
    from .model.run import load_run, resolve_run

    run_dir = resolve_run(run)
    model, config, tokenizer, model_hash = load_run(run_dir, which, device)
    sticker_set, reload, skipped = load_sticker_set(model, config, model_hash, stickers, device, skip_bad)
    if on_skipped is not None:
        on_skipped(skipped)
    return Ranker(model, tokenizer, sticker_set, device, model_hash, str(run_dir), reload, rerank, workers)
