"""A small, explicit test world on the real database: an account, a key, scorers, and helpers to ask for scores."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tools import credentials, seed
from tools.lambda_context import LambdaContext

WEIGHTS = {
    "Google": 0.525,
    "Ens": 0.208,
    "Linkedin": 1.531,
    "Discord": 0.516,
    "Github": 10.0,
    "Twitter": 10.0,
    "SelfStakingBronze": 1.0,
    "TrustedCitizen": 1.0,
    "HolonymPhone": 1.0,
    "Lens": 0.23,
}
EXPIRY = "2031-03-04T05:06:07.891Z"


Context = LambdaContext  # the name the tests use


_issued: dict[str, int] = {}


def new_address() -> str:
    """Deterministic per test, so signed credentials come from the on-disk cache on later runs."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    _issued[test] = _issued.get(test, 0) + 1
    return "0x" + hashlib.sha256(f"{test}#{_issued[test]}".encode()).hexdigest()[:40]


def rest_event(path: str, headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "resource": "/v2/stamps/{scorer_id}/score/{address}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers if headers is not None else {},
        "queryStringParameters": None,
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    }
    event.update(extra)
    return event


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class World:
    url: str
    account_id: int
    key: str
    key_id: str
    community_id: int
    other_key: str = ""
    other_community_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def conn(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            yield conn

    def stamp(
        self,
        address: str,
        provider: str,
        *,
        expiration: str = EXPIRY,
        column_provider: str | None = None,
        vc: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Sign (or take) a credential and put it in the ceramic cache for ``address``."""
        vc = vc or credentials.issue_stamp(address, provider, expiration=expiration, **kwargs)
        with self.conn() as conn:
            seed.insert_ceramic_stamp(conn, address, vc, provider=column_provider)
        return vc

    def score(
        self,
        address: str,
        *,
        community: int | str | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **event_extra: Any,
    ) -> Response:
        from handlers.score import handler

        scorer = self.community_id if community is None else community
        hdrs = {"x-api-key": self.key if key is None else key} if headers is None else headers
        raw = handler(rest_event(f"/v2/stamps/{scorer}/score/{address}", hdrs, **event_extra), Context())
        return Response(raw["statusCode"], json.loads(raw["body"]), raw)

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def count(self, table: str, where: str = "true", *params: Any) -> int:
        return int(self.rows(f"SELECT count(*) AS n FROM {table} WHERE {where}", *params)[0]["n"])


def build_world(url: str) -> World:
    with psycopg.connect(url, autocommit=True) as conn:
        account = seed.insert_account(conn)
        key, key_id = seed.insert_api_key(conn, account)
        scorer = seed.insert_scorer(conn, weights=WEIGHTS, threshold="20.00000")
        community = seed.insert_community(conn, account, scorer, name="main")
        other_account = seed.insert_account(conn)
        other_key, _ = seed.insert_api_key(conn, other_account)
        other_scorer = seed.insert_scorer(conn, weights=WEIGHTS)
        other_community = seed.insert_community(conn, other_account, other_scorer, name="other")
    return World(url, account, key, key_id, community, other_key, other_community)
