"""GET/POST /ceramic-cache/score, GET /ceramic-cache/stamp and GET /ceramic-cache/weights on a real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb

from scorer_core.ceramic_cache import weights
from tools import seed

from .ceramic import CacheWorld, alb_event, auth, call, rest_event
from .world import new_address

GENERIC = {"error": "An error has occurred"}


def score_get(address: str, query: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    answer = call(alb_event("GET", "/ceramic-cache/score/0xignored", headers=auth(address), query=query))
    return answer.status, answer.body


def store_score(
    cache_world: CacheWorld, address: str, *, expiration: datetime | None, status: str = "DONE"
) -> None:
    world = cache_world.world
    with world.conn() as conn:
        row = conn.execute(
            "INSERT INTO registry_passport (address, community_id) VALUES (%s, %s) RETURNING id",
            (address, world.community_id),
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO registry_score (passport_id, score, last_score_timestamp, status, error, evidence,"
            " stamp_scores, stamps, expiration_date) VALUES (%s, 1, %s, %s, %s, %s, '{}', %s, %s)",
            (
                row[0],
                datetime(2030, 1, 1, 12, tzinfo=UTC),
                status,
                "stored error" if status == "ERROR" else None,
                Jsonb({"rawScore": 10, "threshold": "5"}) if status == "DONE" else None,
                Jsonb({"Google": {"score": "10.00000"}}) if status == "DONE" else None,
                expiration,
            ),
        )


def test_get_without_a_score_scores(cache_world: CacheWorld) -> None:
    address = new_address()
    status, body = score_get(address)
    assert (
        status == 200
        and body["score"] == "0.00000"
        and body["stamps"] == {}
        and body["expiration_timestamp"] is None
    )
    assert cache_world.world.count("registry_score") == 1


def test_get_serves_a_fresh_stored_score_without_writing(cache_world: CacheWorld) -> None:
    address = new_address()
    store_score(cache_world, address, expiration=datetime.now(UTC) + timedelta(days=1))
    before = cache_world.world.rows("SELECT * FROM registry_score")
    status, body = score_get(address)
    assert status == 200 and body["score"] == "10.00000" and body["threshold"] == "5.00000"
    assert body["last_score_timestamp"] == "2030-01-01T12:00:00+00:00" and body["passing_score"] is True
    assert cache_world.world.rows("SELECT * FROM registry_score") == before
    assert cache_world.world.count("registry_event") == 0


def test_get_rescores_an_expired_score_and_keeps_an_error(cache_world: CacheWorld) -> None:
    expired = new_address()
    store_score(cache_world, expired, expiration=datetime(2020, 1, 1, tzinfo=UTC))
    status, body = score_get(expired)
    assert (
        status == 200
        and body["score"] == "0.00000"
        and body["last_score_timestamp"] != "2030-01-01T12:00:00+00:00"
    )
    failed = new_address()
    store_score(cache_world, failed, expiration=None, status="ERROR")
    status, body = score_get(failed)
    assert (status, body["error"], body["score"], body["threshold"]) == (
        200,
        "stored error",
        "0.00000",
        "20.00000",
    )


def test_get_alternate_scorer(cache_world: CacheWorld) -> None:
    address = new_address()
    assert score_get(address, {"alternate_scorer_id": "abc"}) == (
        400,
        {"error": "Unable to get score for provided scorer."},
    )
    status, body = score_get(address, {"alternate_scorer_id": "999999"})
    assert status == 404 and "misconfiguration" in str(body["error"])
    other = cache_world.world.other_community_id
    status, body = score_get(address, {"alternate_scorer_id": str(other)})
    assert status == 200 and cache_world.world.count("registry_passport", "community_id = %s", other) == 1


def test_get_invalid_address_and_null_query(cache_world: CacheWorld) -> None:
    answer = call(alb_event("GET", "/ceramic-cache/score/0x", headers=auth("nothex")))
    assert (answer.status, answer.body) == (400, {"error": "Invalid address."})
    address = new_address()
    rest = call(rest_event("GET", "/ceramic-cache/score/0xabc", headers=auth(address)))  # null query string
    assert rest.status == 200


def test_post_scores_every_time(cache_world: CacheWorld) -> None:
    address = new_address()
    path = "/ceramic-cache/score/0xwhatever"
    first = call(alb_event("POST", path, headers=auth(address), body={"alternate_scorer_id": 0}))
    assert first.status == 200 and first.body["address"] == address
    assert cache_world.world.count("registry_event", "action = 'SCU'") == 1
    call(alb_event("POST", path, headers=auth(address), body={}))
    assert cache_world.world.count("registry_event", "action = 'SCU'") == 2
    bad = call(alb_event("POST", path, headers=auth(address), body=[1]))
    assert (bad.status, bad.body) == (400, GENERIC)
    missing = call(alb_event("POST", path, headers=auth(address), body={"alternate_scorer_id": 999999}))
    assert (missing.status, missing.body) == (400, GENERIC)
    cache_world.configure(CERAMIC_CACHE_SCORER_ID="")
    unset = call(alb_event("POST", path, headers=auth(address), body={}))
    assert (unset.status, unset.body) == (500, {"error": "Scorer ID not set"})


def test_stamp_list(cache_world: CacheWorld) -> None:
    missing = call(alb_event("GET", "/ceramic-cache/stamp"))
    assert (missing.status, missing.body, missing.raw["statusDescription"]) == (
        400,
        {"error": "Bad request"},
        "Missing address parameter",
    )
    foo = call(alb_event("GET", "/ceramic-cache/stamp", query={"address": "foo"}))
    assert (foo.status, foo.body) == (400, {"error": "Invalid address."})
    address = new_address()
    cache_world.bulk("POST", address, [cache_world.item(address, "Google")])
    before = cache_world.world.rows("SELECT * FROM registry_score")
    listed = call(
        alb_event("GET", "/ceramic-cache/stamp", query={"address": address.upper().replace("0X", "0x")})
    )
    assert listed.status == 200 and [s["provider"] for s in listed.body["stamps"]] == ["Google"]
    assert cache_world.world.rows("SELECT * FROM registry_score") == before  # a score exists: read-only
    fresh = new_address()
    empty = call(alb_event("GET", "/ceramic-cache/stamp", query={"address": fresh}))
    assert empty.status == 200 and empty.body == {"success": True, "stamps": []}
    assert cache_world.world.count("registry_passport", "address = %s", fresh) == 1  # scored as a side effect


def test_weights(cache_world: CacheWorld) -> None:
    world = cache_world.world
    with world.conn() as conn:
        scorer = seed.insert_scorer(conn, weights={"Google": "0.525", "Ens": 1}, kind="WEIGHTED")
        community = seed.insert_community(conn, world.account_id, scorer, name="weights")
    cache_world.configure(CERAMIC_CACHE_SCORER_ID=str(community))
    answer = call(alb_event("GET", "/ceramic-cache/weights"))
    assert answer.status == 200 and answer.raw["body"] == '{"Ens": 1, "Google": "0.525"}'
    with world.conn() as conn:
        conn.execute(
            "UPDATE scorer_weighted_weightedscorer SET weights = '{\"Ens\": 2}' WHERE scorer_ptr_id = %s",
            (scorer,),
        )
    assert call(alb_event("GET", "/ceramic-cache/weights")).body == {"Ens": 1, "Google": "0.525"}  # cached
    weights.clear_cache()
    assert call(alb_event("GET", "/ceramic-cache/weights")).body == {"Ens": 2}
    cache_world.configure(CERAMIC_CACHE_SCORER_ID="424242")
    bad = call(alb_event("GET", "/ceramic-cache/weights"))
    assert bad.status == 500 and bad.body == {
        "error": "Unable to retrieve configured scorer! settings.CERAMIC_CACHE_SCORER_ID=424242"
    }
    assert json.loads(bad.raw["body"]) == bad.body


def test_unknown_route(cache_world: CacheWorld) -> None:
    assert call(alb_event("GET", "/ceramic-cache/nothing")).status == 404
