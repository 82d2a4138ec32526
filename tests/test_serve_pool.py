"""The server's worker processes on their own: answers, errors, a worker that dies, a cancelled request."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from pbr_cli.serve import ProcessWorkers, RankRequest, RequestError, WorkerPlan

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux")


class EchoRanker:
    """Answers with its process id and the context; 'die' exits the process, 'slow' takes a while."""

    def rank(self, request: RankRequest) -> dict:
        word = request.context[0]
        if word == "die":
            os._exit(3)
        if word == "refuse":
            raise RequestError("no such thing", status=400)
        if word == "crash":
            raise ValueError("a bug")
        if word == "slow":
            time.sleep(0.5)
        return {"pid": os.getpid(), "context": request.context}


def request(*context: str) -> RankRequest:
    return RankRequest(list(context), 1, None, "itm")


@pytest.fixture
def pool():
    workers = ProcessWorkers(EchoRanker(), WorkerPlan(count=2, processes=True, threads=1))
    yield workers
    workers.close()
    assert workers.alive() == 0


def test_answers_come_from_the_worker_processes_side_by_side(pool):
    async def main():
        return await asyncio.gather(*(pool.rank(request("slow", str(i))) for i in range(2)))

    started = time.monotonic()
    answers = asyncio.run(main())
    assert time.monotonic() - started < 0.95  # two 0.5 s requests at once, not one after the other
    assert [a["context"] for a in answers] == [["slow", "0"], ["slow", "1"]]
    assert len({a["pid"] for a in answers}) == 2 and os.getpid() not in {a["pid"] for a in answers}


def test_errors_come_back_with_their_status(pool):
    async def main(word):
        return await pool.rank(request(word))

    with pytest.raises(RequestError) as refused:
        asyncio.run(main("refuse"))
    assert refused.value.status == 400 and str(refused.value) == "no such thing"
    with pytest.raises(RequestError) as crashed:
        asyncio.run(main("crash"))
    assert crashed.value.status == 500 and "ValueError" in str(crashed.value)
    assert asyncio.run(main("fine"))["context"] == ["fine"]


def test_a_worker_that_dies_on_a_request_answers_500_and_is_replaced(pool):
    before = {w.process.pid for w in pool._workers}

    async def main():
        with pytest.raises(RequestError) as died:
            await pool.rank(request("die"))
        return died.value, [await pool.rank(request("after", str(i))) for i in range(4)]

    died, after = asyncio.run(main())
    assert died.status == 500 and "restarted" in str(died)
    assert [a["context"][1] for a in after] == ["0", "1", "2", "3"]
    assert pool.alive() == 2 and len(before & {w.process.pid for w in pool._workers}) == 1


def test_a_cancelled_request_does_not_hand_its_answer_to_the_next():
    pool = ProcessWorkers(EchoRanker(), WorkerPlan(count=1, processes=True, threads=1))  # one: it must wait

    async def main():
        slow = asyncio.ensure_future(pool.rank(request("slow", "first")))
        await asyncio.sleep(0.1)
        slow.cancel()
        return [await pool.rank(request("next", str(i))) for i in range(4)]

    try:
        answers = asyncio.run(main())
    finally:
        pool.close()
    assert [a["context"] for a in answers] == [["next", str(i)] for i in range(4)]


class MatmulRanker:
    """Ranks with a multithreaded matrix product, the kind of op that starts OpenMP's thread pool."""

    def rank(self, request: RankRequest) -> dict:
        import torch

        a = torch.ones(512, 512)
        return {"threads": torch.get_num_threads(), "sum": float((a @ a).sum())}


def test_workers_with_several_threads_each_do_not_hang_after_the_fork():
    # in a fresh interpreter, as `pbr serve` is: the plan comes first, then the model work, then the fork
    script = """
import asyncio, torch
from pbr_cli.serve import ProcessWorkers, RankRequest, plan_workers
from test_serve_pool import MatmulRanker
torch.set_num_threads(4)
plan = plan_workers(torch.device("cpu"), 2)
assert plan.processes and plan.threads == 2 and torch.get_num_threads() == 1, plan
a = torch.ones(2048, 2048); (a @ a).sum()  # loading a model: big ops in this process before the fork
pool = ProcessWorkers(MatmulRanker(), plan)
async def main():
    requests = [pool.rank(RankRequest(["x"], 1, None, "itm")) for _ in range(4)]
    return await asyncio.wait_for(asyncio.gather(*requests), 60)
try:
    print(asyncio.run(main()))
finally:
    pool.close()
"""
    import subprocess
    from pathlib import Path

    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parent)])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("'threads': 2") == 4
