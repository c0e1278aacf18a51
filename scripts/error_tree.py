"""Print the error tree of flchain/errors.py's docstring from the classes that exist.

Run it after adding an error class and paste its output into the docstring (tests/test_errors.py
fails until the drawing matches the classes). Children are ordered by (module, name), with the
two mix-in kinds, ConfigError and UnavailableError, first under FlchainError.
"""

from __future__ import annotations

import importlib
import pkgutil

import flchain
from flchain.errors import ConfigError, FlchainError, UnavailableError

KINDS = (ConfigError, UnavailableError)
WIDTH = 72


def load_everything() -> None:
    for info in pkgutil.walk_packages(flchain.__path__, "flchain."):
        importlib.import_module(info.name)


def first_base(cls: type[FlchainError]) -> type[FlchainError] | None:
    bases = [b for b in cls.__bases__ if issubclass(b, FlchainError)]
    return bases[0] if bases else None


def label(cls: type[FlchainError]) -> str:
    also = [b.__name__ for b in cls.__bases__ if issubclass(b, FlchainError)][1:]
    text = cls.__name__ + (f" (also {', '.join(also)})" if also else "")
    return text + (f" [exit {cls.exit_code}]" if cls.exit_code != 1 else "")


def children(cls: type[FlchainError], every: list[type[FlchainError]]) -> list[type[FlchainError]]:
    kids = [c for c in every if first_base(c) is cls]
    return sorted(kids, key=lambda c: (c not in KINDS, c.__module__, c.__name__))


def draw() -> list[str]:
    load_everything()
    every: list[type[FlchainError]] = []
    todo: list[type[FlchainError]] = [FlchainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in every:
                every.append(sub)
                todo.append(sub)
    lines = [f"{'FlchainError':<{WIDTH}}flchain.errors"]

    def walk(cls: type[FlchainError], prefix: str) -> None:
        kids = children(cls, every)
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            head = prefix + ("└── " if last else "├── ")
            lines.append(f"{head + label(kid):<{WIDTH}}{kid.__module__}")
            walk(kid, prefix + ("    " if last else "│   "))

    walk(FlchainError, "")
    return lines


if __name__ == "__main__":
    for line in draw():
        print("    " + line)
