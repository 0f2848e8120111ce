"""The optional JSON log format (LOG_FORMAT=json): one JSON object per line,
carrying the running request's id, user, device and app type, and for each
request one line `odoo_webhook_server.requests` with its status, latency and
the number of events served. A session id never appears in full: the
request's own session id is replaced by a short hash wherever it occurs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from . import context

__all__ = ["REQUEST_LOGGER", "JsonFormatter", "configure_logging", "uvicorn_log_config"]

REQUEST_LOGGER = "odoo_webhook_server.requests"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        info = context.current() or {}
        data.update({k: v for k, v in info.items() if not k.startswith("_") and v is not None})
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update({k: v for k, v in fields.items() if v is not None})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        text = json.dumps(data, default=str, ensure_ascii=False)
        sid = info.get("_sid")
        if sid and sid in text:
            text = text.replace(sid, context.mask_session(sid))
        return text


def configure_logging(log_format: str) -> None:
    """In JSON mode, every handler of the root logger and uvicorn's loggers
    writes JSON (one is added to the root logger if it has none, as in a
    uvicorn worker process), and the request lines (INFO) are let through."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonFormatter())
    logging.getLogger("odoo_webhook_server").setLevel(logging.INFO)


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's logging configuration for `serve` in JSON mode (the
    supervising process of several workers included); None: uvicorn's own."""
    if log_format != "json":
        return None
    handler = {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
