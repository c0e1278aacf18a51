"""Logging for the node daemon: text or one JSON object per line, library chatter kept out.

`configure_logging(level, fmt)` is what `flchain node run` calls. At INFO and above the HTTP
libraries (httpx, web3's providers, urllib3, requests) log only warnings, so a node's log shows
what it did, not every RPC request; at DEBUG they log as they like. The JSON format has the
fields `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`, and `error` (the
exception's type) when a record carries one — never a key or password: nothing logs them.

`classify_failure(action, exc)` is how the v2 runner names a failed action (`Failure`: its
kind, error type and one line) before it logs it and goes on with the next action.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

#: Loggers that write a line per HTTP request at INFO (httpx) or DEBUG (the others).
CHATTY_LOGGERS = ("httpx", "httpcore", "web3", "urllib3", "requests")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, keys in a fixed order."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = record.exc_info[0].__name__
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: LogFormat = "text") -> logging.Handler:
    """Send the root logger's records to stderr at `level` in format `fmt`; returns the handler
    (replacing any this function installed before)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_flchain", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler._flchain = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.getLevelName(level) > logging.DEBUG
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    return handler


FailureKind = Literal["unavailable", "refused", "error", "library", "bug"]


@dataclass(frozen=True)
class Failure:
    """One action of a node's step that failed, classified (logged once, one line).

    `kind`: `unavailable` (the chain or the store cannot be reached: retried next step),
    `refused` (the contract refused; `line` names the custom error), `error` (a `FlchainError`
    flchain raised), `library` (the web3 / HTTP stack raised something flchain did not name),
    `bug` (anything else: logged with its traceback, which never reaches a CLI user)."""

    action: str
    kind: FailureKind
    error: str  # the exception's type
    line: str

    @property
    def level(self) -> int:
        return logging.WARNING if self.kind in ("unavailable", "refused") else logging.ERROR


def classify_failure(action: str, exc: BaseException) -> Failure:
    """The `Failure` of `action` for `exc`."""
    from flchain.errors import FlchainError, UnavailableError
    from flchain.ledger import ContractRevert
    from flchain.node.errors import describe_foreign_error, from_library

    kind: FailureKind
    if isinstance(exc, UnavailableError):
        kind = "unavailable"
    elif isinstance(exc, ContractRevert):
        kind = "refused"
    elif isinstance(exc, FlchainError):
        kind = "error"
    elif from_library(exc):
        kind = "library"
    else:
        kind = "bug"
    if isinstance(exc, FlchainError):
        line = f"{type(exc).__name__}: {exc.message}"
    else:
        line = describe_foreign_error(exc)
    return Failure(action, kind, type(exc).__name__, line)
