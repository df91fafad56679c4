"""Do the unit tests pin the rules? Mutation testing (mutmut) of the rules' modules against tests/unit.

A program, not a test (CI does not run it): it copies the code and the tests to a work directory, runs mutmut
there with one child process, and prints per module the mutants, how many the tests killed, how many survived or
timed out, the score over all mutants and over the *logic* mutants, and every surviving logic mutant (file:line and
its diff). Message-text mutants are left out of the logic score: those that only change what a user reads — the
message_zh / message_en texts of flags, findings, reasons and errors, and docstrings. A mutant that changes a code,
a key, a value compared, a threshold or a details field is a logic mutant.

    pip install -r bench/requirements-mutation.txt
    python bench/mutation.py                          # every module of MODULES (bench/README.md: how long)
    python bench/mutation.py sync/idcard.py           # one module
    python bench/mutation.py sync/checks.py sync/photo_reuse.py   # the newer rules
    python bench/mutation.py --keep /tmp/mm           # keep the work directory; --report-only /tmp/mm reads it again

Exits 1 when mutmut fails, 2 when the logic score is under --target (default 90 %).
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the rules' modules (issue 14 item 13); the newer rules of sync/checks.py and sync/photo_reuse.py are named on
#: the command line when wanted
MODULES = ("sync/rules.py", "sync/evidence.py", "sync/fold.py", "sync/idcard.py", "sync/instance.py")
#: what the unit tests import and read
COPIED = ("sync", "server", "forms", "media", "tests", "pyproject.toml")
#: calls whose positional arguments at these places are texts for people to read
MESSAGE_ARGS = {"Flag": (1, 2), "_reason": (1, 2), "finding": (2, 3), "DomainError": (2, 3), "Text": (0, 1)}
MESSAGE_KEYS = {"message_zh", "message_en"}
#: local names that hold a message's text or a part of it
MESSAGE_NAMES = {"zh", "en", "title", "shown", "name_zh", "name_en", "zh_name", "en_name"}
KILLED = ("killed", "timeout")


def config(modules: list[str], tests: str) -> str:
    """mutmut 3's configuration for the work directory. Tests run in one process (-n 0: pyproject's addopts start
    two xdist workers, each mutant's run would start them again). The package-boundary test is left out: it starts
    fresh interpreters that import the server, which under mutmut's trampolines hang, and it checks imports, not
    rules. Mutants run in processes forked from a fork server, not from the process that ran the whole suite to
    collect which tests reach which function: forked from that one, every mutant's pytest ended in an internal
    error that mutmut counts as a kill (threads and state the suite leaves behind)."""
    listed = ", ".join(f'"{m}"' for m in modules)
    return textwrap.dedent(f"""
        [tool.mutmut]
        source_paths = ["sync"]
        only_mutate = [{listed}]
        also_copy = ["server", "forms", "media"]
        pytest_add_cli_args = ["-n", "0", "--ignore=tests/unit/test_package_boundaries.py"]
        pytest_add_cli_args_test_selection = ["{tests}"]
        use_git_change_detection = false
        process_isolation = "forkserver"
        """)


def prepare(workdir: Path, modules: list[str], tests: str) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "mutants")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=ignore)
        else:
            shutil.copy2(source, workdir / name)
    with open(workdir / "pyproject.toml", "a", encoding="utf-8") as out:
        out.write(config(modules, tests))


def run_mutmut(workdir: Path, max_children: int) -> tuple[int, float]:
    started = time.monotonic()
    with open(workdir / "mutmut.log", "w") as log:
        # mutmut's own entry point, not `python -m mutmut`: run as __main__, mutmut's module is executed twice
        code = subprocess.call([sys.executable, "-c", "from mutmut.__main__ import cli; cli()", "run",
                                "--max-children", str(max_children)], cwd=workdir, stdout=log,
                               stderr=subprocess.STDOUT)
    return code, time.monotonic() - started


# ---- classification -------------------------------------------------------------------------------------------

def changed_nodes(a: ast.AST, b: ast.AST) -> list[ast.AST]:
    """The nodes of `a` where `b` differs from it (the smallest enclosing node of each difference)."""
    if type(a) is not type(b):
        return [a]
    found: list[ast.AST] = []
    for field in a._fields:
        x, y = getattr(a, field, None), getattr(b, field, None)
        if isinstance(x, ast.AST) and isinstance(y, ast.AST):
            found += changed_nodes(x, y)
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, j in zip(x, y):
                if isinstance(i, ast.AST) and isinstance(j, ast.AST):
                    found += changed_nodes(i, j)
                elif i != j:
                    return [a]
        elif x != y:
            return [a]
    return found


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def is_message(node: ast.AST, parents: dict[ast.AST, ast.AST], function: ast.FunctionDef) -> bool:
    """Whether a node is (part of) a text for people: a docstring or a message's text."""
    first = function.body[0] if function.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str) \
            and (node is first or node is first.value):
        return True
    child, current = node, parents.get(node)
    while current is not None:
        if isinstance(current, ast.keyword) and current.arg in MESSAGE_KEYS:
            return True
        if isinstance(current, ast.Dict):
            for key, value in zip(current.keys, current.values):
                if value is child and isinstance(key, ast.Constant) and key.value in MESSAGE_KEYS:
                    return True
        if isinstance(current, ast.Call):
            places = MESSAGE_ARGS.get(_call_name(current) or "", ())
            if any(arg is child and i in places for i, arg in enumerate(current.args)):
                return True
        if isinstance(current, (ast.Assign, ast.AugAssign)) and current.value is child:
            targets = current.targets if isinstance(current, ast.Assign) else [current.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            return bool(names) and set(names) <= MESSAGE_NAMES
        if isinstance(current, ast.stmt):
            return False
        child, current = current, parents.get(current)
    return False


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item
    return found


def classify(name: str, path: Path, originals: dict[str, ast.FunctionDef]) -> tuple[str, int | None]:
    """("message" | "logic", the first changed line in the source file)."""
    from mutmut.mutation.diff_apply import read_functions_from_index, read_mutant_function, read_mutants_module
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key
    import libcst as cst

    function_name, class_name = orig_function_and_class_names_from_key(name)
    original = originals.get(f"{class_name}.{function_name}" if class_name else function_name)
    functions = read_functions_from_index(name, path)
    mutant_cst = functions[1] if functions else read_mutant_function(read_mutants_module(path), name)
    mutant = ast.parse(textwrap.dedent(cst.Module([mutant_cst]).code)).body[0]
    if original is None or not isinstance(mutant, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "logic", None
    changed = changed_nodes(ast.Module(body=[original.args, *original.body], type_ignores=[]),
                            ast.Module(body=[mutant.args, *mutant.body], type_ignores=[]))
    parents = {child: node for node in ast.walk(original) for child in ast.iter_child_nodes(node)}
    lines = [_line(n, parents) for n in changed]
    kind = "message" if changed and all(is_message(n, parents, original) for n in changed) else "logic"
    return kind, min(lines) if lines else original.lineno


def _line(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> int:
    """A node's line, or its nearest parent's (an operator has none)."""
    while not hasattr(node, "lineno") and node in parents:
        node = parents[node]
    return getattr(node, "lineno", 0)


# ---- report ----------------------------------------------------------------------------------------------------

def report(workdir: Path, modules: list[str]) -> tuple[float, list[str]]:
    """Prints the table and the surviving logic mutants; gives the overall logic score."""
    os.chdir(workdir)
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    rows, survivors = [], []
    totals: dict[str, Counter] = {"all": Counter(), "logic": Counter()}
    for module in modules:
        data = SourceFileMutationData(path=Path(module))
        data.load()
        originals = _functions(ast.parse((workdir / module).read_text(encoding="utf-8")))
        counts: dict[str, Counter] = {"all": Counter(), "logic": Counter()}
        for name, code in sorted(data.exit_code_by_key.items(), key=lambda kv: _number(kv[0])):
            status = status_by_exit_code[code]
            kind, line = classify(name, Path(module), originals)
            counts["all"][status] += 1
            if kind == "logic":
                counts["logic"][status] += 1
                if status not in KILLED and status != "not checked":
                    diff = [d for d in get_diff_for_mutant(name, path=Path(module)).splitlines()
                            if d[:1] in "+-" and not d.startswith(("+++", "---"))]
                    survivors.append(f"{module}:{line}  [{status}] {name}\n" +
                                     "\n".join("      " + d.strip() for d in diff))
        rows.append((module, counts))
        for kind in totals:
            totals[kind].update(counts[kind])
    rows.append(("overall", totals))
    print(f"{'module':<22}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'timeout':>8}{'score':>8}"
          f"{'logic':>7}{'l.killed':>9}{'l.score':>8}{'unrun':>7}")
    for module, counts in rows:
        every, logic = counts["all"], counts["logic"]
        print(f"{module:<22}{sum(every.values()):>8}{every['killed']:>8}{every['survived']:>9}"
              f"{every['no tests']:>9}{every['timeout']:>8}{_score(every):>8}{sum(logic.values()):>7}"
              f"{logic['killed'] + logic['timeout']:>9}{_score(logic):>8}{every['not checked']:>7}")
    other = {k: v for k, v in totals["all"].items()
             if k not in ("killed", "survived", "no tests", "timeout", "not checked")}
    if other:
        print("other outcomes:", dict(other))
    print(f"\nsurviving logic mutants: {len(survivors)}")
    for text in survivors:
        print(text)
    logic = totals["logic"]
    checked = sum(logic.values()) - logic["not checked"]
    return (logic["killed"] + logic["timeout"]) / max(checked, 1), survivors


def _number(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def _score(counts: Counter) -> str:
    total = sum(counts.values()) - counts["not checked"]
    return f"{100 * (counts['killed'] + counts['timeout']) / total:.1f}%" if total else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help="modules to mutate (default: MODULES)")
    parser.add_argument("--tests", default="tests/unit", help="the tests that must kill the mutants")
    parser.add_argument("--max-children", type=int, default=1, help="mutmut's child processes (default 1)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--report-only", type=Path, help="report the results kept in this directory, run nothing")
    parser.add_argument("--target", type=float, default=90.0, help="logic score to reach, percent")
    args = parser.parse_args()
    modules = [str(Path(m)) for m in args.modules]

    if args.report_only:
        score, _ = report(args.report_only.resolve(), modules)
    else:
        workdir = (args.keep or Path(tempfile.mkdtemp(prefix="zoufang-mutation-"))).resolve()
        try:
            if args.keep and workdir.exists():
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
            prepare(workdir, modules, args.tests)
            code, seconds = run_mutmut(workdir, args.max_children)
            if code != 0:
                print(f"mutmut failed (exit {code}); see {workdir / 'mutmut.log'}", file=sys.stderr)
                args.keep = args.keep or workdir
                return 1
            print(f"mutmut run: {seconds / 60:.1f} min with {args.max_children} child process(es), "
                  f"tests {args.tests}\n")
            score, _ = report(workdir, modules)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nlogic score {100 * score:.1f}% (target {args.target:g}%)")
    return 0 if 100 * score >= args.target else 2


if __name__ == "__main__":
    sys.exit(main())
