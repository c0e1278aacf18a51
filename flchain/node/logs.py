"""Logging for the node daemon: text or one JSON object per line, library chatter kept out.

`configure_logging(level, fmt)` is what `flchain node run` calls. At INFO and above the HTTP
libraries (httpx, web3's providers, urllib3, requests) log only warnings, so a node's log shows
what it did, not every RPC request; at DEBUG they log as they like. The JSON format has the
fields `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`, and `error` (the
exception's type) when a record carries one — never a key or password: nothing logs them.
"""

from __future__ import annotations

import json
import logging
import sys
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
