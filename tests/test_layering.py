"""Layering of the top-level packages (docs/architecture.md, "Layering rules").

Two checks over the source, plus an import of every module:

* the package graph has no cycle. Its nodes are the top-level packages ``robot_agent``,
  ``skills``, ``memory`` and ``sim``, with two parts of them counted apart because the rules
  treat them apart: robot_agent's base modules (errors, config, deps, fsutil), which every
  layer may use, and the ROS faces (``robot_agent.ros``, ``sim.ros``), which sit on top. Its
  edges are the module-level ``import`` / ``from`` statements (not those inside functions);
* the rules hold for every import statement, inside functions too (a lazy import is still a
  dependency): skills, memory and sim take from robot_agent only its base modules; skills
  takes nothing from memory or sim, memory nothing from sim; robot_agent/ros takes nothing
  from sim; nothing but the ROS faces imports the ROS faces.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("robot_agent", "skills", "memory", "sim")
#: robot_agent's base modules: what the lower layers may take from robot_agent
BASE = frozenset({"robot_agent", "robot_agent.errors", "robot_agent.config", "robot_agent.deps", "robot_agent.fsutil"})
ROS_FACES = ("robot_agent.ros", "sim.ros")


@dataclass(frozen=True)
class Import:
    """One import statement: ``source`` (a module of ours) imports ``target`` (any module)."""

    source: str
    target: str
    line: int
    module_level: bool

    def where(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _modules() -> dict[str, Path]:
    """Every module of the four packages, by dotted name, from the files on disk."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(modules: dict[str, Path]) -> list[Import]:
    """Every import statement of our modules; ``from pkg import mod`` counts as importing ``pkg.mod``."""
    found: list[Import] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        # Statements not inside a function or class body run when the module is imported.
        top: set[int] = set()
        todo: list[ast.AST] = list(tree.body)
        while todo:
            node = todo.pop()
            top.add(id(node))
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                todo.extend(ast.iter_child_nodes(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = _resolve(name, path.name == "__init__.py", node)
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
            else:
                continue
            for t in dict.fromkeys(targets):
                found.append(Import(name, t, node.lineno, id(node) in top))
    return found


def _ours(target: str) -> bool:
    return any(_within(target, p) for p in PACKAGES)


def layer(module: str) -> str:
    """The node of the package graph a module belongs to."""
    if module in BASE:
        return "robot_agent (base)"
    for face in ROS_FACES:
        if _within(module, face):
            return "ROS faces"
    return module.split(".")[0]


def _broken_rules(imports: list[Import]) -> list[str]:
    broken = []
    for imp in imports:
        src, dst = imp.source, imp.target
        if not _ours(dst):
            continue
        lower = (
            _within(src, "skills") or _within(src, "memory") or (_within(src, "sim") and not _within(src, "sim.ros"))
        )
        if lower and _within(dst, "robot_agent") and dst not in BASE:
            broken.append(
                f"{imp.where()}: skills, memory and sim take from robot_agent only "
                f"{', '.join(sorted(BASE - {'robot_agent'}))}"
            )
        if _within(src, "skills") and (_within(dst, "memory") or _within(dst, "sim")):
            broken.append(f"{imp.where()}: skills takes nothing from memory or sim")
        if _within(src, "memory") and _within(dst, "sim"):
            broken.append(f"{imp.where()}: memory takes nothing from sim")
        if _within(src, "robot_agent.ros") and _within(dst, "sim"):
            broken.append(f"{imp.where()}: robot_agent/ros takes nothing from sim")
        if layer(dst) == "ROS faces" and layer(src) != "ROS faces":
            broken.append(
                f"{imp.where()}: only the ROS faces import the ROS faces (the CLI names them in COMMAND_MODULES)"
            )
    return broken


def _cycles(imports: list[Import]) -> list[str]:
    """Each cycle of the package graph (module-level imports), with one import per edge."""
    edges: dict[tuple[str, str], Import] = {}
    for imp in imports:
        if imp.module_level and _ours(imp.target):
            a, b = layer(imp.source), layer(imp.target)
            if a != b:
                edges.setdefault((a, b), imp)
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    found: list[str] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(succ[path[-1]]):
            if nxt == path[0]:
                if frozenset(path) not in seen:
                    seen.add(frozenset(path))
                    ring = path + [path[0]]
                    found.append(
                        " -> ".join(ring) + "  (" + "; ".join(edges[(x, y)].where() for x, y in pairwise(ring)) + ")"
                    )
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its smallest node
                walk(path + [nxt])

    for start in sorted(succ):
        walk([start])
    return found


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return _imports(_modules())


def test_every_module_imports() -> None:
    """Every module imports; only the ROS faces may need rclpy."""
    ros = importlib.util.find_spec("rclpy") is not None
    names = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)  # noqa: TID251 - every module of ours, found on disk
        for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
            if info.name.endswith(".__main__") or (not ros and layer(info.name) == "ROS faces"):
                continue  # a __main__ runs its command when imported
            names.append(info.name)
            importlib.import_module(info.name)  # noqa: TID251 - every module of ours, found on disk
    expected = {m for m in _modules() if (ros or layer(m) != "ROS faces") and not m.endswith(".__main__")}
    assert set(names) >= expected - set(PACKAGES)


def test_the_rules_hold(imports: list[Import]) -> None:
    broken = _broken_rules(imports)
    assert not broken, "layering rules broken:\n" + "\n".join(broken)


def test_no_cycle_between_top_level_packages(imports: list[Import]) -> None:
    cycles = _cycles(imports)
    assert not cycles, "import cycles between top-level packages:\n" + "\n".join(cycles)


def test_the_checks_catch_what_they_are_for() -> None:
    """The checks themselves: a made-up graph with one cycle and two broken rules."""
    made_up = [
        Import("skills.motion", "robot_agent.agent", 3, True),
        Import("robot_agent.agent", "skills.motion", 5, True),
        Import("robot_agent.ros.ros_robot", "sim.world", 9, False),
        Import("skills.motion", "robot_agent.errors", 4, True),
        Import("sim.ros.sim_node", "robot_agent.ros.ros_robot", 7, True),
        Import("robot_agent.cli.run", "robot_agent.ros.up", 12, False),
        Import("robot_agent.agent", "numpy", 2, True),
    ]
    broken = _broken_rules(made_up)
    assert len(broken) == 3
    assert broken[0].startswith("skills.motion:3 imports robot_agent.agent")
    assert broken[1].startswith("robot_agent.ros.ros_robot:9 imports sim.world")
    assert broken[2].startswith("robot_agent.cli.run:12 imports robot_agent.ros.up")
    cycles = _cycles(made_up)
    assert len(cycles) == 1 and cycles[0].startswith("robot_agent -> skills -> robot_agent")
    # A lazy import is no edge of the module-level graph; the base modules are a node of their own.
    assert (
        _cycles(
            [
                Import("robot_agent.agent", "skills.motion", 5, True),
                Import("skills.motion", "robot_agent.agent", 30, False),
                Import("skills.motion", "robot_agent.errors", 4, True),
            ]
        )
        == []
    )
