"""Log lines as an operator reads them: one format for the project's and the libraries' records."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from processor import metrics
from processor.http.ops import OpsServer
from processor.logs import StartupNoiseFilter, configure_logging

COORDINATOR_MESSAGE = "Group Coordinator Request failed: %s"
COORDINATOR_ERROR = "[Error 15] CoordinatorNotAvailableError"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class TestLibraryRecords:
    def test_library_error_is_a_json_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        """With JSON on, an aiokafka error is a JSON object with level, logger and event."""
        configure_logging("INFO", json=True)
        logging.getLogger("aiokafka.conn").error("Unable to connect to node %s", 1)
        [line] = _json_lines(capsys.readouterr().err)
        assert line["level"] == "error"
        assert line["logger"] == "aiokafka.conn"
        assert line["event"] == "Unable to connect to node 1"
        assert "timestamp" in line

    def test_library_exception_keeps_its_traceback(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A library's logged exception stays one JSON line with the traceback inside it."""
        configure_logging("INFO", json=True)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("somelib").exception("failed")
        [line] = _json_lines(capsys.readouterr().err)
        assert "RuntimeError: boom" in str(line["exception"])

    def test_project_and_library_lines_share_one_format(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """structlog events and stdlib records both come out as JSON with the same keys."""
        configure_logging("INFO", json=True)
        structlog.get_logger("processor.worker").warning("worker_started", group="g")
        logging.getLogger("httpx").warning("slow")
        project, library = _json_lines(capsys.readouterr().err)
        assert {"event", "level", "timestamp"} <= project.keys() & library.keys()

    def test_library_info_hidden_at_default_level(self, capsys: pytest.CaptureFixture[str]) -> None:
        """At INFO, libraries speak only from WARNING up; at DEBUG they say everything."""
        configure_logging("INFO", json=True)
        logging.getLogger("aiokafka").info("chatter")
        assert capsys.readouterr().err == ""
        configure_logging("DEBUG", json=True)
        logging.getLogger("aiokafka").debug("chatter")
        assert _json_lines(capsys.readouterr().err)[0]["level"] == "debug"


class TestUvicornRecords:
    def test_uvicorn_error_log_is_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """uvicorn's own records (bind errors, shutdown) use the process's JSON format."""
        configure_logging("INFO", json=True)
        # building the ops server builds its uvicorn config, which used to install handlers
        OpsServer("127.0.0.1", 0, lambda: True, metrics.WORKER_REGISTRY)
        logging.getLogger("uvicorn.error").error("[Errno 98] address already in use")
        [line] = _json_lines(capsys.readouterr().err)
        assert line["logger"] == "uvicorn.error"
        assert line["level"] == "error"


class TestStartupNoise:
    def test_coordinator_not_available_is_not_an_error_at_start(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A fresh broker's "coordinator not available" prints no ERROR line at start-up."""
        configure_logging("INFO", json=True)
        logging.getLogger("aiokafka.consumer.group_coordinator").error(
            COORDINATOR_MESSAGE, COORDINATOR_ERROR
        )
        assert capsys.readouterr().err == ""

    def test_coordinator_not_available_shows_as_info_at_debug(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With DEBUG on, the start-up coordinator message is still there, as INFO."""
        configure_logging("DEBUG", json=True)
        logging.getLogger("aiokafka.consumer.group_coordinator").error(
            COORDINATOR_MESSAGE, COORDINATOR_ERROR
        )
        [line] = _json_lines(capsys.readouterr().err)
        assert line["level"] == "info"

    def test_coordinator_missing_after_start_up_stays_an_error(self) -> None:
        """Once the start-up window is over, a missing coordinator is reported as ERROR."""
        noise = StartupNoiseFilter(logging.WARNING, window_s=0)
        record = logging.LogRecord(
            "aiokafka.consumer.group_coordinator",
            logging.ERROR,
            __file__,
            1,
            COORDINATOR_MESSAGE,
            (COORDINATOR_ERROR,),
            None,
        )
        assert noise.filter(record)
        assert record.levelno == logging.ERROR

    def test_other_aiokafka_errors_keep_their_level(self) -> None:
        """Only the known-benign message is demoted; other library errors stay errors."""
        noise = StartupNoiseFilter(logging.WARNING)
        record = logging.LogRecord(
            "aiokafka.conn", logging.ERROR, __file__, 1, "Unable connect to %s", ("x",), None
        )
        assert noise.filter(record)
        assert record.levelno == logging.ERROR
