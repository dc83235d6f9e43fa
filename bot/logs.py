"""Logging set-up: readable lines by default, JSON lines (one object per line) when
``VILLAGEBOT_LOG_FORMAT=json`` or ``--log-json`` asks, for a log collector on a multi-host deployment."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO), level, logger, message, host, pid, exception, extras."""

    host = socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "host": self.host,
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        return json.dumps(entry, ensure_ascii=False)


def configure(*, verbose: bool = False, json_lines: bool | None = None) -> None:
    """Set up the root logger once for the process."""
    if json_lines is None:
        json_lines = os.environ.get("VILLAGEBOT_LOG_FORMAT", "").lower() == "json"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's own lines go the same way
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
