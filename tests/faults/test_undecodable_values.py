"""Values the driver cannot decode, or that no Python datetime can hold, in every column the service reads.

Whatever a row holds, a wrong key is 401 (authentication reads the key alone), a right key is answered 200 with
the score recorded as ERROR when a row cannot be read while scoring, and the next request is still healthy.
"""

from __future__ import annotations

import json
import sys

import psycopg
import pytest

from tests.integration.world import WEIGHTS, World, new_address
from tools import credentials, seed

HUGE_NUMBER = "9" * 5000
DEEP_ARRAY = "[" * 3000 + "]" * 3000


def _json_error(document: str) -> str:
    """The text Python's json module gives for ``document`` (the reference decodes jsonb with it too)."""
    try:
        json.loads(document)
    except (ValueError, RecursionError) as exc:
        return str(exc)
    raise AssertionError("expected a decoding error")


def _raw_ceramic(
    world: World, address: str, provider: str, stamp_sql: str, updated_at: str = "now()"
) -> None:
    with world.conn() as conn:
        conn.execute(
            "INSERT INTO ceramic_cache_ceramiccache (address, provider, stamp, created_at, updated_at, type,"
            " deleted_at, compose_db_save_status, compose_db_stream_id, issuance_date, expiration_date,"
            " proof_value, source_app, source_scorer_id)"
            f" VALUES (%s, %s, ({stamp_sql})::jsonb, now(), {updated_at}, 1, NULL, 'pending', '', NULL, NULL,"
            " %s, NULL, NULL)",
            (address, provider, provider + address),
        )


def _assert_address_healthy(world: World, address: str) -> None:
    assert world.score(address, key="nope.nope").status == 401
    assert world.score(address, key=world.other_key).status == 404  # a valid key of another account
    assert world.score(address).status == 200


@pytest.mark.parametrize(
    ("stamp_sql", "document"),
    [
        (f"'{{\"n\": {HUGE_NUMBER}}}'", f'{{"n": {HUGE_NUMBER}}}'),
        (f"'{DEEP_ARRAY}'", DEEP_ARRAY),
    ],
    ids=["5000-digit-number", "3000-deep-array"],
)
def test_undecodable_ceramic_stamp_is_a_scoring_error(world: World, stamp_sql: str, document: str) -> None:
    address = new_address()
    world.stamp(address, "Google")
    _raw_ceramic(world, address, "Github", stamp_sql)
    assert world.score(address, key="wrong.key").status == 401
    response = world.score(address)
    assert response.status == 200
    assert response.body["error"] == _json_error(document)
    [score] = world.rows("SELECT status, error FROM registry_score")
    assert score == {"status": "ERROR", "error": _json_error(document)}
    _assert_address_healthy(world, address)


def test_infinite_updated_at_is_the_latest_row(world: World) -> None:
    address = new_address()
    vc = world.stamp(address, "Github")
    with world.conn() as conn:
        conn.execute("UPDATE ceramic_cache_ceramiccache SET updated_at = 'infinity'")
    assert world.score(address, key="wrong.key").status == 401
    response = world.score(address)
    assert response.status == 200, response.body
    assert response.body["error"] is None
    assert response.body["stamps"]["Github"]["score"] == "10.00000"
    assert vc["credentialSubject"]["provider"] == "Github"


@pytest.mark.parametrize("expires_at", ["infinity", "-infinity"])
def test_unbounded_hash_link_expiry(world: World, expires_at: str) -> None:
    address, holder = new_address(), new_address()
    vc = world.stamp(address, "Github")
    nullifier = vc["credentialSubject"]["nullifiers"][0]
    with world.conn() as conn:
        conn.execute(
            "INSERT INTO registry_hashscorerlink (hash, community_id, address, expires_at) VALUES (%s, %s, %s, %s)",
            (nullifier, world.community_id, holder, expires_at),
        )
    assert world.score(address, key="wrong.key").status == 401
    response = world.score(address)
    assert response.status == 200, response.body
    assert response.body["error"] is None
    # 'infinity' never expires, so the holder keeps the nullifier; '-infinity' expired long ago: taken over.
    assert response.body["stamps"]["Github"]["dedup"] is (expires_at == "infinity")
    [link] = world.rows("SELECT address FROM registry_hashscorerlink")
    assert link["address"] == (holder if expires_at == "infinity" else address)
    assert world.score(address).status == 200


@pytest.mark.parametrize(("expiry", "status"), [("infinity", 200), ("-infinity", 401)])
def test_unbounded_api_key_expiry(world: World, expiry: str, status: int) -> None:
    address = new_address()
    with world.conn() as conn:
        conn.execute(
            "UPDATE account_accountapikey SET expiry_date = %s WHERE id = %s", (expiry, world.key_id)
        )
    assert world.score(address).status == status
    assert world.score(address, key="wrong.key").status == 401


def test_undecodable_weights_are_a_scoring_error(world: World) -> None:
    address = new_address()
    world.stamp(address, "Github")
    with world.conn() as conn:
        conn.execute(
            "UPDATE scorer_weighted_binaryweightedscorer SET weights = %s::jsonb"
            " WHERE scorer_ptr_id = (SELECT scorer_id FROM account_community WHERE id = %s)",
            (f'{{"Github": {HUGE_NUMBER}}}', world.community_id),
        )
    assert world.score(address, key="wrong.key").status == 401
    assert world.score(address, key=world.other_key, community=world.other_community_id).status == 200
    response = world.score(address)
    assert response.status == 200
    assert response.body["error"] == _json_error(f'{{"Github": {HUGE_NUMBER}}}')
    assert world.rows(
        "SELECT status FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id"
        " WHERE p.community_id = %s",
        world.community_id,
    ) == [{"status": "ERROR"}]


def test_a_stamp_expiring_after_year_9999_utc_never_poisons_its_nullifier(world: World) -> None:
    """The stamp expires at 10000-01-01T14:00Z. The service keeps it (it is valid) and clamps what it stores to the
    last instant it can read again, so the next request for this address, and for any other address presenting
    the same nullifier, is answered normally."""
    address, other = new_address(), new_address()
    expiration = "9999-12-31T23:00:00-15:00"
    nullifier = credentials.default_nullifier("Github", address)
    world.stamp(address, "Github", expiration=expiration, nullifiers=[nullifier])
    world.stamp(other, "Github", expiration=expiration, nullifiers=[nullifier])
    first = world.score(address)
    assert first.status == 200, first.body
    assert first.body["error"] is None
    assert first.body["stamps"]["Github"]["expiration_date"] == expiration
    again = world.score(address)
    assert again.status == 200, again.body
    assert again.body["error"] is None
    assert again.body["score"] == first.body["score"]
    clash = world.score(other)
    assert clash.status == 200, clash.body
    assert clash.body["error"] is None
    assert clash.body["stamps"]["Github"]["dedup"] is True
    # Everything written can be read back by a plain client.
    with psycopg.connect(world.url) as conn:
        conn.execute("SELECT * FROM registry_hashscorerlink").fetchall()
        conn.execute("SELECT * FROM registry_score").fetchall()


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ([["Github", 10]], "'list' object has no attribute 'update'"),
        ("Github", "'str' object has no attribute 'update'"),
        (5, "'int' object has no attribute 'update'"),
        (2.5, "'float' object has no attribute 'update'"),
        (True, "'bool' object has no attribute 'update'"),
    ],
    ids=["list-of-pairs", "string", "int", "float", "bool"],
)
def test_wrong_typed_weights_with_a_customization(world: World, weights: object, error: str) -> None:
    address = new_address()
    world.stamp(address, "Github")
    with world.conn() as conn:
        list_id = seed.insert_address_list(conn, "Fault", [address])
        seed.insert_customization(conn, world.community_id, allow_lists={list_id: "1.5"})
        conn.execute(
            "UPDATE scorer_weighted_binaryweightedscorer SET weights = %s::jsonb"
            " WHERE scorer_ptr_id = (SELECT scorer_id FROM account_community WHERE id = %s)",
            (json.dumps(weights), world.community_id),
        )
    response = world.score(address)
    assert response.status == 200
    assert response.body["error"] == error
    assert WEIGHTS  # the other community still scores with its dict weights
    assert world.score(address, key=world.other_key, community=world.other_community_id).body["error"] is None


def test_json_limits_are_the_interpreters() -> None:
    assert sys.get_int_max_str_digits() < len(HUGE_NUMBER)
