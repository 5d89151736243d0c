"""The checker is independent of the planner: a walk over its transitive imports.

Every module of the project that ``fulfil.checker`` can import — at module level or inside a
function, directly or through anything it imports, package ``__init__`` files included — is
found with the standard library's :mod:`ast` (``fulfil.*``, ``solvers.*`` and ``geo.*``
resolved to their files; third-party packages are leaves).  None of them may be the planning
pipeline, a stage, the plan assembly, the network compilation, the feasibility rules or the
planner's cold-chain annotation: a bug there must not be able to hide itself in the checker.
Imports under ``if TYPE_CHECKING:`` never run and are not followed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fulfil", "solvers", "geo")
BANNED = ("fulfil.pipeline", "fulfil.stages", "fulfil.plan", "fulfil.network", "fulfil.feasibility",
          "fulfil.coldchain")


def module_file(name: str) -> Path | None:
    """The file of a project module, or None (third-party, or no such module)."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST):
    """Every node below ``node``, skipping the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imported_names(name: str, path: Path) -> set[str]:
    """Modules ``name`` (at ``path``) imports anywhere in its code: candidates, possibly not modules."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from pkg import submodule`
    return out


def with_parents(name: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def reachable(start: str) -> dict[str, str | None]:
    """Every project module importable from ``start`` → the module that imports it (None for ``start``)."""
    seen: dict[str, str | None] = {}
    todo: list[tuple[str, str | None]] = [(m, None) for m in with_parents(start)]
    while todo:
        name, parent = todo.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            continue
        seen[name] = parent
        for cand in sorted(imported_names(name, path)):
            for m in with_parents(cand):
                if m not in seen:
                    todo.append((m, name))
    return seen


def chain(seen: dict[str, str | None], name: str) -> str:
    out = [name]
    while seen.get(out[-1]) is not None:
        out.append(seen[out[-1]])
    return " ← ".join(out)


def banned(name: str) -> bool:
    return any(name == b or name.startswith(b + ".") for b in BANNED)


def test_checker_reaches_no_planner_module():
    """No module of the pipeline, the stages, the plan assembly, the network, the feasibility rules or
    fulfil.coldchain is reachable from fulfil.checker, however indirectly."""
    seen = reachable("fulfil.checker")
    bad = sorted(m for m in seen if banned(m))
    assert not bad, "\n".join(chain(seen, m) for m in bad)


def test_walk_follows_function_level_and_relative_imports():
    """The walk is not vacuous: it finds what the checker imports inside functions (the travel model, its
    distance matrices, the thermal physics through a relative import) and the plan model."""
    seen = reachable("fulfil.checker")
    for m in ("fulfil.plan_model", "fulfil.travel", "geo.matrices", "fulfil.scenario.digest", "solvers.thermal.route",
              "solvers.thermal.model", "solvers.thermal.quality", "fulfil.errors", "fulfil"):
        assert m in seen, m


@pytest.mark.parametrize("module", ["fulfil.pipeline", "fulfil.stages.assemble"])
def test_walk_sees_the_planner_from_the_planner(module):
    """Started from the planner, the same walk does reach another banned module (the network
    compilation, which the checker must never reach), not only the start's own packages."""
    assert module_file(module) is not None, module
    seen = reachable(module)
    assert "fulfil.network" in seen, sorted(seen)


def test_banned_names_are_exact():
    """fulfil.plan is banned, fulfil.plan_model (the contract the checker reads) is not."""
    assert banned("fulfil.plan") and banned("fulfil.stages.route_trunk") and banned("fulfil.coldchain")
    assert not banned("fulfil.plan_model") and not banned("fulfil.planner_notes")
