"""Which exceptions mean "the database cannot be reached right now": one rule for every caller.

A database outage looks different depending on where it strikes: pg8000 cannot open a socket
(`InterfaceError: Can't create a connection ...` from ConnectionRefusedError), a pooled connection
finds its socket reset (`InterfaceError: network error`, or a bare ConnectionResetError that pg8000
lets escape) or closed, the server says it is shutting
down or starting up (SQLSTATE 57P01-57P03, which pg8000 reports as ProgrammingError), has no
connection slot left (class 53), SQLAlchemy marks a connection invalidated, a driver raises
OperationalError (SQLite: its file is busy, locked, unreadable or full), or the pool waits in vain
for a connection. Every one of them is the same answer to a client: 503, try again shortly
(`rlarena.http.api` adds Retry-After), never a 500 and never SQL in a response. A constraint
violation, a syntax error or a misused driver is a bug, not an outage, and stays one; so is
SQLite's generic SQLITE_ERROR (a missing table, a syntax error), which sqlite3 also raises as
OperationalError.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator

from sqlalchemy import exc as sa

from rlarena.errors import RLArenaError, ServiceUnavailable

UNAVAILABLE_MESSAGE = "the database is unavailable; try again shortly"

# pg8000's own words for a socket that failed or is gone (pg8000/core.py, pg8000/legacy.py).
_PG8000_DISCONNECTS = ("network error", "connection is closed", "communication error", "can't create a connection")
# SQLSTATEs of a server that cannot serve now: connection exceptions (class 08), insufficient
# resources (class 53: too many connections, out of memory, disk full) and an operator intervention
# that ends or refuses sessions (admin or crash shutdown, starting up).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")
# SQLite's primary result codes that mean "cannot serve now": BUSY, LOCKED, NOMEM, READONLY,
# IOERR, FULL, CANTOPEN, PROTOCOL (https://sqlite.org/rescode.html). SQLITE_ERROR (1) is a bug.
_SQLITE_UNAVAILABLE = {5, 6, 7, 8, 10, 13, 14, 15}
_MAX_LINKS = 32


def is_database_outage(error: BaseException) -> bool:
    """True if `error`, or what caused it, means the database is unreachable or cannot serve now.

    Walks `__cause__`, `__context__` (unless suppressed) and SQLAlchemy's `.orig`. An error the
    platform raised on purpose (`RLArenaError`) is never reclassified.
    """
    if isinstance(error, RLArenaError):
        return False
    return any(_means_outage(link, inside) for link, inside in _chain(error))


def database_unavailable() -> ServiceUnavailable:
    """The one error every outage becomes; raise it `from` the original error."""
    return ServiceUnavailable(UNAVAILABLE_MESSAGE)


def describe(error: BaseException) -> str:
    """A one-line summary of the root cause (e.g. `ConnectionRefusedError: [Errno 111] ...`), for logs.

    Follows the causes (`.orig`, `__cause__`), not what was being handled when it happened.
    """
    deepest, seen = error, {id(error)}
    while len(seen) < _MAX_LINKS:
        below = getattr(deepest, "orig", None) if isinstance(deepest, sa.DBAPIError) else None
        below = below if isinstance(below, BaseException) else deepest.__cause__
        if below is None or id(below) in seen:
            break
        deepest = below
        seen.add(id(below))
    return f"{type(deepest).__name__}: {str(deepest)[:200]}"


def _chain(error: BaseException) -> Iterator[tuple[BaseException, bool]]:
    """Each exception reachable from `error`, once, with whether it caused a database error."""
    seen: set[int] = set()
    pending: list[tuple[BaseException, bool]] = [(error, False)]
    while pending and len(seen) < _MAX_LINKS:
        link, inside = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link, inside
        caused = inside or _is_database_error(link)
        orig = getattr(link, "orig", None) if isinstance(link, sa.DBAPIError) else None
        context = None if link.__suppress_context__ else link.__context__
        # What was being handled when `link` happened did not cause it: it keeps its own flag.
        for cause, flag in ((orig, caused), (link.__cause__, caused), (context, inside)):
            if isinstance(cause, BaseException):
                pending.append((cause, flag))


def _means_outage(error: BaseException, inside_database_error: bool) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError)):
        # Refused, reset, aborted, broken pipe or timed out: the database's socket if a driver's
        # error wraps it, or if the driver let it escape bare (pg8000 does, on a reset while it
        # waits for a reply: SQLAlchemy then passes it on unwrapped). Anyone else's (S3) is not.
        return inside_database_error or _raised_in_the_driver(error)
    return _sqlalchemy_outage(error) or _sqlite_outage(error) or _pg8000_outage(error)


def _raised_in_the_driver(error: BaseException) -> bool:
    trace = error.__traceback__
    while trace is not None:
        if str(trace.tb_frame.f_globals.get("__name__", "")).startswith("pg8000."):
            return True
        trace = trace.tb_next
    return False


def _sqlalchemy_outage(error: BaseException) -> bool:
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa.OperationalError):
        # SQLite's own error, below it, decides; any other driver's OperationalError is an outage.
        return not isinstance(error.orig, sqlite3.Error)
    return isinstance(error, (sa.DisconnectionError, sa.TimeoutError))


def _sqlite_outage(error: BaseException) -> bool:
    return isinstance(error, sqlite3.Error) and (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_UNAVAILABLE


def _pg8000_outage(error: BaseException) -> bool:
    pg8000 = sys.modules.get("pg8000.exceptions")  # not imported: no pg8000 error can exist
    if pg8000 is None:
        return False
    if isinstance(error, pg8000.InterfaceError):
        return any(words in str(error).lower() for words in _PG8000_DISCONNECTS)
    if isinstance(error, pg8000.DatabaseError) and error.args and isinstance(error.args[0], dict):
        return str(error.args[0].get("C", "")).startswith(_UNAVAILABLE_SQLSTATES)
    return False


def _is_database_error(error: BaseException) -> bool:
    if isinstance(error, (sa.SQLAlchemyError, sqlite3.Error)):
        return True
    pg8000 = sys.modules.get("pg8000.exceptions")
    return pg8000 is not None and isinstance(error, pg8000.Error)
