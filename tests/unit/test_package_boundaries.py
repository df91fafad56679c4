"""Domain packages stay free of Flask and of the server shell (STYLE.md: they may use server.db, .errors, .config;
server.db is a package, and its modules are the database layer too)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_FROM_SERVER = {"server.db", "server.errors", "server.config"}


def imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("package", ["forms", "media", "sync"])
def test_domain_package_imports_no_flask_and_only_shared_server_modules(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for name in imports(path):
            assert not name.startswith(("flask", "werkzeug")), f"{path} imports {name}"
            if name == "server" or (name.startswith("server.") and not name.startswith("server.db.")):
                assert name in ALLOWED_FROM_SERVER, f"{path} imports {name}"
