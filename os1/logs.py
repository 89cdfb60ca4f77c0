"""Logging setup: one dictConfig at start-up, plain text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from datetime import UTC, datetime

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


_SECRET = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """Tokens passed in URLs (``?token=`` for WebSockets) never reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg, record.args = _SECRET.sub(r"\1[redacted]", message), None
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(level: str, *, as_json: bool = False) -> None:
    formatter = (
        {"()": JsonFormatter}
        if as_json
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"main": formatter},
            "filters": {"redact": {"()": RedactTokens}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "main",
                    "filters": ["redact"],
                    "stream": "ext://sys.stderr",
                }
            },
            # Other libraries' warnings (asyncio's, the A2A SDK's) in the same format, rather
            # than Python's plain last-resort lines.
            "root": {"handlers": ["stderr"], "level": "WARNING"},
            "loggers": {
                "os1": {"handlers": ["stderr"], "level": level, "propagate": False},
                "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                "uvicorn.error": {"level": "INFO"},
                "uvicorn.access": {"handlers": [], "propagate": False},
            },
        }
    )
