"""Redis down or stalled while rate limiting is on: the request is served (fail open), the counter is asked
before the database transaction opens, and after a failure Redis is left alone for a while (circuit breaker)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis

from scorer_core import db
from scorer_core.auth import ratelimit
from tests.integration.world import World, new_address
from tools import seed

from .proxy import FaultProxy


@pytest.fixture
def redis_proxy() -> Iterator[FaultProxy]:
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/11", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    proxy = FaultProxy(("127.0.0.1", 6379))
    ratelimit.reset_breaker()
    try:
        yield proxy
    finally:
        proxy.close()
        ratelimit.reset_breaker()


def _limited_key(world: World) -> str:
    with world.conn() as conn:
        key, _ = seed.insert_api_key(conn, world.account_id, rate_limit="100/15m")
    return key


def test_the_rate_limit_is_checked_before_the_transaction_opens(
    world: World, configure: Callable[..., None], redis_proxy: FaultProxy
) -> None:
    configure(RATELIMIT_ENABLE="true", REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/11")
    key = _limited_key(world)
    open_transactions: list[int] = []

    def count_open_transactions() -> None:
        with psycopg.connect(world.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()",
                (db.APPLICATION_NAME,),
            ).fetchone()
        assert row is not None
        open_transactions.append(int(row[0]))

    redis_proxy.faults.on_burst = count_open_transactions
    assert world.score(new_address(), key=key).status == 200
    assert open_transactions, "Redis was asked"
    assert set(open_transactions) == {0}


def test_a_stalled_redis_fails_open_and_is_then_left_alone(
    world: World, configure: Callable[..., None], redis_proxy: FaultProxy
) -> None:
    configure(RATELIMIT_ENABLE="true", REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/11")
    key = _limited_key(world)
    address = new_address()
    redis_proxy.faults.stall = True
    assert world.score(address, key=key).status == 200
    assert redis_proxy.stalled.is_set()
    attempts = redis_proxy.attempts
    redis_proxy.faults.refuse = True
    for _ in range(3):
        assert world.score(address, key=key).status == 200
    assert redis_proxy.attempts == attempts, "the open breaker kept requests away from Redis"
    assert world.rows("SELECT count(*) AS n FROM account_accountapikeyanalytics")[0]["n"] == 4


def test_a_refused_redis_fails_open(
    world: World, configure: Callable[..., None], redis_proxy: FaultProxy
) -> None:
    configure(RATELIMIT_ENABLE="true", REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/11")
    key = _limited_key(world)
    redis_proxy.faults.refuse = True
    assert world.score(new_address(), key=key).status == 200
    ratelimit.reset_breaker()
    redis_proxy.faults.refuse = False
    assert world.score(new_address(), key=key).status == 200
