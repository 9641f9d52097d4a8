"""The package layout the project promises: documented packages, simulators without import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import k2p

ROOT = Path(k2p.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``k2p`` module this file imports (also under ``TYPE_CHECKING`` and inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("k2p"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _module_path(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("k2p"))
    return found


def _module_path(name: str) -> Path | None:
    base = ROOT.parent / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_package_says_what_it_owns() -> None:
    undocumented = [str(init.relative_to(ROOT.parent)) for init in ROOT.rglob("__init__.py")
                    if "__pycache__" not in init.parts and not ast.get_docstring(ast.parse(init.read_text()))]
    assert undocumented == []


def test_simulator_modules_do_not_import_each_other_in_a_circle() -> None:
    graph = {_name(path): {name for name in _imports(path) if name.startswith("k2p.testing")}
             for path in (ROOT / "testing").rglob("*.py") if "__pycache__" not in path.parts}
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str], done: set[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in stack:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in done:
                done.add(target)
                visit(target, stack + [target], done)

    for module in sorted(graph):
        visit(module, [module], set())
    assert cycles == []
    assert {"k2p.testing.kaiten.model", "k2p.testing.planka.store"} <= set(graph)
