"""pyproject.toml tells the truth: every core dependency is imported by the packages, and every
third-party module the packages import is declared (as a core dependency or in an extra)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fulfil", "solvers", "geo")

#: Distribution name → the top-level modules it provides, where they differ from its name.
#: ``pydantic_core`` is pydantic's own core, pinned by pydantic; pydantic documents importing
#: ``PydanticCustomError`` from it.
IMPORT_NAMES: dict[str, set[str]] = {
    "pyyaml": {"yaml"},
    "pyvroom": {"vroom"},
    "pydantic": {"pydantic", "pydantic_core"},
    "pytest-benchmark": {"pytest_benchmark"},
}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _dist(requirement: str) -> str:
    """``'ortools>=9.10,<9.16'`` → ``'ortools'`` (normalised: lower case, ``-`` for ``_``/``.``)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert m, requirement
    return re.sub(r"[-_.]+", "-", m.group(1)).lower()


def _modules(dist: str) -> set[str]:
    return IMPORT_NAMES.get(dist, {dist.replace("-", "_")})


def _imports() -> dict[str, set[str]]:
    """Top-level module → files of the packages importing it (absolute imports, TYPE_CHECKING ones too)."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _third_party(imports: dict[str, set[str]]) -> dict[str, set[str]]:
    local = set(PACKAGES)
    return {m: files for m, files in imports.items() if m not in sys.stdlib_module_names and m not in local}


def test_every_core_dependency_is_imported():
    """Each entry of ``[project] dependencies`` is imported by some module under fulfil/, solvers/ or geo/."""
    imported = set(_imports())
    unused = [req for req in _project()["dependencies"] if not _modules(_dist(req)) & imported]
    assert not unused, f"declared but imported nowhere in {', '.join(PACKAGES)}: {unused}"


def test_every_third_party_import_is_declared():
    """Every third-party top-level module the packages import comes from a declared dependency (core or extra)."""
    project = _project()
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    declared = set().union(*(_modules(_dist(req)) for req in requirements))
    missing = {m: sorted(files) for m, files in _third_party(_imports()).items() if m not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_no_dependency_is_listed_twice():
    """A distribution is either a core dependency or in extras, and in at most one extra."""
    project = _project()
    seen: dict[str, str] = {}
    groups = {"core": project["dependencies"], **project.get("optional-dependencies", {})}
    for group, reqs in groups.items():
        for req in reqs:
            dist = _dist(req)
            assert dist not in seen, f"{dist} listed in {seen[dist]} and in {group}"
            seen[dist] = group


def test_ortools_range_keeps_pywrapcp():
    """The routing code needs ``ortools.constraint_solver.pywrapcp``: the declared OR-Tools range has an upper
    bound (newer releases drop it), the installed version lies inside the range, and pywrapcp imports."""
    req = next(r for r in _project()["dependencies"] if _dist(r) == "ortools")
    bounds = dict(re.findall(r"(>=|<)\s*([0-9][0-9.]*)", req))
    assert set(bounds) == {">=", "<"}, f"pin OR-Tools to a range that keeps pywrapcp: {req}"

    def version(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", text)[:3])

    installed = version(importlib.metadata.version("ortools"))
    assert version(bounds[">="]) <= installed < version(bounds["<"]), (installed, req)
    from ortools.constraint_solver import pywrapcp  # noqa: F401
