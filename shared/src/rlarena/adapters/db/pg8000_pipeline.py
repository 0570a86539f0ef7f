"""One round trip per statement through pg8000, not three.

pg8000 (1.31) runs every statement SQLAlchemy sends it, BEGIN and COMMIT included, as three
exchanges with the server: Parse + Sync, then Describe + Sync, then Bind + Execute + Sync, waiting
for each answer before the next. Nothing in the later messages depends on the earlier answers (the
parameters are encoded from their Python types, results are asked for as text), so they can go
in one write ending in one Sync, as libpq does: the server answers Parse, Describe, Bind and
Execute in order, and an error in any of them skips the rest up to the Sync, whose ReadyForQuery
ends `handle_messages` (which then raises it). A rating update is about a dozen statements; this
takes two dozen round trips off each.

COPY (a `stream`) keeps pg8000's own path.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    """Replace `CoreConnection.execute_unnamed` (idempotent)."""
    from pg8000 import core

    original = core.CoreConnection.execute_unnamed
    if getattr(original, "pipelined", False):
        return

    def execute_unnamed(self: Any, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
        if stream is not None:
            return original(self, statement, vals=vals, oids=oids, stream=stream)
        encoding = self._client_encoding
        params = core.make_params(self.py_types, vals)  # before anything is written: it may raise
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
        self._send_message(core.PARSE, parse)
        self._send_message(core.DESCRIBE, core.STATEMENT + core.NULL_BYTE)
        self._send_message(core.BIND, bind)
        try:
            core._write(self._sock, core.EXECUTE_MSG)
            core._write(self._sock, core.SYNC_MSG)
            core._flush(self._sock)
        except AttributeError as error:
            if self._sock is None:
                raise core.InterfaceError("connection is closed") from error
            raise
        self.handle_messages(context)
        return context

    execute_unnamed.pipelined = True  # type: ignore[attr-defined]
    core.CoreConnection.execute_unnamed = execute_unnamed
