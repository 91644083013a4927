"""The benchmark proxy's reading of the client's protocol messages: statements and transactions counted."""

from __future__ import annotations

import struct

from bench.proxy import ClientMessages, Tally

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def startup() -> bytes:
    payload = struct.pack("!i", 196608) + b"user\0postgres\0database\0bench\0\0"
    return struct.pack("!i", len(payload) + 4) + payload


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def query(text: str) -> bytes:
    return message(b"Q", text.encode() + b"\0")


def extended(text: str, param: bytes = b"") -> bytes:
    """Parse, Bind, Describe, Execute, Sync of an unnamed statement, as psycopg sends them."""
    bind_params = struct.pack("!hhh", 0, 1, len(param) and 1) + (
        struct.pack("!i", len(param)) + param if param else b""
    )
    return b"".join(
        [
            message(b"P", b"\0" + text.encode() + b"\0" + struct.pack("!h", 0)),
            message(b"B", b"\0\0" + bind_params + struct.pack("!h", 0)),
            message(b"D", b"P\0"),
            message(b"E", b"\0" + struct.pack("!i", 0)),
            message(b"S", b""),
        ]
    )


SESSION = b"".join(
    [
        SSL_REQUEST,
        startup(),
        query("BEGIN"),
        extended("SELECT id FROM registry_passport WHERE address = $1", b"0xabc" * 1000),
        extended("  insert into registry_event (action) values ($1)", b"SCU"),
        query("COMMIT"),
        extended("INSERT INTO account_accountapikeyanalytics (path) VALUES ($1)", b"/v2"),
    ]
)
EXPECTED = {"BEGIN": 1, "SELECT": 1, "INSERT": 2, "COMMIT": 1}


def counted(*chunks: bytes) -> Tally:
    """The chunks sent one after the other, without an answer in between: one round trip."""
    tally = Tally()
    messages = ClientMessages(tally)
    for n, chunk in enumerate(chunks):
        messages.feed(chunk, after_answer=n == 0)
    return tally


def test_statements_by_kind_and_transactions() -> None:
    tally = counted(SESSION)
    assert dict(tally.statements) == EXPECTED
    # The explicit transaction, then the INSERT outside it (autocommit: a transaction of its own).
    assert tally.transactions == 2
    assert (tally.round_trips, tally.raw_bursts) == (1, 1)
    assert tally.bursts == [["BEGIN", "SELECT", "INSERT", "COMMIT", "INSERT"]]


def test_messages_split_anywhere_across_reads() -> None:
    for cut in range(1, len(SESSION), 97):
        tally = counted(SESSION[:cut], SESSION[cut:])
        assert dict(tally.statements) == EXPECTED, cut
        assert tally.transactions == 2, cut


def test_one_byte_at_a_time() -> None:
    tally = counted(*(SESSION[i : i + 1] for i in range(len(SESSION))))
    assert dict(tally.statements) == EXPECTED


def test_a_rollback_ends_the_transaction() -> None:
    tally = counted(startup(), query("BEGIN"), extended("UPDATE x SET y = 1"), query("ROLLBACK"))
    assert tally.transactions == 1
    assert dict(tally.statements) == {"BEGIN": 1, "UPDATE": 1, "ROLLBACK": 1}


def test_a_lone_sync_or_flush_after_an_answer_is_no_round_trip() -> None:
    tally = Tally()
    messages = ClientMessages(tally)
    messages.feed(startup(), after_answer=True)
    messages.feed(extended("SELECT 1")[:-5], after_answer=True)  # a pipeline: no Sync yet
    messages.feed(
        message(b"S", b"") + message(b"H", b""), after_answer=True
    )  # a first answer came in between
    messages.feed(extended("UPDATE x SET y = 1"), after_answer=True)  # the client waited for the answers
    assert tally.raw_bursts == 4
    assert tally.round_trips == 3
    assert tally.bursts == [[], ["SELECT"], ["UPDATE"]]
