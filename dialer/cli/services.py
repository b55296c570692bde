"""The long-running parts, started from the command line: `dialer worker` (Celery: the
dispatcher and the calls), `dialer serve` (the web app) and `dialer demo` (the demo
campaign end to end on loopback). dialer/cli/main.py puts them on the app."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from dialer.cli.common import console, fail, guarded, open_database, setup_logging


def worker(
    processes: Annotated[int | None, typer.Option(help="Call processes.")] = None,
    beat: Annotated[bool, typer.Option(help="Run the dispatcher schedule too.")] = True,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a Celery worker that dispatches and places calls."""
    from dialer.jobs.tasks import CALLS_QUEUE, DISPATCH_QUEUE, dialer_settings
    from dialer.jobs.tasks import app as celery_app
    from dialer.sandbox.stack import redis_answers
    from voices.asr import resolve_model_path
    from voices.settings import VoiceSettings

    # Refuse to start with what would fail every call, in one line instead of a retry loop.
    voices = VoiceSettings()
    guarded(resolve_model_path, voices.vosk_model, voices.language)
    url = dialer_settings.broker_url
    if url.startswith(("redis://", "rediss://")) and not redis_answers(url):
        fail(f"the broker {url} does not answer; start redis-server there or set "
             "DIALER_BROKER_URL (`make demo` starts a local one for you)")
    problem = dialer_settings.sandbox_problem()
    if problem:
        fail(problem)
    open_database()
    n = processes or dialer_settings.call_processes
    # One spare child keeps the dispatcher running while every other child is on a call.
    argv = ["worker", "-Q", f"{CALLS_QUEUE},{DISPATCH_QUEUE}", "-c", str(n + 1), "-P", "prefork",
            "-O", "fair", f"--loglevel={loglevel}", "-n", f"dialer-{int(time.time())}@%h"]
    if beat:
        argv.append("-B")
    celery_app.worker_main(argv)


def serve(host: str = "127.0.0.1", port: int = 8000,
          secure_cookies: Annotated[bool | None, typer.Option(
              "--secure-cookies/--insecure-cookies",
              help="Cookies only over HTTPS (the default, also DIALER_WEB_SECURE_COOKIES); "
                   "--insecure-cookies for plain http on this machine.")] = None) -> None:
    """Start the web app. Create the first admin with `dialer user create NAME --role
    admin`."""
    import uvicorn

    from dialer.web.app import create_app

    uvicorn.run(guarded(create_app, secure_cookies=secure_cookies), host=host, port=port)


def demo(timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 900,
         processes: Annotated[int, typer.Option(help="Call processes.")] = 2) -> None:
    """Run the demo campaign end to end against simulated customers on loopback."""
    from dialer.sandbox.demo import run_demo

    setup_logging()
    code = guarded(run_demo, console, timeout=timeout, processes=processes)
    raise typer.Exit(code)
