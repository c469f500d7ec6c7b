"""Logging as the services do it: JSON lines on stdout (time, level, logger, service, message),
or plain lines (BACKUP_LOG_JSON=false)."""

from __future__ import annotations

import json
import logging
import sys

# Extra fields a log call may carry (logger.info("...", extra={"backup": name})).
FIELDS = ("backup", "bytes", "seconds", "objects", "linked", "error", "next_run")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": "backup",
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, *, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3's retry chatter stays out of the operator's log: a failure is reported once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
