"""structlog, configured once per process: JSON lines, or a readable console on a TTY.

Records of the standard ``logging`` module (aiokafka, uvicorn, httpx, ...) go
through the same processors as the project's own events, via
``structlog.stdlib.ProcessorFormatter``, so with JSON on every line is JSON.
Libraries log at WARNING and above unless the level is DEBUG. Known-benign
start-up noise (aiokafka reporting the group coordinator as not available
while a fresh broker creates ``__consumer_offsets``) is demoted to INFO.
"""

from __future__ import annotations

import json as json_module
import logging
import sys
import time
from typing import Any

import orjson
import structlog

BENIGN_STARTUP_S = 120.0
"""How long after start a missing group coordinator is expected, not an error."""

_BENIGN_STARTUP_MARKERS = ("CoordinatorNotAvailable",)
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
"""Loggers uvicorn's default dictConfig detaches from the root; ours run with
``log_config=None``, and these are re-attached in case one was built before."""


class StartupNoiseFilter(logging.Filter):
    """Demote aiokafka's "coordinator not available" to INFO during start-up.

    A fresh broker answers coordinator lookups with this error until it has
    created ``__consumer_offsets``; aiokafka logs it at ERROR and retries. After
    ``window_s`` the record keeps its level: by then it is a real problem.
    Records demoted below ``min_level`` are dropped.
    """

    def __init__(self, min_level: int, window_s: float = BENIGN_STARTUP_S) -> None:
        super().__init__()
        self._min_level = min_level
        self._until = time.monotonic() + window_s

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, demoted if it is start-up noise; False drops it."""
        if (
            record.levelno > logging.INFO
            and record.name.startswith("aiokafka")
            and time.monotonic() < self._until
            and any(marker in record.getMessage() for marker in _BENIGN_STARTUP_MARKERS)
        ):
            record.levelno = logging.INFO
            record.levelname = logging.getLevelName(logging.INFO)
        return record.levelno >= self._min_level


def _add_logger_name(
    logger: object, method_name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The stdlib logger's name as ``logger`` (structlog's own events have none)."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        event_dict["logger"] = record.name
    return event_dict


def _dumps(value: Any, **kw: Any) -> str:
    """JSON through orjson (several times faster than json.dumps); json.dumps for what
    orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(
            value, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        return json_module.dumps(value, **kw)


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger for this process."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if use_json:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[_add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    library_level = max(numeric, logging.WARNING) if numeric > logging.DEBUG else numeric
    handler.addFilter(StartupNoiseFilter(library_level))
    logging.basicConfig(level=library_level, handlers=[handler], force=True)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger named after its module."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
