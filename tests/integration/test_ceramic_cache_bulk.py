"""POST, PATCH and DELETE /ceramic-cache/stamps/bulk on a real PostgreSQL, through the handler."""

from __future__ import annotations

from typing import Any

from scorer_core.cache_rows import MAX_BULK_CACHE_SIZE
from tools import credentials, seed

from .ceramic import SECRET, CacheWorld, alb_event, auth, call, http_event, rest_event
from .world import new_address

BULK = "/ceramic-cache/stamps/bulk"
GENERIC = {"error": "An error has occurred"}


def test_post_writes_rows_and_scores(cache_world: CacheWorld) -> None:
    address = new_address()
    answer = cache_world.bulk(
        "POST", address, [cache_world.item(address, "Google"), cache_world.item(address, "Ens")]
    )
    assert answer.status == 201 and answer.raw["statusDescription"] == "200 OK"
    assert [s["provider"] for s in answer.body["stamps"]] == ["Ens", "Google"]
    assert list(answer.body) == ["success", "stamps", "score"]
    score = answer.body["score"]
    assert score["address"] == address and score["error"] is None and score["score"] == "0.73300"
    assert score["points_data"] is None and set(score["stamps"]) == {"Google", "Ens"}
    rows = cache_world.visible(address)
    assert [
        (r["source_app"], r["source_scorer_id"], r["type"], r["compose_db_save_status"]) for r in rows
    ] == [(1, None, 1, "pending")] * 2
    assert rows[0]["expiration_date"] is not None and rows[0]["issuance_date"] is not None
    assert cache_world.world.count("registry_score", "status = 'DONE'") == 1


def test_reposting_replaces_the_visible_row(cache_world: CacheWorld) -> None:
    address = new_address()
    cache_world.bulk("POST", address, [cache_world.item(address, "Google")])
    again = cache_world.bulk("POST", address, [cache_world.item(address, "Google", nullifiers=["v0:other"])])
    assert again.status == 201 and len(again.body["stamps"]) == 1
    assert again.body["stamps"][0]["stamp"]["credentialSubject"]["nullifiers"] == ["v0:other"]
    assert cache_world.world.count("ceramic_cache_ceramiccache", "deleted_at IS NOT NULL") == 1
    assert len(cache_world.visible(address)) == 1


def test_an_empty_payload_rescores(cache_world: CacheWorld) -> None:
    address = new_address()
    answer = cache_world.bulk("POST", address, [])
    assert answer.status == 201 and answer.body["stamps"] == [] and answer.body["score"]["score"] == "0.00000"
    assert cache_world.world.count("ceramic_cache_ceramiccache") == 0


def test_failures_change_nothing(cache_world: CacheWorld) -> None:
    """Errors after the writes roll them back (agreed deviation 10), with the reference's status and text."""
    address = new_address()
    cache_world.bulk("POST", address, [cache_world.item(address, "Google")])
    before = cache_world.world.rows("SELECT * FROM ceramic_cache_ceramiccache ORDER BY id")
    google = cache_world.item(address, "Google")
    cases: list[tuple[Any, int, dict[str, str]]] = [
        ([google, google], 500, {"error": "DB Error: IntegrityError"}),
        ([{"provider": "Google"}], 400, GENERIC),
        ([{"provider": "Google", "stamp": {"proof": {}}}], 400, GENERIC),
        ([{"provider": "Google", "stamp": {**google["stamp"], "expirationDate": "soon"}}], 400, GENERIC),
        ([{"provider": "P" * 300, "stamp": google["stamp"]}], 500, {"error": "DB Error: DataError"}),
        ([{"stamp": google["stamp"]}], 400, GENERIC),
        ({"a": 1}, 400, GENERIC),
        ([google] * (MAX_BULK_CACHE_SIZE + 1), 422, {"error": "You have submitted too many stamps."}),
    ]
    for payload, status, body in cases:
        answer = cache_world.bulk("POST", address, payload)
        assert (answer.status, answer.body) == (status, body), payload
        assert answer.raw["statusCategory"] == ("4XX" if status < 500 else "5XX")
    assert cache_world.world.rows("SELECT * FROM ceramic_cache_ceramiccache ORDER BY id") == before


def test_a_non_address_did_writes_nothing(cache_world: CacheWorld) -> None:
    address = new_address()
    answer = cache_world.bulk(
        "POST", address, [cache_world.item(address, "Google")], did="did:key:z6MkNotAnAddress"
    )
    assert (answer.status, answer.body) == (400, {"error": "Invalid address."})
    assert cache_world.world.count("ceramic_cache_ceramiccache") == 0
    assert cache_world.world.count("registry_passport") == 0


def test_mixed_case_did_is_lower_cased(cache_world: CacheWorld) -> None:
    address = new_address()
    mixed = "0x" + address[2:].upper()
    answer = cache_world.bulk(
        "POST", address, [cache_world.item(address, "Google")], did=f"did:pkh:eip155:1:{mixed}"
    )
    assert answer.status == 201 and answer.body["score"]["address"] == address
    assert answer.body["stamps"][0]["address"] == address


def test_jwt_failures(cache_world: CacheWorld) -> None:
    address = new_address()
    expired = credentials.access_token(address, SECRET, exp=1_700_000_000)
    cases = {
        "Bearer " + expired: "Token is invalid or expired",
        "Bearer " + credentials.access_token(address, "another key"): "Token is invalid or expired",
        "Bearer " + credentials.access_token(address, SECRET, token_type="refresh"): "Token has wrong type",
        "Bearer " + credentials.access_token(address, SECRET, jti=None): "Token has no id",
        "": "Token is invalid or expired",
    }
    for header, reason in cases.items():
        answer = call(alb_event("POST", BULK, headers={"authorization": header}, body=[]))
        assert answer.status == 401 and f"string='{reason}'" in answer.body["error"], header
    no_did = credentials.access_token(None, SECRET)
    no_did_answer = call(alb_event("POST", BULK, headers={"authorization": no_did}, body=[]))
    assert (no_did_answer.status, no_did_answer.body) == (400, GENERIC)


def test_every_event_source_and_header_casing(cache_world: CacheWorld) -> None:
    address = new_address()
    token = credentials.access_token(address, SECRET)
    rest = call(rest_event("POST", BULK, headers={"Authorization": f"Bearer {token}"}, body=[]))
    assert rest.status == 201 and "statusDescription" not in rest.raw
    http = call(http_event("POST", BULK, headers={"authorization": token}, body=[]))
    assert http.status == 201 and set(http.raw) == {"statusCode", "isBase64Encoded", "headers", "body"}
    encoded = call(
        alb_event(
            "POST", BULK, headers=auth(address), body=[cache_world.item(address, "Ens")], base64_body=True
        )
    )
    assert encoded.status == 201 and [s["provider"] for s in encoded.body["stamps"]] == ["Ens"]
    multi = alb_event("POST", BULK, body=[])
    del multi["headers"], multi["queryStringParameters"]
    multi["multiValueHeaders"] = {"authorization": ["Bearer x", f"Bearer {token}"]}
    multi["multiValueQueryStringParameters"] = {}
    multi_answer = call(multi)
    assert multi_answer.status == 201 and "multiValueHeaders" in multi_answer.raw
    null_headers = call(rest_event("POST", BULK, headers=None, body=[]))
    assert (null_headers.status, null_headers.body) == (400, GENERIC)


def test_a_dry_run_writes_nothing(cache_world: CacheWorld) -> None:
    address = new_address()
    event = alb_event("POST", BULK, headers=auth(address), body=[cache_world.item(address, "Google")])
    assert call(event, dry_run=True).status == 201
    assert (
        cache_world.world.count("ceramic_cache_ceramiccache") == 0
        and cache_world.world.count("registry_score") == 0
    )


def test_points_objects_on_a_human_points_community(cache_world: CacheWorld) -> None:
    world = cache_world.world
    address = new_address()
    with world.conn() as conn:
        seed.seed_human_points_config(conn)
        scorer = seed.insert_scorer(conn, weights={"Google": 1}, threshold="1.00000")
        community = seed.insert_community(
            conn, world.account_id, scorer, name="hp", human_points_program=True
        )
        seed.insert_human_points(conn, address, "PMT", chain_id=10)
        seed.insert_human_points_multiplier(conn, address, 2)
    cache_world.configure(CERAMIC_CACHE_SCORER_ID=str(community), HUMAN_POINTS_ENABLED="true")
    answer = cache_world.bulk("POST", address, [])  # a failing score still carries both objects
    points, possible = answer.body["score"]["points_data"], answer.body["score"]["possible_points_data"]
    assert points == {
        "total_points": 300,
        "is_eligible": False,
        "multiplier": 2,
        "breakdown": {"PMT_10": 300, "PMT": 300},
    }
    assert possible["total_points"] == 0 and possible["multiplier"] == 2 and "HIM" in possible["breakdown"]


def test_patch_deletes_and_reinserts(cache_world: CacheWorld) -> None:
    address = new_address()
    cache_world.bulk("POST", address, [cache_world.item(address, "Google"), cache_world.item(address, "Ens")])
    with cache_world.world.conn() as conn:
        seed.insert_ceramic_stamp(conn, address, cache_world.item(address, "Lens")["stamp"], type=2)
    answer = cache_world.bulk(
        "PATCH",
        address,
        [cache_world.item(address, "Google"), {"provider": "Ens"}, {"provider": "Lens", "stamp": {}}],
    )
    assert answer.status == 200 and [s["provider"] for s in answer.body["stamps"]] == ["Google"]
    rows = cache_world.visible(address)
    assert [(r["provider"], r["source_app"]) for r in rows] == [("Google", None)]
    assert set(answer.body["score"]["stamps"]) == {"Google"}


def test_delete(cache_world: CacheWorld) -> None:
    address = new_address()
    cache_world.bulk("POST", address, [cache_world.item(address, "Google"), cache_world.item(address, "Ens")])
    with cache_world.world.conn() as conn:
        seed.insert_ceramic_stamp(conn, address, cache_world.item(address, "Lens")["stamp"], type=2)
    nothing = cache_world.bulk("DELETE", address, [{"provider": "Nope"}])
    assert (nothing.status, nothing.body) == (404, {"error": "Unable to find stamp to delete."})
    assert cache_world.bulk("DELETE", address, []).status == 404
    answer = cache_world.bulk("DELETE", address, [{"provider": "Ens"}, {"provider": "Nope"}])
    assert answer.status == 200
    assert [(s["provider"]) for s in answer.body["stamps"]] == ["Google", "Lens"]  # every type, type 1 first
    assert set(answer.body["score"]["stamps"]) == {"Google", "Lens"}  # scoring reads every type
    assert [r["provider"] for r in cache_world.visible(address)] == ["Google", "Lens"]


def test_rows_take_the_payload_provider(cache_world: CacheWorld) -> None:
    address = new_address()
    item = {"provider": "Ens", "stamp": cache_world.item(address, "Google")["stamp"]}
    answer = cache_world.bulk("POST", address, [item])
    assert answer.status == 201 and [s["provider"] for s in answer.body["stamps"]] == ["Ens"]
    assert [r["provider"] for r in cache_world.visible(address)] == ["Ens"]
