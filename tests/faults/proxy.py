"""A TCP fault proxy on loopback: sits between the service and a server and breaks the link on demand.

Faults: drop a connection after N more client bursts (a round trip), drop a connection when the server answers a
burst holding ``COMMIT`` (the server commits, the client never hears), stall (hold everything the client
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
from dataclasses import dataclass, field

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_CHUNK = 65536


@dataclass
class Faults:
    """What the proxy does to the traffic; change fields at any time (guarded by the proxy's lock)."""

    refuse: bool = False
    drop_after_commit: bool = False
    stall: bool = False


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

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
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
        if host.startswith("/"):
            raise ValueError("the fault proxy needs a TCP server, not a Unix socket")
        return cls((host, int(str(params.get("port") or 5432))), port)

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
                    if self.faults.drop_after_commit and self._has_commit(link, data):
                        link.kill_on_answer = True
                if drop:
                    break
                if stall:
                    self.stalled.set()
                    self._release.wait()
                link.server.sendall(data)
        except OSError:
            pass
        _close(link)

    def _server_to_client(self, link: _Link) -> None:
        try:
            while data := link.server.recv(_CHUNK):
                with self._lock:
                    link.answered = True
                    kill = link.kill_on_answer
                if kill:
                    break  # the server got the COMMIT and everything sent with it; the client never hears
                link.client.sendall(data)
        except OSError:
            pass
        _close(link)

    @staticmethod
    def _has_commit(link: _Link, data: bytes) -> bool:
        """Whether this chunk completes a Query or Parse message whose SQL is COMMIT."""
        link.buffer += data
        found = False
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
            elif (kind == b"Q" and payload.upper().startswith(b"COMMIT")) or (
                kind == b"P" and payload.split(b"\0", 2)[1].upper().startswith(b"COMMIT")
            ):
                found = True


def _close(link: _Link) -> None:
    for sock in (link.client, link.server):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
