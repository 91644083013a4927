"""A TCP fault proxy on loopback: sits between the service and a server and breaks the link on demand.

Faults: drop a connection after N more client bursts (a round trip), drop a connection as soon as the server has
committed a ``COMMIT`` it sent (the server commits, the client never hears), stall (hold everything the client
sends until released), refuse (close new connections at once, as a server that is down) and kill every
open connection (a failover). It counts connection attempts, so a test can say how often the service
tried to reach the server. PostgreSQL messages are framed only to find ``COMMIT``; everything else is
relayed as bytes, so the proxy serves Redis too.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_CHUNK = 65536
_COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"  # CommandComplete of a COMMIT


@dataclass
class Faults:
    """What the proxy does to the traffic; change fields at any time (guarded by the proxy's lock)."""

    refuse: bool = False
    drop_after_commit: bool = False
    stall: bool = False
    stall_on_statement: bytes | None = None  # hold the first burst holding a statement that starts so
    on_burst: Callable[[], None] | None = None  # called before each client burst is relayed


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket
    bursts: int = 0
    answered: bool = True
    buffer: bytearray = field(default_factory=bytearray)
    started: bool = False
    drop_in: int | None = None  # bursts still relayed before the link is dropped
    stall_in: int | None = None  # bursts still relayed before the link stalls
    kill_on_answer: bool = False


class FaultProxy:
    """Listens on 127.0.0.1:``port`` (0 = any free port) and relays to ``upstream`` (host, port)."""

    def __init__(self, upstream: tuple[str, int] | str, port: int = 0) -> None:
        self.upstream = upstream
        self.faults = Faults()
        self.attempts = 0
        self.stalled = threading.Event()  # set once a burst has been held back
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_forever, name="fault-proxy", daemon=True).start()

    @classmethod
    def for_dsn(cls, dsn: str, port: int = 0) -> FaultProxy:
        params = conninfo_to_dict(dsn)
        host = str(params.get("host") or "127.0.0.1")
        server_port = int(str(params.get("port") or 5432))
        if host.startswith("/"):  # a Unix-socket server (the embedded one)
            return cls(f"{host}/.s.PGSQL.{server_port}", port)
        return cls((host, server_port), port)

    def dsn_through(self, dsn: str) -> str:
        """``dsn`` pointed at the proxy, without encryption so messages can be read."""
        return make_conninfo(
            dsn, host="127.0.0.1", port=str(self.port), sslmode="disable", gssencmode="disable"
        )

    def drop_after(self, bursts: int) -> None:
        """Drop each open connection once it has relayed ``bursts`` more client bursts (round trips)."""
        with self._lock:
            for link in self._links:
                link.drop_in = bursts

    def stall_after(self, bursts: int) -> None:
        """Hold each open connection's traffic once it has relayed ``bursts`` more client bursts."""
        with self._lock:
            for link in self._links:
                link.stall_in = bursts

    def release(self) -> None:
        """End every stall: held data flows again."""
        with self._lock:
            self.faults.stall = False
            self.faults.stall_on_statement = None
            for link in self._links:
                link.stall_in = None
        self._release.set()

    def kill_all(self) -> None:
        """Close every open connection at once, as a failover does."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            _close(link)

    def close(self) -> None:
        self.release()
        self._listener.close()
        self.kill_all()

    def _accept_forever(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.attempts += 1
                refuse = self.faults.refuse
            if refuse:
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            try:
                if isinstance(self.upstream, str):
                    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    server.connect(self.upstream)
                else:
                    server = socket.create_connection(self.upstream, timeout=5)
                    server.settimeout(None)
            except OSError:
                client.close()
                continue
            link = _Link(client, server)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._client_to_server, args=(link,), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(link,), daemon=True).start()

    def _client_to_server(self, link: _Link) -> None:
        try:
            while data := link.client.recv(_CHUNK):
                with self._lock:
                    if link.answered:
                        link.answered = False
                        link.bursts += 1
                        if link.drop_in is not None:
                            link.drop_in -= 1
                        if link.stall_in is not None:
                            link.stall_in -= 1
                    drop = link.drop_in is not None and link.drop_in < 0
                    stall = self.faults.stall or (link.stall_in is not None and link.stall_in < 0)
                    words = self._statements(link, data)
                    if self.faults.drop_after_commit and b"COMMIT" in words:
                        link.kill_on_answer = True
                    if self.faults.stall_on_statement is not None and self.faults.stall_on_statement in words:
                        stall = True
                hook = self.faults.on_burst
                if hook is not None:
                    hook()
                if drop:
                    break
                if stall:
                    self.stalled.set()
                    self._release.wait()
                link.server.sendall(data)
        except OSError:
            pass
        finally:
            _close(link)

    def _server_to_client(self, link: _Link) -> None:
        try:
            while data := link.server.recv(_CHUNK):
                with self._lock:
                    link.answered = True
                    kill = link.kill_on_answer
                if kill and _COMMIT_DONE in data:
                    break  # the server has committed; the client never hears of it
                link.client.sendall(data)
        except OSError:
            pass
        _close(link)

    @staticmethod
    def _statements(link: _Link, data: bytes) -> set[bytes]:
        """The first words (upper case) of the Query and Parse messages this chunk completes."""
        link.buffer += data
        found: set[bytes] = set()
        while True:
            header = 5 if link.started else 4
            if len(link.buffer) < header:
                return found
            offset = 1 if link.started else 0
            (length,) = struct.unpack_from("!i", link.buffer, offset)
            if len(link.buffer) < offset + length:
                return found
            kind = bytes(link.buffer[:1]) if link.started else b""
            payload = bytes(link.buffer[offset + 4 : offset + length])
            del link.buffer[: offset + length]
            if not link.started:
                (code,) = struct.unpack_from("!i", payload)
                link.started = code not in (80877102, 80877103, 80877104)
            elif kind in (b"Q", b"P"):
                sql = payload if kind == b"Q" else payload.split(b"\0", 2)[1]
                words = sql.split(None, 1)
                if words:
                    found.add(words[0].rstrip(b";\0").upper())


def _close(link: _Link) -> None:
    for sock in (link.client, link.server):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
