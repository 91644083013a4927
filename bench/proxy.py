"""A loopback TCP proxy between the handler and PostgreSQL that counts what crosses the wire.

Round trips are counted as bursts: the client sending after the server has answered (or for the first
time). A burst of nothing but ``Sync``/``Flush`` messages does not count: psycopg's pipeline sends those
right after its statements, without waiting, and under load the server's first answers can slip in between;
the next message with content in it starts the round trip instead. (``raw_bursts`` counts every burst.)
Statements are read from the client's protocol messages: each simple ``Query`` and each extended
``Execute`` is one statement, classified by its SQL's first word so that transaction control (``BEGIN``,
``COMMIT``, ``SAVEPOINT`` ...) can be told apart from the work. Counting happens before a chunk is
forwarded, so once the client has its answer, the counts of what led to it are complete.

The client must connect without TLS or GSS encryption (``sslmode=disable``, ``gssencmode=disable``):
the messages are read in clear.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from psycopg.conninfo import conninfo_to_dict

_UNTYPED_REQUESTS = {80877102, 80877103, 80877104}  # CancelRequest, SSLRequest, GSSENCRequest
_CHUNK = 65536


@dataclass(frozen=True)
class WireCounts:
    """What the client sent between two snapshots."""

    round_trips: int
    raw_bursts: int
    statements: int
    transactions: int
    by_kind: dict[str, int]
    client_bytes: int
    server_bytes: int
    bursts: list[list[str]]  # the statement kinds sent in each round trip, in order

    def since(self, before: WireCounts) -> WireCounts:
        """What was sent after ``before`` was taken."""
        kinds = {k: n - before.by_kind.get(k, 0) for k, n in self.by_kind.items()}
        return WireCounts(
            round_trips=self.round_trips - before.round_trips,
            raw_bursts=self.raw_bursts - before.raw_bursts,
            statements=self.statements - before.statements,
            transactions=self.transactions - before.transactions,
            by_kind={k: n for k, n in sorted(kinds.items()) if n},
            client_bytes=self.client_bytes - before.client_bytes,
            server_bytes=self.server_bytes - before.server_bytes,
            bursts=self.bursts[len(before.bursts) :],
        )


@dataclass
class Tally:
    round_trips: int = 0
    raw_bursts: int = 0
    transactions: int = 0
    statements: Counter[str] = field(default_factory=Counter)
    client_bytes: int = 0
    server_bytes: int = 0
    bursts: list[list[str]] = field(default_factory=list)


class ClientMessages:
    """Parses the frontend side of the PostgreSQL protocol: round trips, and each executed statement's kind.

    Transactions are counted as they end: an explicit ``COMMIT``/``ROLLBACK``, or a statement run outside
    any ``BEGIN`` (autocommit: its own transaction).
    """

    def __init__(self, tally: Tally) -> None:
        self._tally = tally
        self._buffer = bytearray()
        self._started = False
        self._statements: dict[bytes, str] = {}  # prepared statement name -> kind
        self._portals: dict[bytes, str] = {}  # portal name -> kind
        self._in_transaction = False
        self._answered = True  # the next message with content starts a round trip

    def feed(self, data: bytes, *, after_answer: bool) -> None:
        """Take a chunk the client sent; ``after_answer`` when the server had sent something since the last."""
        if after_answer:
            self._tally.raw_bursts += 1
            self._answered = True
        self._buffer += data
        while True:
            message = self._next_message()
            if message is None:
                return
            self._handle(*message)

    def _next_message(self) -> tuple[bytes, bytes] | None:
        header = 4 if not self._started else 5
        if len(self._buffer) < header:
            return None
        offset = 0 if not self._started else 1
        (length,) = struct.unpack_from("!i", self._buffer, offset)
        end = offset + length
        if len(self._buffer) < end:
            return None
        kind = b"" if not self._started else bytes(self._buffer[:1])
        payload = bytes(self._buffer[offset + 4 : end])
        del self._buffer[:end]
        return kind, payload

    def _handle(self, kind: bytes, payload: bytes) -> None:
        if self._answered and kind not in (b"S", b"H"):
            self._answered = False
            self._tally.round_trips += 1
            self._tally.bursts.append([])
        if not self._started:
            (code,) = struct.unpack_from("!i", payload)
            self._started = code not in _UNTYPED_REQUESTS
        elif kind == b"Q":
            self._executed(_statement_kind(payload.split(b"\0", 1)[0]))
        elif kind == b"P":
            name, query, _ = payload.split(b"\0", 2)
            self._statements[name] = _statement_kind(query)
        elif kind == b"B":
            portal, statement, _ = payload.split(b"\0", 2)
            self._portals[portal] = self._statements.get(statement, "OTHER")
        elif kind == b"E":
            self._executed(self._portals.get(payload.split(b"\0", 1)[0], "OTHER"))

    def _executed(self, kind: str) -> None:
        self._tally.statements[kind] += 1
        if self._tally.bursts:
            self._tally.bursts[-1].append(kind)
        if kind in ("BEGIN", "START"):
            self._in_transaction = True
        elif kind in ("COMMIT", "END", "ROLLBACK", "ABORT"):
            self._in_transaction = False
            self._tally.transactions += 1
        elif not self._in_transaction:
            self._tally.transactions += 1


def _statement_kind(query: bytes) -> str:
    words = query.decode("utf-8", "replace").split(None, 1)
    return words[0].upper().rstrip(";") if words else "EMPTY"


class CountingProxy:
    """Listens on 127.0.0.1 (a free port) and relays each connection to the server of ``upstream_dsn``."""

    def __init__(self, upstream_dsn: str) -> None:
        self._upstream = _upstream_address(upstream_dsn)
        self._lock = threading.Lock()
        self._tally = Tally()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept_forever, name="bench-proxy", daemon=True).start()

    def snapshot(self) -> WireCounts:
        with self._lock:
            tally = self._tally
            statements = dict(tally.statements)
            return WireCounts(
                round_trips=tally.round_trips,
                raw_bursts=tally.raw_bursts,
                statements=sum(statements.values()),
                transactions=tally.transactions,
                by_kind=statements,
                client_bytes=tally.client_bytes,
                server_bytes=tally.server_bytes,
                bursts=[list(burst) for burst in tally.bursts],
            )

    def dsn_through(self, dsn: str) -> str:
        """``dsn`` with its address replaced by the proxy's, encryption off so the messages can be read."""
        params = conninfo_to_dict(dsn)
        user = params.get("user", "postgres")
        dbname = params.get("dbname", user)
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}?sslmode=disable&gssencmode=disable"

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            sock.close()

    def _accept_forever(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.socket(self._upstream[0], socket.SOCK_STREAM)
            server.connect(self._upstream[1])
            for sock in (client, server):
                if sock.family == socket.AF_INET:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open += [client, server]
            link = _Link()
            messages = ClientMessages(self._tally)
            threading.Thread(
                target=self._pump, args=(client, server, "client", link, messages), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, "server", link, None), daemon=True
            ).start()

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        side: Literal["client", "server"],
        link: _Link,
        messages: ClientMessages | None,
    ) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(_CHUNK):
                with self._lock:
                    if side == "client":
                        self._tally.client_bytes += len(data)
                        assert messages is not None
                        messages.feed(data, after_answer=link.last_sender != "client")
                    else:
                        self._tally.server_bytes += len(data)
                    link.last_sender = side
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@dataclass
class _Link:
    """Who sent last on one proxied connection."""

    last_sender: str = "server"


def _upstream_address(dsn: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """The server's socket: TCP host and port, or the Unix socket in a ``host=/dir`` directory."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or "127.0.0.1").split(",")[0]
    port = int(str(params.get("port") or 5432).split(",")[0])
    if host.startswith("/"):
        return socket.AF_UNIX, f"{host}/.s.PGSQL.{port}"
    return socket.AF_INET, (host, port)
