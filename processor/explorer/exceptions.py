"""The explorer's errors, under the project's root (:mod:`processor.errors`).

    ProcessorError
    └── ExplorerError               anything the explorer raises
        ├── QueryError              a bad query parameter (HTTP 400, names the field)
        └── StoreError              the query store failed (retriable: try again)

Database driver errors (sqlite3, psycopg) are translated into StoreError
where they enter, in :mod:`processor.explorer.sql`.
"""

from __future__ import annotations

from processor.errors import ProcessorError


class ExplorerError(ProcessorError):
    """Root of the explorer's errors."""


class QueryError(ExplorerError):
    """A query parameter that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StoreError(ExplorerError):
    """The query store failed (locked, unreachable, disk full, ...)."""

    retriable = True
