"""The import graph of `flchain/`, read from the source (every import statement, including the
ones inside functions; `if TYPE_CHECKING:` blocks excluded, they never run).

The one-way doors docs/ARCHITECTURE.md draws are checked here, so the drawing cannot drift:
nothing in the product imports the testing room or the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flchain"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from pkg import mod` imports the submodule pkg.mod when there is one
            found.update(f"{target}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """module -> the flchain modules it imports (only names that are modules of the tree)."""
    sources = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, frozenset[str]] = {}
    for module, path in sources.items():
        names = _imports(ast.parse(path.read_text()), module, path.name == "__init__.py")
        graph[module] = frozenset(n for n in names if n in sources and n != module)
    return graph


def executed_by(module: str) -> set[str]:
    """Every flchain module that importing `module` can run (parent packages included)."""
    graph = import_graph()
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        parts = m.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in graph and name not in seen:
                seen.add(name)
                todo.extend(graph[name])
    return seen


def importers_of(room: str) -> dict[str, set[str]]:
    """module outside `room` -> the modules of `room` it imports directly."""
    out: dict[str, set[str]] = {}
    for module, imported in import_graph().items():
        if module == room or module.startswith(room + "."):
            continue
        hits = {m for m in imported if m == room or m.startswith(room + ".")}
        if hits:
            out[module] = hits
    return out


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "flchain.node.runner" in graph["flchain.cli.node"] or any(
        m.startswith("flchain.node") for m in graph["flchain.cli.node"]
    )
    assert "flchain.replay" in executed_by("flchain.node.runner")


def test_nothing_in_the_product_imports_the_testing_room() -> None:
    assert importers_of("flchain.testing") == {}


def test_nothing_imports_the_cli() -> None:
    assert importers_of("flchain.cli") == {}


#: The modules a node daemon runs: they must never be able to load a deliberate fault.
DAEMON_PATH = ("flchain.node", "flchain.replay", "flchain.cli.node")
FAULTS = "flchain.simulate.adversaries"


def test_the_daemon_path_never_imports_the_faults() -> None:
    graph = import_graph()
    daemon = [m for m in graph if any(m == p or m.startswith(p + ".") for p in DAEMON_PATH)]
    assert daemon
    reached = {m: executed_by(m) for m in daemon}
    assert {m: FAULTS for m, closure in reached.items() if FAULTS in closure} == {}


def test_only_the_simulation_and_the_testing_room_import_the_faults() -> None:
    users = set(importers_of(FAULTS))
    assert users and all(m.startswith(("flchain.simulate", "flchain.testing")) for m in users), (
        users
    )


def test_a_daemon_process_has_no_fault_loaded() -> None:
    """The same rule at run time: import what `flchain node run` imports, look at sys.modules."""
    daemon = [
        m for m in import_graph() if any(m == p or m.startswith(p + ".") for p in DAEMON_PATH)
    ]
    code = (
        "import importlib, sys\n"
        + "".join(f"importlib.import_module({m!r})\n" for m in sorted(daemon))
        + f"print({FAULTS!r} in sys.modules, 'flchain.testing' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.split() == ["False", "False"]
