"""Shared pieces of the benchmark: a gunicorn server it starts and stops, multipart bodies, a load loop, memory.

Nothing here imports the server: the server runs in its own processes, as it does in production.
"""
from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
GUNICORN_CONF = Path(__file__).resolve().parent / "gunicorn_conf.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclasses.dataclass
class WorkerSettings:
    workers: int = 2
    threads: int = 4
    worker_class: str = "gthread"
    #: how the app wsgi:app is started: "gunicorn" (-c bench/gunicorn_conf.py) or "wsgi", the README's main command
    #: `python wsgi.py`, gunicorn run in-process (always gthread); other apps (the ceiling) always under gunicorn
    via: str = "gunicorn"

    def args(self) -> list[str]:
        return ["-w", str(self.workers), "--worker-class", self.worker_class, "--threads", str(self.threads)]

    def describe(self) -> str:
        if self.via == "wsgi":
            return f"python wsgi.py --workers {self.workers} --threads {self.threads} (gunicorn gthread in-process)"
        return f"gunicorn -w {self.workers} --worker-class {self.worker_class} --threads {self.threads}"


class Server:
    """One gunicorn master and its workers, started in its own process group so it can be stopped whole.

    Plain gunicorn's workers drop the marker files of bench/gunicorn_conf.py once they have loaded the app; under
    `python wsgi.py` they say "worker process <pid> ready" in the log instead."""

    def __init__(self, app: str, env: dict[str, str], workers: WorkerSettings, log_dir: Path, name: str,
                 checkout: Path = REPO):
        self.app = app
        self.main_command = workers.via == "wsgi" and app == "wsgi:app"
        #: the project checkout whose code this server runs
        self.checkout = checkout
        self.workers = workers
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_dir = Path(tempfile.mkdtemp(prefix=f"ready-{name}-", dir=log_dir))
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self.env = {**os.environ, **env, "BENCH_READY_DIR": str(self.ready_dir), "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        if self.main_command:
            return [sys.executable, "wsgi.py", "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(self.workers.workers), "--threads", str(self.workers.threads)]
        return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *self.workers.args(),
                "-b", f"127.0.0.1:{self.port}", "--timeout", "120", self.app]

    def ready_workers(self) -> set[int]:
        if self.main_command:
            return {int(pid) for pid in re.findall(r"worker process (\d+) ready", self.log_tail(100_000))}
        return {int(p.name.split("-", 1)[1]) for p in self.ready_dir.glob("ready-*")}

    def start(self, timeout: float = 60.0) -> "Server":
        command = self.command()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(command, cwd=self.checkout, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited with {self.proc.returncode}\n{self.log_tail()}")
            if len(self.ready_workers() & set(self.worker_pids())) >= self.workers.workers:  # a replaced worker's marker stays
                try:
                    requests.get(self.url + "/", timeout=5, allow_redirects=False)
                    return self
                except requests.ConnectionError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name}: workers not ready after {timeout:.0f}s\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group this Popen created: master and workers
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in KiB, from /proc/<pid>/status."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    return values


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def processes_named(prefix: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().startswith(prefix):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; idle and iowait count as not busy."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used during a stretch of time: by the server's processes, by this process, by PostgreSQL, by others.

    Seconds of CPU, per process present at the end (a process that exited in between is not counted);
    `other` is what the rest of the machine used meanwhile, so a busy neighbour shows in the figures.
    """

    def __init__(self, server_pids: list[int], postgres: bool):
        self.server_pids = server_pids
        self.postgres = postgres

    def _sample(self) -> dict:
        busy, total = machine_busy()
        return {"server": {p: cpu_seconds(p) for p in self.server_pids},
                "postgres": {p: cpu_seconds(p) for p in processes_named("postgres")} if self.postgres else {},
                "client": sum(os.times()[:2]), "busy": busy / TICKS, "total": total / TICKS}

    def __enter__(self) -> "CpuMeter":
        self.start = self._sample()
        return self

    def __exit__(self, *_exc) -> None:
        end = self._sample()
        used = {key: sum(v - self.start[key].get(pid, 0.0) for pid, v in end[key].items())
                for key in ("server", "postgres")}
        used.update({key: end[key] - self.start[key] for key in ("client", "busy", "total")})
        used["other"] = max(0.0, used["busy"] - used["server"] - used["postgres"] - used["client"])
        self.used = used


# ---- request bodies ---------------------------------------------------------------------------------------

def multipart(xml: bytes, files: dict[str, bytes], content_type: str = "image/jpeg") -> tuple[bytes, str]:
    """The multipart/form-data body ODK Collect sends: the XML part first, then one part per file."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
             f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'.encode(), xml, b"\r\n"]
    for name, data in files.items():
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                  f"Content-Type: {content_type}\r\n\r\n".encode(), data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---- load -------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class LoadResult:
    count: int
    seconds: float
    latencies_ms: list[float]
    failures: list[str]
    #: CPU milliseconds per submission by whom, and how busy the machine was (filled in by the caller)
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)
    #: the same, from the first request until the background work the requests caused was done
    cpu_all_in: dict[str, float] = dataclasses.field(default_factory=dict)
    #: how long the server's job queue took to empty after the last answer
    drain_seconds: float = 0.0
    jobs_left: int | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def sustained(self) -> float:
        """Submissions per second counting the time the background work took to catch up."""
        total = self.seconds + self.drain_seconds
        return self.count / total if total else 0.0

    @classmethod
    def combined(cls, parts: list["LoadResult"]) -> "LoadResult":
        """Several runs as one: counts, times, latencies and drain times added up, CPU figures weighted by
        count, the jobs left after the last one."""
        count = sum(p.count for p in parts)

        def weighted(attribute: str) -> dict[str, float]:
            keys = {k for p in parts for k in getattr(p, attribute)}
            return {k: sum(getattr(p, attribute).get(k, 0.0) * p.count for p in parts) / count for k in keys}

        left = [p.jobs_left for p in parts if p.jobs_left is not None]
        return cls(count=count, seconds=sum(p.seconds for p in parts),
                   latencies_ms=[x for p in parts for x in p.latencies_ms],
                   failures=[f for p in parts for f in p.failures], cpu=weighted("cpu"),
                   cpu_all_in=weighted("cpu_all_in"), drain_seconds=sum(p.drain_seconds for p in parts),
                   jobs_left=left[-1] if left else None)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies of all requests, failed ones included."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), int(round(p / 100 * len(ordered) + 0.5))))
        return ordered[rank - 1]


def run_load(url: str | list[str], bodies: list[tuple[bytes, str]], concurrency: int,
             headers: dict[str, str] | None = None, expect: int = 201, timeout: float = 120.0) -> LoadResult:
    """POST every body once, `concurrency` clients at a time, each client a thread with a keep-alive Session.

    `url` may be a list: client i posts to url[i % len(url)] (one device token per phone).
    """
    urls = [url] if isinstance(url, str) else url
    headers = {"X-OpenRosa-Version": "1.0", **(headers or {})}
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    start_gate = threading.Barrier(concurrency + 1)

    def client(url: str):
        with requests.Session() as session:
            start_gate.wait()
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                body, content_type = bodies[index]
                began = time.perf_counter()
                try:
                    response = session.post(url, data=body, timeout=timeout,
                                            headers={**headers, "Content-Type": content_type})
                    status, text = response.status_code, response.text
                except requests.RequestException as exc:
                    status, text = None, repr(exc)
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    latencies.append(elapsed)
                    if status != expect:
                        failures.append(f"#{index}: {status} {text[:300]}")

    threads = [threading.Thread(target=client, args=(urls[i % len(urls)],), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return LoadResult(len(bodies), time.perf_counter() - began, latencies, failures)
