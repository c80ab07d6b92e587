"""The import direction the tree promises (webapp/__init__.py): every module imports only its
own layer or those below it, there is no import circle, and the parser and the models load
without Flask or Celery. Read from the code's own import statements, nested ones included."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("db", "webapp", "workers")

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS: dict[str, int] = {
    "db": 0,
    "webapp.config": 0,
    "webapp.phones": 0,
    "webapp.ops.counters": 1,
    "webapp.understanding": 1,
    "webapp.outbound": 2,
    "webapp.crm": 2,
    "webapp.execution": 3,
    "webapp.conversation": 4,
    "webapp.database": 5,
    "webapp.channels": 5,
    "webapp.ops": 5,
    "webapp.web": 5,
    # entry points: they wire everything together
    "webapp.app": 6,
    "webapp.cli": 6,
    "workers": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports (a `from x import y` of a submodule counts as x.y)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known
                     else node.module for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def _layer(module: str) -> int:
    best = max((prefix for prefix in LAYERS
                if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


MODULES = _modules()
GRAPH = {name: _imports(path, set(MODULES)) - {name} for name, path in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        if module not in PACKAGES:
            _layer(module)  # raises ValueError (max of nothing) for a module outside the table


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in GRAPH.items() if module not in PACKAGES
        for target in targets if target not in PACKAGES and _layer(target) > _layer(module)
    ]
    assert not upward, "\n".join(sorted(upward))


def test_there_is_no_import_circle() -> None:
    # Package __init__ modules import nothing of the project, so module-level edges suffice.
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not circles, "\n".join(circles)


def test_package_inits_import_nothing_of_the_project() -> None:
    for package in ("webapp", "workers", "db"):
        assert not GRAPH[package], f"{package}/__init__.py imports {GRAPH[package]}"


@pytest.mark.parametrize("modules", ["db.models, webapp.understanding.parser",
                                     "webapp.understanding.llm_parser",
                                     "webapp.understanding.parser_choice"])
def test_the_parser_and_models_load_without_flask_or_celery(modules: str) -> None:
    probe = (f"import sys, {modules}; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'celery'}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"
