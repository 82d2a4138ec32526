"""`pbr serve`: answer sticker suggestions over HTTP (JSON), with the model and the index loaded once."""

from __future__ import annotations

import click

from .common import positive_float, positive_int, rerank_option, which_option

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command()
@click.option(
    "--model", "run", type=click.Path(), default=None, help="Run folder. Default: the most recent under runs/."
)
@click.option(
    "--index",
    "stickers",
    type=click.Path(),
    required=True,
    help="Sticker index .h5 from `pbr embed --model`, or a folder of stickers (embedded at start-up).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback makes the server reachable from other machines.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@which_option()
@rerank_option("ITM re-ranks the ITC top K, or a request's top when more, as `pbr rank` does.")
@click.option(
    "--max-body",
    type=int,
    default=64 * 1024,
    show_default=True,
    callback=positive_int,
    help="Largest request body in bytes; a larger one gets 413.",
)
@click.option(
    "--body-timeout",
    type=float,
    default=30.0,
    show_default=True,
    callback=positive_float,
    help="Seconds a request's body may take to arrive; a slower one gets 408 and its connection is closed.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    callback=positive_int,
    help="Requests ranked at once, each with its share of the CPU threads: worker processes on a Linux CPU, "
    "threads elsewhere. Default: one per core (at most 4) on the CPU, 1 on a GPU.",
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    help="Leave out unreadable images (reported): of a folder, or of an index without image tokens (read at start-up).",
)
@click.pass_obj
def serve(settings, run, stickers, host, port, which, rerank, max_body, body_timeout, workers, skip_bad_images):
    """Serve sticker suggestions over HTTP until interrupted (Ctrl-C).

    \b
    POST /rank          {"context": ["...", "..."], "top": 5, "candidates": [ids], "score": "itm"|"itc"}
                        -> {"stickers": [{"id", "path", "score", "rank"}], "score": "itm"|"itc",
                            "model": HASH, "ms": ...}, with a "warning" when no token of the
                            context is in the model's vocabulary
                        context: at most 256 utterances of 4096 characters; top: default 10,
                        at most the stickers (or candidates) there are
    GET  /health        the run, the model hash and the number of stickers
    GET  /stickers/ID   the sticker's image
    Rankings and scores are those of `pbr rank` for the same dialogue. Bad requests get a JSON
    {"error": ...} with status 400 (413 for a body over --max-body, 408 for one slower than
    --body-timeout) and never stop the server.
    Needs the serve extra: pip install 'pbr-cli[serve]'.
    """
    import signal
    import socket
    import sys

    from .. import console
    from ..errors import ConfigError, OutputError

    try:
        import uvicorn

        from ..index import warn_skipped
        from ..serve import create_app, load_ranker, plan_workers, start_workers
    except ImportError:
        raise ConfigError("pbr serve needs Starlette and uvicorn: pip install 'pbr-cli[serve]'") from None

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))  # the port is claimed before the model loads: a taken one fails at once
    except OSError as exc:
        sock.close()
        raise OutputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with sock:
        console.info(f"loading the model and the stickers from {stickers} ...")
        device = settings.torch_device()
        plan = plan_workers(device, workers)
        ranker = load_ranker(run, stickers, which, device, rerank, skip_bad_images, warn_skipped, plan.count)
        sock.listen(128)
        bound = sock.getsockname()[1]
        if host not in LOOPBACK:
            console.warn(f"listening on {host}: anyone who can reach this machine can query the server")
        pool = start_workers(ranker, plan, inherited=[sock])  # before the event loop and uvicorn's threads exist
        console.info(
            f"pbr serve: {len(ranker)} stickers, model {ranker.model_hash}, run {ranker.run}, {plan.describe()}"
        )
        click.echo(f"listening on http://{host if ':' not in host else f'[{host}]'}:{bound}", err=True)
        config = uvicorn.Config(
            create_app(ranker, max_body, pool, body_timeout),
            log_level="warning",
            access_log=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
        )
        # uvicorn stops gracefully on SIGTERM and then raises it again: with this handler the workers are
        # stopped and the command ends with 143 (128 + SIGTERM, as a shell reports it) instead of dying at once
        previous = signal.signal(signal.SIGTERM, _terminated)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except Terminated:
            stopped = True
        else:
            stopped = False
        finally:
            signal.signal(signal.SIGTERM, previous)
            pool.close()
    if stopped:
        click.echo("Stopped (SIGTERM).", err=True)
        sys.exit(143)


class Terminated(Exception):
    """SIGTERM, raised again by uvicorn once it has stopped serving."""


def _terminated(signum, frame):
    raise Terminated()
