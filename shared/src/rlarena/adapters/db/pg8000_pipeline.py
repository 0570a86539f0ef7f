"""One round trip per statement through pg8000, not three.

pg8000 (1.31) runs every statement SQLAlchemy sends it, BEGIN and COMMIT included, as three
exchanges with the server: Parse + Sync, then Describe + Sync, then Bind + Execute + Sync, waiting
for each answer before the next. Nothing in the later messages depends on the earlier answers (the
parameters are encoded from their Python types, results are asked for as text), so they can go
in one write ending in one Sync, as libpq does: the server answers Parse, Describe, Bind and
Execute in order, and an error in any of them skips the rest up to the Sync, whose ReadyForQuery
ends `handle_messages` (which then raises it). A rating update is about a dozen statements; this
takes two dozen round trips off each.

pg8000 also opens every transaction with a BEGIN of its own (a round trip) just before the
transaction's first statement; that BEGIN is held back and sent in the same write as that
statement (ahead of it, so an error in either is reported and the transaction is exactly as if
sent apart), and a ROLLBACK of a transaction that sent nothing yet sends nothing.

COPY (a `stream`) keeps pg8000's own path.
"""

from __future__ import annotations

from typing import Any

# The pg8000 releases whose internals this was written and tested against (constraints.txt pins
# one); any other keeps pg8000's own three round trips rather than guess at its internals.
SUPPORTED_SERIES = "1.31."


def install() -> None:
    """Replace pg8000's statement execution (idempotent); a no-op on an untested pg8000."""
    import pg8000
    from pg8000 import core, legacy

    if not str(getattr(pg8000, "__version__", "")).startswith(SUPPORTED_SERIES):
        return
    original = core.CoreConnection.execute_unnamed
    original_simple = core.CoreConnection.execute_simple
    original_rollback = legacy.Connection.rollback
    if getattr(original, "pipelined", False):
        return

    def execute_simple(self: Any, statement: str) -> Any:
        if statement == _BEGIN:
            self._rlarena_begin = True  # sent with the transaction's first statement
            return core.Context(statement)
        if _take_begin(self):
            return original_simple(self, f"{_BEGIN}; {statement}")  # one Query, one round trip
        return original_simple(self, statement)

    def execute_unnamed(self: Any, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
        if stream is not None:
            if _take_begin(self):
                original_simple(self, _BEGIN)
            return original(self, statement, vals=vals, oids=oids, stream=stream)
        return _execute(core, self, statement, vals, oids)

    def rollback(self: Any) -> None:
        self._rlarena_begin = False  # a transaction that sent nothing has nothing to roll back
        original_rollback(self)

    execute_unnamed.pipelined = True  # type: ignore[attr-defined]
    core.CoreConnection.execute_unnamed = execute_unnamed
    core.CoreConnection.execute_simple = execute_simple
    legacy.Connection.rollback = rollback


def _take_begin(connection: Any) -> bool:
    pending = bool(getattr(connection, "_rlarena_begin", False))
    connection._rlarena_begin = False
    return pending and not getattr(connection, "autocommit", False)


def _execute(core: Any, connection: Any, statement: str, vals: Any, oids: Any) -> Any:
    encoding = connection._client_encoding
    params = core.make_params(connection.py_types, vals)  # before anything is written: it may raise
    parse = bytearray(core.NULL_BYTE)
    parse.extend(statement.encode(encoding) + core.NULL_BYTE)
    parse.extend(core.H_pack(len(oids)))
    for oid in oids:
        parse.extend(core.i_pack(0 if oid == -1 else oid))
    bind = bytearray(core.NULL_BYTE + core.NULL_BYTE + core.H_pack(0) + core.H_pack(len(params)))
    for value in params:
        if value is None:
            bind.extend(core.i_pack(-1))
        else:
            encoded = value.encode(encoding)
            bind.extend(core.i_pack(len(encoded)))
            bind.extend(encoded)
    bind.extend(core.H_pack(0))  # every result column as text
    context = core.Context(statement)
    if _take_begin(connection):  # BEGIN's own Parse, Bind and Execute, answered before the statement's
        connection._send_message(core.PARSE, _BEGIN_PARSE)
        connection._send_message(core.BIND, _NO_PARAMETERS)
        core._write(connection._sock, core.EXECUTE_MSG)
    connection._send_message(core.PARSE, parse)
    connection._send_message(core.DESCRIBE, core.STATEMENT + core.NULL_BYTE)
    connection._send_message(core.BIND, bind)
    try:
        core._write(connection._sock, core.EXECUTE_MSG)
        core._write(connection._sock, core.SYNC_MSG)
        core._flush(connection._sock)
    except AttributeError as error:
        if connection._sock is None:
            raise core.InterfaceError("connection is closed") from error
        raise
    connection.handle_messages(context)
    return context


_BEGIN = "begin transaction"
_BEGIN_PARSE = b"\x00" + _BEGIN.encode("ascii") + b"\x00" + b"\x00\x00"  # unnamed, no parameter types
# Bind: unnamed portal and statement, no parameter formats, no values, no result formats.
_NO_PARAMETERS = b"\x00\x00" + b"\x00\x00" * 3
