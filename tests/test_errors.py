"""The error tree drawn in flchain/errors.py lists every FlchainError subclass, where it is
defined, under which bases and with which exit code, so the drawing cannot rot."""

from __future__ import annotations

import importlib
import pkgutil
import re

import flchain
import flchain.errors
from flchain.errors import FlchainError

LINE = re.compile(
    r"^(?P<indent>[ │├└─]*)(?P<name>[A-Za-z]+)(?: \(also (?P<also>[^)]*)\))?"
    r"(?: \[exit (?P<exit>\d+)\])?\s+(?P<module>flchain[.\w]*)$"
)


def every_subclass() -> set[type[FlchainError]]:
    for info in pkgutil.walk_packages(flchain.__path__, "flchain."):
        importlib.import_module(info.name)
    found: set[type[FlchainError]] = set()
    todo = [FlchainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


Drawn = tuple[str, str | None, tuple[str, ...], int]


def drawn_tree() -> dict[str, Drawn]:
    """name -> (module, drawn parent, names after "also", exit code) from the docstring."""
    doc = flchain.errors.__doc__ or ""
    drawn: dict[str, Drawn] = {}
    parents: list[tuple[int, str]] = []  # (column of the name, name), the open branch
    for raw in doc.splitlines():
        match = LINE.match(raw.strip("\n").removeprefix("    "))
        if not match or not match["module"].startswith("flchain"):
            continue
        column = len(match["indent"])
        while parents and parents[-1][0] >= column:
            parents.pop()
        also = tuple(a.strip() for a in (match["also"] or "").split(",") if a.strip())
        assert match["name"] not in drawn, f"{match['name']} drawn twice"
        parent = parents[-1][1] if parents else None
        drawn[match["name"]] = (match["module"], parent, also, int(match["exit"] or 1))
        parents.append((column, match["name"]))
    return drawn


def test_the_docstring_draws_every_error_under_its_base() -> None:
    drawn = drawn_tree()
    assert drawn["FlchainError"] == ("flchain.errors", None, (), 1)
    expected = {}
    for cls in every_subclass():
        bases = [b.__name__ for b in cls.__bases__ if issubclass(b, FlchainError)]
        expected[cls.__name__] = (cls.__module__, bases[0], tuple(bases[1:]), cls.exit_code)
    assert len(expected) == len(every_subclass()), "two error classes share a name"
    assert {k: v for k, v in drawn.items() if k != "FlchainError"} == expected
