"""End-to-end fixtures: the real server process (`python wsgi.py`) on a free port, spoken to over HTTP.

The server runs on its own data dir. On PostgreSQL (ZOUFANG_TEST_DATABASE_URL set) it connects to the shared
test database: depending on `database_url` makes the session fixture migrate it first and truncate it after
the test, and since pytest tears fixtures down in reverse order the server is stopped before the truncation
(otherwise its open connections could hold locks that TRUNCATE waits for). On SQLite the server uses the
database in its own data dir and `database_url`'s copy is ignored.
"""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("ZOUFANG_TEST_DATABASE_URL")
ADMIN_USER = "e2e-admin"
ADMIN_PASSWORD = "e2e-admin-password-1"
START_TIMEOUT = 60.0


@dataclasses.dataclass
class RunningServer:
    base_url: str
    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen
    stderr_path: Path
    admin: tuple[str, str] = (ADMIN_USER, ADMIN_PASSWORD)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    # nothing of the caller's own ZOUFANG_* configuration may leak into the server under test
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOUFANG_")}
    env.update(
        ZOUFANG_DATA_DIR=str(data_dir),
        ZOUFANG_ADMIN_USER=ADMIN_USER,
        ZOUFANG_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ZOUFANG_PUBLISH_BUNDLED_FORMS="0",
        ZOUFANG_SECRET_KEY="e2e-secret",
        PYTHONUNBUFFERED="1",
    )
    if PG_URL:
        env["ZOUFANG_DATABASE_URL"] = PG_URL
    env.update(extra)
    return env


def _wait_until_answering(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with requests.Session() as http:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited with {server.process.returncode} before answering:\n"
                                   f"{server.stderr()}")
            try:
                http.get(f"{server.base_url}/login", timeout=2, allow_redirects=False).close()
                return
            except requests.ConnectionError:
                pass
            except requests.Timeout:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {START_TIMEOUT} s:\n{server.stderr()}")
            time.sleep(0.1)


def _stop(server: RunningServer) -> None:
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def start_server(request, tmp_path, database_url):
    """A factory: `start_server(ZOUFANG_MAX_SUBMISSION_BYTES="200000")` starts one more server process with
    those extra environment variables and returns it once it answers. Every server is stopped at the end;
    when the test failed, each server's stderr is printed (pytest shows it with the failure)."""
    del database_url  # only depended on for PostgreSQL's migrate-before and truncate-after
    started: list[RunningServer] = []

    def start(**extra_env: str) -> RunningServer:
        index = len(started)
        data_dir = tmp_path / f"server{index}"
        data_dir.mkdir()
        stderr_path = tmp_path / f"server{index}.stderr.log"
        last_error: Exception | None = None
        for _attempt in range(3):  # the free port may be taken between choosing and binding it
            port = _free_port()
            with open(stderr_path, "wb") as stderr:
                process = subprocess.Popen(
                    [sys.executable, "wsgi.py", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=REPO_ROOT, env=_server_env(data_dir, extra_env), stdin=subprocess.DEVNULL,
                    stdout=stderr, stderr=subprocess.STDOUT)
            server = RunningServer(base_url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port,
                                   data_dir=data_dir, process=process, stderr_path=stderr_path)
            started.append(server)
            try:
                _wait_until_answering(server)
                return server
            except RuntimeError as exc:
                _stop(server)
                last_error = exc
                if not re.search("Address already in use|Connection in use", server.stderr()):
                    break
        raise last_error

    yield start

    for server in started:
        _stop(server)
    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
    if failed:
        for index, server in enumerate(started):
            sys.stderr.write(f"\n----- server {index} ({server.base_url}) stderr -----\n{server.stderr()}\n")


@pytest.fixture
def server(start_server) -> RunningServer:
    """One server process with the default settings."""
    return start_server()


@pytest.fixture
def base_url(server) -> str:
    return server.base_url
