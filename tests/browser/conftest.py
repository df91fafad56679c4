"""Browser fixtures: the real server (`python wsgi.py`) on a free port with the demo data loaded, driven by
Playwright through Debian's Chromium (/usr/bin/chromium, headless; .ci/run installs it with apt-get; no browser
is ever downloaded).

One server for the whole browser suite: `flask --app wsgi demo load` fills a fresh data dir (about 5 s), then the
server starts on it. It always runs on SQLite in its own temporary data dir, also on the PostgreSQL pass of
.ci/run (ZOUFANG_TEST_DATABASE_URL is not passed on): these tests are about pages, and the demo data must not
go into the shared test database that the API tests truncate.

Tests get pages with `open_page(user, device, path)`: a new browser context at phone size (390×844, touch,
device scale 2) or desktop size (1280×800), already logged in (each user logs in through /login once, with the
`log_in` helper; the session cookie is then reused). `shoot(name, path)` opens a page at both sizes, checks that
the phone page does not scroll sideways (`fits_phone`) and saves full-page screenshots under
test-artifacts/screenshots/ (the repository root; ignored by git); `screenshot(page, name, device)` saves one.
`demo_db` reads the server's database to pick the households a test looks at; `unlocated_household` clears one
household's location for a test and puts it back. When a test fails, the end of the server's log is attached to
its report.
"""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
START_TIMEOUT = 60.0
# the demo accounts (sync/demo.py)
ADMIN = ("admin", "admin-demo-pw")
DEMO_PASSWORD = "demo-password"
DEVICES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("demo_server")
    if report.failed and server is not None:
        report.sections.append(("demo server log (end)", server.log()[-4000:]))


@dataclasses.dataclass
class DemoServer:
    base_url: str
    data_dir: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(data_dir: Path) -> dict[str, str]:
    # nothing of the caller's ZOUFANG_* configuration (ZOUFANG_DATABASE_URL in particular) reaches the server
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOUFANG_")}
    env.update(ZOUFANG_DATA_DIR=str(data_dir), ZOUFANG_SECRET_KEY="browser-tests-secret", PYTHONUNBUFFERED="1",
               FLASK_APP="wsgi")
    return env


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory) -> DemoServer:
    folder = tmp_path_factory.mktemp("browser")
    data_dir = folder / "data"
    data_dir.mkdir()
    env = _env(data_dir)
    loaded = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "demo", "load"], cwd=REPO_ROOT,
                            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    if loaded.returncode != 0:
        pytest.fail(f"`flask --app wsgi demo load` failed ({loaded.returncode}):\n{loaded.stdout}\n{loaded.stderr}")
    server = _start(data_dir, folder / "server.log", env)
    yield server
    _stop(server.process)


def _start(data_dir: Path, log_path: Path, env: dict[str, str]) -> DemoServer:
    """`python wsgi.py` on a free port, once it answers."""
    for _attempt in range(3):  # the free port may be taken between choosing and binding it
        port = _free_port()
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "wsgi.py", "--host", "127.0.0.1", "--port", str(port)],
                                       cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        server = DemoServer(f"http://127.0.0.1:{port}", data_dir, process, log_path)
        if _wait_until_answering(server):
            return server
        _stop(process)
        if not re.search("Address already in use|Connection in use", server.log()):
            pytest.fail(f"the server did not start:\n{server.log()}")
    pytest.fail(f"the server did not start:\n{server.log()}")


@pytest.fixture(scope="session")
def first_start_server(tmp_path_factory) -> DemoServer:
    """A server started on an empty data dir with no admin (and no bundled forms): the first start a new user
    makes, whose log holds the one-time setup link."""
    folder = tmp_path_factory.mktemp("first-start")
    data_dir = folder / "data"
    data_dir.mkdir()
    server = _start(data_dir, folder / "server.log", _env(data_dir) | {"ZOUFANG_PUBLISH_BUNDLED_FORMS": "0"})
    yield server
    _stop(server.process)


def _wait_until_answering(server: DemoServer) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            requests.get(f"{server.base_url}/login", timeout=2).close()
            return True
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def demo_db(demo_server):
    """A read-only connection to the demo server's SQLite database, to pick the households a test looks at."""
    connection = sqlite3.connect(f"file:{demo_server.data_dir / 'zoufang.sqlite3'}?mode=ro", uri=True,
                                 check_same_thread=False)
    yield connection
    connection.close()


# clears a household's location and recomputes its record in the demo data dir, as a roster without the house's
# coordinates would leave it: the file then proposes the first accurate visit's GPS point
_UNLOCATE = """
import sys
from sqlalchemy import select
from server.app import create_app
from server.db import session_scope
from sync.models import Household
from sync.reconcile import reconcile_households

runtime = create_app().extensions["zoufang"]
with session_scope(runtime.sessions) as session:
    household = session.scalar(select(Household).where(Household.number == sys.argv[1]))
    household.latitude = household.longitude = None
    session.flush()
    reconcile_households(session, [household.number], runtime.queue.options())
"""


@pytest.fixture
def unlocated_household(demo_server, demo_db) -> str:
    """A household of village 1 (town1's, cadre001's) with a verified visit, its location cleared for the test
    so that its file proposes one; the demo's location is put back afterwards (through the API, as an admin)."""
    number, latitude, longitude = demo_db.execute(
        "SELECT h.number, h.latitude, h.longitude FROM households h JOIN areas a ON a.id = h.area_id "
        "JOIN visits v ON v.household_id = h.id WHERE a.code = '210504001001' AND v.verdict = 'verified' "
        "ORDER BY h.number DESC LIMIT 1").fetchone()
    env = {**_env(demo_server.data_dir), "ZOUFANG_WORKER": "off", "ZOUFANG_MIGRATE_ON_START": "0"}
    subprocess.run([sys.executable, "-c", _UNLOCATE, number], cwd=REPO_ROOT, env=env, check=True, timeout=60,
                   stdin=subprocess.DEVNULL, capture_output=True)
    yield number
    restored = requests.put(f"{demo_server.base_url}/api/v1/households/{number}/location", auth=ADMIN, timeout=30,
                            json={"latitude": latitude, "longitude": longitude})
    assert restored.status_code == 200, restored.text


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it with "
                    "`apt-get install -y chromium fonts-noto-cjk` (.ci/run does this).", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: `pip install -r requirements.txt`.", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _log_in(page, username: str, password: str) -> None:
    """Through the login form, as a person does."""
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()


@pytest.fixture(scope="session")
def login_states(browser, demo_server) -> Callable[[str], dict]:
    """The cookies of a logged-in session per user, made once by logging in through /login."""
    states: dict[str, dict] = {}

    def state(username: str) -> dict:
        if username not in states:
            context = browser.new_context(base_url=demo_server.base_url, locale="zh-CN")
            page = context.new_page()
            _log_in(page, username, ADMIN[1] if username == ADMIN[0] else DEMO_PASSWORD)
            assert not page.url.rstrip("/").endswith("/login"), f"{username} could not log in"
            states[username] = context.storage_state()
            context.close()
        return states[username]
    return state


@pytest.fixture
def new_context(browser, demo_server):
    """A factory of fresh browser contexts (phone or desktop); all closed after the test."""
    contexts = []

    def make(device: str = "desktop", storage_state: dict | None = None):
        context = browser.new_context(base_url=demo_server.base_url, locale="zh-CN", storage_state=storage_state,
                                      **DEVICES[device])
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def open_page(new_context, login_states):
    """open_page(user="admin", device="desktop", path=None): a page of a logged-in user, at `path` if given."""
    def open_(user: str = "admin", device: str = "desktop", path: str | None = None):
        page = new_context(device, login_states(user)).new_page()
        if path is not None:
            response = page.goto(path)
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        return page
    return open_


@pytest.fixture
def page(open_page):
    """The admin's desktop page, logged in."""
    return open_page("admin", "desktop")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


def _screenshot(page, name: str, device: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_safe(name)}-{device}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def log_in():
    """log_in(page, username, password): through the login form."""
    return _log_in


@pytest.fixture
def screenshot():
    """screenshot(page, name, device, full_page=True): a PNG at test-artifacts/screenshots/<name>-<device>.png
    (full_page=False for what is on the screen, e.g. an overlay)."""
    return _screenshot


@pytest.fixture
def accounts() -> dict[str, tuple[str, str]]:
    """The demo accounts the tests use (sync/demo.py makes them)."""
    return {"admin": ADMIN, **{name: (name, DEMO_PASSWORD) for name in
                               ("county", "town1", "cadre001", "cadre002")}}


def sideways_overflow(page) -> int:
    """How many CSS pixels the page is wider than the screen (a phone page should never scroll sideways; a wide
    table may scroll inside its own box). Waits for the load event first: after a click that navigates, the
    stylesheet may still be on its way, and without it the QR code's SVG is wider than a phone."""
    page.wait_for_load_state("load")
    # the phone's own width, not innerWidth: a mobile browser zooms out to show a page that is too wide
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]


@pytest.fixture
def fits_phone():
    """fits_phone(page): assert that the page does not scroll sideways."""
    def check(page) -> None:
        overflow = sideways_overflow(page)
        assert overflow <= 0, f"{page.url} is {overflow} px wider than the {page.viewport_size['width']} px screen"
    return check


@pytest.fixture
def shoot(open_page, fits_phone):
    """shoot(name, path, user="admin", ready=None): open `path` at phone and desktop size as `user`, wait for the
    `ready` selector if given, check that the phone page does not scroll sideways, save both screenshots; returns
    the two pages for more checks."""
    def shoot_(name: str, path: str, user: str = "admin", ready: str | None = None) -> dict:
        pages = {}
        for device in DEVICES:
            page = open_page(user, device, path)  # goto waits for the load event: styles, scripts, images
            if ready:
                page.locator(ready).first.wait_for(state="visible")
            _screenshot(page, name, device)
            if device == "phone":
                fits_phone(page)
            pages[device] = page
        return pages
    return shoot_
