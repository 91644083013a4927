"""The database secret: a fixed (rotated) secret is fetched again when the server refuses it, and no secret
reaches the logs under debugging settings (a DEBUG root logger, ``POWERTOOLS_LOGGER_LOG_EVENT=true``)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from scorer_core import db
from scorer_core.settings import get_settings
from tests.integration.world import World, new_address, rest_event
from tools import localdb

PASSWORD = "s3cret-Pa55word-never-logged"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Secrets Manager (moto) client; the service reads its database from a secret there."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="us-east-1")


def _secret(url: str, **overrides: Any) -> str:
    params = conninfo_to_dict(url)
    secret = {
        "host": params.get("host") or "127.0.0.1",
        "port": int(str(params.get("port") or 5432)),
        "username": params.get("user") or "postgres",
        "password": params.get("password") or PASSWORD,
        "dbname": localdb.dbname_of(url),
    }
    secret.update(overrides)
    return json.dumps(secret)


@pytest.fixture
def from_secret(
    world: World, secrets: Any, monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> Iterator[tuple[Any, str]]:
    arn = secrets.create_secret(Name="scorer-faults-db", SecretString=_secret(world.url))["ARN"]
    monkeypatch.delenv("DATABASE_URL")
    configure(DB_SECRET_ARN=arn)
    db.close_pool()
    try:
        yield secrets, arn
    finally:
        db.close_pool()
        monkeypatch.setenv("DATABASE_URL", world.url)
        get_settings.cache_clear()


def test_a_rotated_secret_is_fetched_again_when_the_server_refuses(
    world: World, from_secret: tuple[Any, str]
) -> None:
    client, arn = from_secret
    address = new_address()
    world.stamp(address, "Github")
    client.put_secret_value(SecretId=arn, SecretString=_secret(world.url, username="no_such_role_here"))
    db.close_pool()
    from aws_lambda_powertools.utilities import parameters

    parameters.get_secret(arn, transform="json", max_age=300, force_fetch=True)  # the bad value is cached
    assert world.score(address).status == 500
    client.put_secret_value(SecretId=arn, SecretString=_secret(world.url))  # the operator fixes the secret
    response = world.score(address)
    assert response.status == 200, response.body


def test_a_debug_root_logger_never_logs_the_database_password(
    world: World, from_secret: tuple[Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    address = new_address()
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("botocore").setLevel(logging.DEBUG)
            assert world.score(address).status == 200
    finally:
        root.setLevel(previous)
        logging.getLogger("botocore").setLevel(logging.NOTSET)
    assert caplog.records, "debug logging was on"
    assert PASSWORD not in caplog.text


def _serve_with_event_logging(module: str, event: dict[str, Any], database_url: str) -> tuple[str, str]:
    """One request in a fresh interpreter with POWERTOOLS_LOGGER_LOG_EVENT on (the setting is read when the
    handler module is imported); stdout then stderr."""
    script = (
        "import json, sys, importlib\n"
        f"handler = importlib.import_module({module!r}).handler\n"
        "from tools.lambda_context import LambdaContext\n"
        "response = handler(json.loads(sys.stdin.read()), LambdaContext())\n"
        "print('STATUS', response['statusCode'])\n"
    )
    env = {**os.environ, "POWERTOOLS_LOGGER_LOG_EVENT": "true", "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
        check=False,
    )
    return done.stdout, done.stderr


def test_log_event_setting_never_logs_the_api_key(world: World) -> None:
    """The setting is read when the handler module is imported, so a fresh interpreter serves one request."""
    address = new_address()
    event = rest_event(f"/v2/stamps/{world.community_id}/score/{address}", {"x-api-key": world.key})
    stdout, stderr = _serve_with_event_logging("handlers.score", event, world.url)
    assert "STATUS 200" in stdout, stderr
    assert "score request" in stdout
    assert world.key.split(".", 1)[1] not in stdout + stderr


@pytest.mark.parametrize(
    ("module", "path", "header"),
    [
        ("handlers.embed", "/internal/embed/validate-api-key", "x-api-key"),
        ("handlers.ceramic_cache", "/ceramic-cache/weights", "authorization"),
    ],
)
def test_log_event_setting_never_logs_a_credential_on_other_routes(
    world: World, module: str, path: str, header: str
) -> None:
    """The embed and ceramic-cache handlers ignore POWERTOOLS_LOGGER_LOG_EVENT too (keys and JWTs)."""
    secret = "Bearer never-in-a-log-0123456789" if header == "authorization" else world.key
    event = {
        "requestContext": {"elb": {"targetGroupArn": "arn"}},
        "httpMethod": "GET",
        "path": path,
        "headers": {header: secret},
        "queryStringParameters": {},
        "body": "",
        "isBase64Encoded": False,
    }
    stdout, stderr = _serve_with_event_logging(module, event, world.url)
    assert "STATUS" in stdout, stderr
    assert secret.split(" ")[-1].split(".")[-1] not in stdout + stderr
