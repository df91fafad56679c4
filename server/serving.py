"""`python wsgi.py`: the production server in one command, gunicorn run from this process.

The same server as `gunicorn -w <cores> --worker-class gthread --threads 4 wsgi:app`: one worker process per core
(a Python process uses one core at most), threads so that a worker keeps its core busy while a request waits on
fsync, the database or the network. Each worker builds its own app after the fork and starts its own background
worker thread there, exactly as under plain gunicorn (the threads of several processes claim jobs safely, see
sync/jobs.py). What a start does once (migrations, the first admin, the bundled forms, the setup link) runs here
in the master before any worker exists, so the workers neither queue on the start-up lock nor each print a setup
link of their own. SIGTERM stops gracefully (requests in flight finish), Ctrl-C at once; both exit 0.

`--dev` serves with Werkzeug's reloader instead, for working on the code.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

from gunicorn.app.base import BaseApplication
from werkzeug.serving import is_running_from_reloader, run_simple

from media.store import StoreUnavailable
from server import bootstrap, first_admin
from server.app import build_runtime, create_app
from server.config import load_settings

log = logging.getLogger("zoufang")

#: gthread threads per worker process, as in the README's "Running at scale"
THREADS = 4
#: how long SIGTERM waits for requests in flight (a phone's upload) before the workers are killed
GRACEFUL_SECONDS = 20
#: how long a stopping worker process waits for its background thread's job in hand (a photo takes ~15 ms; the
#: thread is a daemon, and a job cut off is claimed again later)
BACKGROUND_STOP_SECONDS = 5


class ProductionServer(BaseApplication):
    """gunicorn with its settings given here, not read from its own command line or a config file."""

    def __init__(self, options: dict, load_app: Callable):
        self.options = options
        self.load_app = load_app
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.load_app()


def cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def _worker_app():
    """In each worker process, after the fork: the app with its background worker thread, not preparing again."""
    app = create_app(load_settings(migrate_on_start=False))
    log.info("worker process %d ready", os.getpid())  # gunicorn's "Booting worker" comes before the app loads
    return app


def _stop_background_worker(_arbiter, worker) -> None:
    """gunicorn's worker_exit hook: let the background thread finish the job in hand rather than be cut off."""
    app = getattr(worker, "wsgi", None)
    rt = app.extensions.get("zoufang") if app is not None else None
    if rt is not None and rt.worker is not None:
        rt.worker.stop()
        rt.worker.join(BACKGROUND_STOP_SECONDS)


def _prepare_once(base_url: str) -> None:
    """Migrations, the first admin from the environment, the bundled forms and the setup link, in the master."""
    rt = build_runtime(load_settings())
    try:
        if rt.settings.migrate_on_start:
            bootstrap.prepare(rt)
            first_admin.announce(rt, base_url)
    finally:
        rt.engine.dispose()  # no connection may cross the fork into the workers


def _browsable(host: str) -> str:
    """The host to print in a link: a wildcard bind is reached as localhost from this machine."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def serve(host: str, port: int, workers: int, threads: int) -> None:
    _prepare_once(f"http://{_browsable(host)}:{port}")
    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    log.info("serving on http://%s:%d with %d worker process(es) × %d threads", _browsable(host), port, workers,
             threads)
    ProductionServer({"bind": bind, "workers": workers, "worker_class": "gthread", "threads": threads,
                      "graceful_timeout": GRACEFUL_SECONDS, "worker_exit": _stop_background_worker,
                      "proc_name": "zoufang",
                      # one fixed path in $HOME for every gunicorn on the machine; nothing here uses gunicornc
                      "control_socket_disable": True}, _worker_app).run()


def serve_dev(host: str, port: int) -> None:
    """Werkzeug's server with the reloader. Its watching parent only restarts the child: the app (with its
    migrations and background thread) is built in the child alone."""
    app = create_app() if is_running_from_reloader() else _served_by_the_child
    run_simple(host, port, app, use_reloader=True, threaded=True)


def _served_by_the_child(_environ, _start_response):
    raise RuntimeError("the reloader's parent process serves no request")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Zoufang server (gunicorn, one worker process per core).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"worker processes (default: one per core, here {cores()})")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"threads per worker (default {THREADS})")
    parser.add_argument("--dev", action="store_true",
                        help="Werkzeug's development server with the reloader, for working on the code")
    args = parser.parse_args(argv)
    try:
        if args.dev:
            serve_dev(args.host, args.port)
        else:
            serve(args.host, args.port, args.workers or cores(), args.threads)
    except StoreUnavailable as problem:  # found by the master before any worker starts: say it, exit 1
        sys.exit(str(problem))
