"""Domain packages stay free of Flask and of the server shell (STYLE.md: they may use server.db, .errors, .config;
server.db is a package, and its modules are the database layer too)."""
import ast
import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_PACKAGES = ["forms", "media", "sync"]
ALLOWED_FROM_SERVER = {"server.db", "server.errors", "server.config"}
SHARED_SERVER_MODULES = ["server.db", "server.db.prepared", "server.errors", "server.config"]

# Run in a fresh interpreter with the allowed server modules (JSON) and the modules to import: imports them in
# turn and prints, per module, the Flask and web-shell modules its import added to sys.modules. Modules only
# ever add to sys.modules, so one interpreter per package tells which module first pulled a forbidden one in.
LOADED_SHELL_MODULES = """
import importlib, json, sys

allowed = set(json.loads(sys.argv[1]))

def shell(name):
    top = name.split(".")[0]
    if top in ("flask", "werkzeug") or top.startswith("flask_"):
        return True
    return top == "server" and name != "server" and name not in allowed and not name.startswith("server.db.")

seen, added = set(), {}
for module in sys.argv[2:]:
    importlib.import_module(module)
    found = {name for name in sys.modules if shell(name)}
    added[module] = sorted(found - seen)
    seen |= found
print(json.dumps(added))
"""


def imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def module_names(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_package_imports_no_flask_and_only_shared_server_modules(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for name in imports(path):
            assert not name.startswith(("flask", "werkzeug")), f"{path} imports {name}"
            if name == "server" or (name.startswith("server.") and not name.startswith("server.db.")):
                assert name in ALLOWED_FROM_SERVER, f"{path} imports {name}"


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_package_raises_domain_errors_and_leaves_http_statuses_to_the_shell(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "server.errors":
                assert "Problem" not in {alias.name for alias in node.names}, f"{path} imports Problem"


@pytest.mark.parametrize("modules", [module_names(package) for package in DOMAIN_PACKAGES] + [SHARED_SERVER_MODULES],
                         ids=DOMAIN_PACKAGES + ["shared-server-modules"])
def test_importing_a_domain_module_loads_neither_flask_nor_the_web_shell(modules):
    # the import lines above can look clean while a module they name (a package's __init__, say) loads Flask
    done = subprocess.run([sys.executable, "-c", LOADED_SHELL_MODULES, json.dumps(sorted(ALLOWED_FROM_SERVER)), *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    pulled_in = {module: names for module, names in json.loads(done.stdout).items() if names}
    assert pulled_in == {}


SHELL_PACKAGES = {"server.api": "server.pages", "server.pages": "server.api"}


@pytest.mark.parametrize("package", sorted(SHELL_PACKAGES))
def test_api_and_pages_do_not_import_each_other(package):
    # what both need (bounds, China time, the read models) lives in server/params.py and server/readmodels.py
    other = SHELL_PACKAGES[package]
    files = sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
    assert files
    for path in files:
        for name in imports(path):
            assert name != other and not name.startswith(other + "."), f"{path} imports {name}"


def test_every_api_and_page_module_imports_on_its_own_in_a_fresh_interpreter():
    # an import cycle between modules only shows when one of them is imported first: one interpreter per module,
    # as many at a time as there are cores (thirty at once on two busy cores took longer than any timeout)
    modules = module_names("server/api") + module_names("server/pages")

    def first_error(module: str) -> list[str] | None:
        run = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, text=True, capture_output=True,
                             timeout=120)
        return run.stderr.strip().splitlines()[-1:] if run.returncode else None
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        errors = dict(zip(modules, pool.map(first_error, modules)))
    assert {module: error for module, error in errors.items() if error is not None} == {}
