"""The shape of the code: no import cycles, no private names across modules, layers respected.

Imports are read with :mod:`ast` from the source of ``fulfil/``, ``solvers/`` and ``geo/`` —
module-level and function-level alike — and resolved to the project's modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fulfil", "solvers", "geo")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (a module, or the package holding a name)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(mod: str) -> list[tuple[str, list[str], int]]:
    """``(imported module, names taken from it, line)`` for every import in ``mod``."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            # "from pkg import module" imports that module
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            out += [(s, [], node.lineno) for s in subs]
            rest = [n for n in names if f"{target}.{n}" not in MODULES]
            if rest or not subs:
                out.append((target, rest, node.lineno))
    return out


def _type_checking_lines(mod: str) -> set[int]:
    """Lines of imports under ``if TYPE_CHECKING:`` (never executed)."""
    tree = ast.parse(MODULES[mod].read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for sub in node.body:
                for n in ast.walk(sub):
                    if isinstance(n, (ast.Import, ast.ImportFrom)):
                        lines.add(n.lineno)
    return lines


def graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod in MODULES:
        skip = _type_checking_lines(mod)
        for target, _, line in _imports(mod):
            r = _resolve(target)
            if r is not None and r != mod and line not in skip:
                g[mod].add(r)
    return g


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = _cycles(graph())
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_names():
    bad = []
    for mod in MODULES:
        for target, names, line in _imports(mod):
            if _resolve(target) is None or _resolve(target) == mod:
                continue
            bad += [f"{mod}:{line} imports {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


def test_solvers_and_geo_never_import_fulfil():
    bad = [f"{m} imports {t}" for m in MODULES if m.startswith(("solvers", "geo"))
           for t, _, _ in _imports(m) if t == "fulfil" or t.startswith("fulfil.")]
    assert not bad, "\n".join(bad)


def test_stages_take_the_compiled_night_not_the_scenario():
    """No stage module, and not the pipeline, reads the pydantic Scenario."""
    bad = []
    for mod, path in MODULES.items():
        if mod.startswith("fulfil.stages") or mod == "fulfil.pipeline":
            src = path.read_text(encoding="utf-8")
            if "scenario.policies" in src or ".vehicle_types[" in src or "s.policies" in src:
                bad.append(mod)
    assert not bad, bad


def test_only_the_executor_creates_processes():
    """Process pools and forks live behind fulfil.executor only."""
    words = ("ProcessPoolExecutor", "multiprocessing", "os.fork", "get_context(")
    bad = [mod for mod, path in MODULES.items() if mod != "fulfil.executor"
           and any(w in path.read_text(encoding="utf-8") for w in words)]
    assert not bad, bad
