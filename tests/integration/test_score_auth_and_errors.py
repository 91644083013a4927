"""Authentication, rate limiting, request parsing and scorer resolution, end to end."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis

from tools import seed

from .world import World, new_address


def test_missing_key_is_401_and_writes_nothing(world: World) -> None:
    response = world.score(new_address(), headers={})
    assert response.status == 401
    assert response.raw["body"] == '{"error": "Invalid API Key."}'
    assert set(response.raw) == {
        "statusCode",
        "isBase64Encoded",
        "headers",
        "body",
    }  # API Gateway's keys only
    assert world.count("registry_passport") == 0
    assert world.count("account_accountapikeyanalytics") == 0


@pytest.mark.parametrize("header", ["X-API-Key", "X-Api-Key", "x-api-key"])
def test_key_header_name_is_case_insensitive(world: World, header: str) -> None:
    response = world.score(new_address(), headers={header: world.key, "Cookie": "c", "AUTHORIZATION": "a"})
    assert response.status == 200
    [row] = world.rows("SELECT headers FROM account_accountapikeyanalytics")
    assert row["headers"] == {header: "***", "Cookie": "***", "AUTHORIZATION": "***"}


def test_authorization_header_is_not_read(world: World) -> None:
    assert world.score(new_address(), headers={"authorization": f"Bearer {world.key}"}).status == 401


def test_wrong_secret_and_unknown_prefix_are_401_without_analytics(world: World) -> None:
    prefix = world.key.split(".")[0]
    assert world.score(new_address(), key=prefix + ".wrongsecret").status == 401
    assert world.score(new_address(), key="Nope1234.secret").status == 401
    assert world.count("account_accountapikeyanalytics") == 0


def test_legacy_pbkdf2_key_is_migrated(world: World) -> None:
    with world.conn() as conn:
        key, key_id = seed.insert_api_key(conn, world.account_id, hash_kind="pbkdf2")
    assert world.score(new_address(), key=key).status == 200
    [row] = world.rows("SELECT hashed_key_sha256 FROM account_accountapikey WHERE id = %s", key_id)
    assert row["hashed_key_sha256"] == seed.sha256_field(key)


def test_malformed_pbkdf2_hash_is_500_without_analytics(world: World) -> None:
    with world.conn() as conn:
        key, key_id = seed.insert_api_key(conn, world.account_id, hash_kind="pbkdf2")
        conn.execute(
            "UPDATE account_accountapikey SET hashed_key = 'pbkdf2_sha256$1000$salt' WHERE id = %s", (key_id,)
        )
    response = world.score(new_address(), key=key)
    assert response.status == 500 and response.body == {"error": "An error has occurred"}
    assert world.count("account_accountapikeyanalytics") == 0


@pytest.mark.parametrize(
    "change", [{"revoked": True}, {"expiry_date": datetime.now(UTC) - timedelta(days=1)}]
)
def test_revoked_or_expired_keys_are_refused(world: World, change: dict[str, object]) -> None:
    with world.conn() as conn:
        key, _ = seed.insert_api_key(conn, world.account_id, hash_kind="pbkdf2", **change)  # type: ignore[arg-type]
    assert world.score(new_address(), key=key).status == 401
    assert world.count("registry_passport") + world.count("account_accountapikeyanalytics") == 0
    assert world.count("account_accountapikey", "hashed_key_sha256 IS NULL") == 1


def test_demo_alias_and_demo_scorer(world: World, configure: Callable[..., str]) -> None:
    configure(
        DEMO_API_KEY=world.key,
        DEMO_API_KEY_ALIASES='["demo-key"]',
        DEMO_API_SCORER_ID=str(world.community_id),
    )
    response = world.score(new_address(), key="demo-key", community=-1)
    assert response.status == 200
    [row] = world.rows("SELECT api_key_id, path_segments FROM account_accountapikeyanalytics")
    assert row["api_key_id"] == world.key_id and row["path_segments"][2] == "-1"


def test_alias_without_demo_key_is_401(world: World, configure: Callable[..., str]) -> None:
    configure(DEMO_API_KEY_ALIASES='["demo-key"]')
    assert world.score(new_address(), key="demo-key").status == 401


def test_invalid_json_body_is_500_with_null_payload(world: World) -> None:
    response = world.score(new_address(), body="{not json")
    assert response.status == 500 and response.raw["body"] == '{"error": "An error has occurred"}'
    [row] = world.rows("SELECT status_code, payload, error FROM account_accountapikeyanalytics")
    assert row["status_code"] == 500 and row["payload"] is None and row["error"].startswith("Expecting")


def test_base64_body_is_decoded_into_the_payload(world: World) -> None:
    body = base64.b64encode(b'{"hello": "world"}').decode()
    assert world.score(new_address(), body=body, isBase64Encoded=True).status == 200
    assert world.rows("SELECT payload FROM account_accountapikeyanalytics")[0]["payload"] == {
        "hello": "world"
    }


def test_missing_is_base64_flag_means_false(world: World) -> None:
    from handlers.score import handler

    from .world import Context, rest_event

    event = rest_event(f"/v2/stamps/{world.community_id}/score/{new_address()}", {"x-api-key": world.key})
    del event["isBase64Encoded"]
    assert handler(event, Context())["statusCode"] == 200


def test_event_without_query_parameters_key_writes_no_analytics(world: World) -> None:
    from handlers.score import handler

    from .world import Context, rest_event

    event = rest_event(f"/v2/stamps/{world.community_id}/score/{new_address()}", {"x-api-key": world.key})
    del event["queryStringParameters"]
    assert handler(event, Context())["statusCode"] == 200
    assert world.count("account_accountapikeyanalytics") == 0


def test_unknown_and_foreign_scorers_are_404(world: World) -> None:
    for scorer in (999999, world.other_community_id, "not-a-number", "99999999999999999999999"):
        response = world.score(new_address(), community=scorer)
        assert response.status == 404
        assert response.raw["body"] == '{"error": "No scorer matches the given criteria."}'
    rows = world.rows("SELECT status_code, error, response, payload FROM account_accountapikeyanalytics")
    assert len(rows) == 4
    assert rows[0] == {
        "status_code": 404,
        "error": "No scorer matches the given criteria.",
        "response": '{"error": "No scorer matches the given criteria."}',
        "payload": {},
    }
    assert world.count("registry_passport") == 0


def test_bad_scorer_wins_over_bad_address(world: World) -> None:
    assert world.score("0x123", community=999999).status == 404
    response = world.score("0x123")
    assert response.status == 400 and response.raw["body"] == '{"error": "Invalid address."}'
    assert world.count("registry_passport") == 0


def test_external_id_wins_over_numeric_id(world: World) -> None:
    with world.conn() as conn:
        scorer = seed.insert_scorer(conn, weights={"Google": 99}, threshold="1")
        external = seed.insert_community(
            conn, world.account_id, scorer, name="ext", external_scorer_id=str(world.community_id)
        )
    address = new_address()
    assert world.score(address).status == 200
    assert world.rows("SELECT community_id FROM registry_passport")[0]["community_id"] == external


def test_deleted_community_is_still_scored(world: World) -> None:
    with world.conn() as conn:
        scorer = seed.insert_scorer(conn, weights={})
        community = seed.insert_community(
            conn, world.account_id, scorer, name="gone", deleted_at=datetime(2025, 1, 1, tzinfo=UTC)
        )
    assert world.score(new_address(), community=community).status == 200


def test_missing_scorer_subclass_row_is_500(world: World) -> None:
    with world.conn() as conn:
        scorer = seed.insert_scorer(conn, weights={})
        conn.execute("DELETE FROM scorer_weighted_binaryweightedscorer WHERE scorer_ptr_id = %s", (scorer,))
        community = seed.insert_community(conn, world.account_id, scorer, name="broken")
    response = world.score(new_address(), community=community)
    assert response.status == 500
    [row] = world.rows("SELECT error FROM account_accountapikeyanalytics")
    assert row["error"] == "BinaryWeightedScorer matching query does not exist."


@pytest.fixture
def redis_url() -> str:
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).flushdb()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return url


def test_rate_limit_refuses_the_request_over_the_limit(
    world: World, configure: Callable[..., str], redis_url: str
) -> None:
    configure(RATELIMIT_ENABLE="true", REDIS_URL=redis_url)
    with world.conn() as conn:
        key, _ = seed.insert_api_key(conn, world.account_id, rate_limit="2/15m")
    address = new_address()
    assert [world.score(address, key=key).status for _ in range(3)] == [200, 200, 429]
    last = world.score(address, key=key)
    assert last.body["error"].startswith("You have been rate limited! Use this form")
    assert "statusDescription" not in last.raw
    alb = world.score(address, key=key, requestContext={"elb": {"targetGroupArn": "arn"}})
    assert (alb.status, alb.raw["statusDescription"], alb.raw["statusCategory"]) == (429, "", "4XX")
    row = world.rows("SELECT status_code, error, payload FROM account_accountapikeyanalytics ORDER BY id")[-1]
    assert row == {"status_code": 429, "error": "", "payload": None}


def test_rate_limit_fails_open_when_redis_is_unreachable(world: World, configure: Callable[..., str]) -> None:
    configure(RATELIMIT_ENABLE="true", REDIS_URL="redis://127.0.0.1:1/0")
    assert world.score(new_address()).status == 200


def test_unlimited_keys_never_touch_redis(world: World, configure: Callable[..., str]) -> None:
    configure(RATELIMIT_ENABLE="true", REDIS_URL="redis://127.0.0.1:1/0")
    with world.conn() as conn:
        key, _ = seed.insert_api_key(conn, world.account_id, rate_limit="")
    assert world.score(new_address(), key=key).status == 200


def test_analytics_flag_must_be_exactly_on(world: World, configure: Callable[..., str]) -> None:
    configure(FF_API_ANALYTICS="On")
    assert world.score(new_address()).status == 200
    assert world.count("account_accountapikeyanalytics") == 0


def test_overlong_path_still_answers_and_skips_analytics(world: World) -> None:
    response = world.score("0x" + "ab" * 600)
    assert response.status == 400
    assert world.count("account_accountapikeyanalytics") == 0
