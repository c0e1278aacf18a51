"""The import graph of `flchain/`, read from the source (every import statement, including the
ones inside functions; `if TYPE_CHECKING:` blocks excluded, they never run).

The one-way doors docs/ARCHITECTURE.md draws are checked here, so the drawing cannot drift:
nothing in the product imports the testing room or the CLI.
"""

from __future__ import annotations

import ast
import re
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


# --- the diagram in docs/ARCHITECTURE.md ----------------------------------------------------

DOC = ROOT / "docs" / "ARCHITECTURE.md"


def _blocks(heading: str) -> str:
    """The first ```text block under `## heading`."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1]
    return section.split("```text\n", 1)[1].split("```", 1)[0]


def documented_levels() -> dict[str, int]:
    """room -> its line in the diagram (0 = top): the rooms before a line's description."""
    levels: dict[str, int] = {}
    for level, line in enumerate(_blocks("Rooms and doors").splitlines()):
        rooms = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for room in rooms.split("·"):
            assert room.strip() not in levels, f"{room} drawn twice"
            levels[room.strip()] = level
    return levels


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_room_is_drawn_and_every_drawn_room_exists() -> None:
    rooms = {room_of(m) for m in import_graph()}
    assert set(documented_levels()) == rooms


def test_every_import_points_down_the_diagram() -> None:
    levels = documented_levels()
    upward = sorted(
        f"{m} -> {i}"
        for m, imported in import_graph().items()
        for i in imported
        if room_of(i) != room_of(m) and levels[room_of(i)] <= levels[room_of(m)]
    )
    assert upward == []


def test_the_merge_imports_no_io_module() -> None:
    text = DOC.read_text(encoding="utf-8")
    sentence = text.split("`flchain.merge` imports only", 1)[1].split("It never", 1)[0]
    allowed = set(re.findall(r"`(flchain\.[\w.]+)`", sentence))
    assert "flchain.protocol" in allowed and "flchain.ledger" not in allowed
    outside = {
        i
        for m, imported in import_graph().items()
        if m.startswith("flchain.merge")
        for i in imported
        if not i.startswith("flchain.merge")
    }
    assert {
        i for i in outside if not any(i == a or i.startswith(a + ".") for a in allowed)
    } == set()


def documented_tree() -> dict[str, set[str]]:
    """package (or "" for top-level files) -> the module names the tree block lists for it."""
    entries: dict[str, str] = {}
    current = None
    for line in _blocks("Inside the rooms").splitlines()[1:]:
        head = re.match(r"^  (\w+)/\s+(.*)$", line)
        if head:
            current = head[1]
            entries[current] = head[2]
        elif re.match(r"^  \w+\.py", line):
            current = None
            entries[""] = entries.get("", "") + ", " + line.strip()
        elif current is not None:
            entries[current] += " " + line.strip()
    out: dict[str, set[str]] = {}
    for package, text in entries.items():
        while "(" in text:  # descriptions in brackets name no module
            text = re.sub(r"\([^()]*\)", "", text)
        if package == "":
            out[""] = set(re.findall(r"(\w+)\.py", text))
        else:
            out[package] = {item.split()[0] for item in text.split(",") if item.strip()}
    return out


def test_the_tree_in_the_doc_is_the_tree_on_disk() -> None:
    on_disk: dict[str, set[str]] = {"": set()}
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            on_disk[path.name] = {p.stem for p in path.glob("*.py")} - {"__init__"}
        elif path.suffix == ".py" and path.stem != "__init__":
            on_disk[""].add(path.stem)
    documented = {p: m - {"__init__"} for p, m in documented_tree().items()}
    assert documented == on_disk
