"""The sample events of events/ through the score handler, in-process, on the demo data.

The same events run against the built bundle under the Lambda emulator in CI (`make invoke-all`); here they
run against the source tree, so a change that breaks a sample shows up with the rest of the test suite.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
import pytest

from scorer_core.settings import get_settings
from tools import demo
from tools.lambda_context import LambdaContext
from tools.seed import DemoData, demo_dataset

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, int] = json.loads((EVENTS_DIR / "expected.json").read_text())
NOT_EVENTS = {"expected.json", "env.local.json"}


@pytest.fixture
def demo_data(clean_db: str) -> Iterator[DemoData]:
    """The demo data set and the demo's settings (tools.demo), restored afterwards."""
    with psycopg.connect(clean_db) as conn:
        data = demo_dataset(conn)
    with mock.patch.dict(os.environ):
        demo.configure_environment(clean_db, data.issuer_did, quiet=True)
        get_settings.cache_clear()
        yield data
    get_settings.cache_clear()


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def test_every_event_has_an_expected_status_and_a_line_in_the_readme() -> None:
    files = {p.name for p in EVENTS_DIR.glob("*.json")} - NOT_EVENTS
    assert files == set(EXPECTED)
    readme = (EVENTS_DIR / "README.md").read_text()
    assert [name for name in sorted(files) if f"`{name}` ({EXPECTED[name]})" not in readme] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_gets_expected_status(name: str, demo_data: DemoData) -> None:
    from handlers.score import handler

    event = _load(name)
    response = handler(event, LambdaContext())
    assert response["statusCode"] == EXPECTED[name], response.get("body")
    headers = response.get("headers") or {k: ",".join(v) for k, v in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    if response["statusCode"] == 200:
        assert body["address"] == demo_data.address
        assert Decimal(body["score"]) == demo_data.expected_score
        assert set(body["stamps"]) == set(demo_data.providers)
    else:
        assert set(body) == {"error"}
    if "elb" in event.get("requestContext", {}):
        assert response["statusDescription"].startswith(str(EXPECTED[name]))


def _handler_for(name: str) -> Any:
    """The handler of the module that names the event file (``score_*.json`` -> ``handlers.score``)."""
    import importlib

    from tools.invoke import function_for_event

    modules = {
        f"handlers.{p.stem}": f"handlers.{p.stem}" for p in (EVENTS_DIR.parent / "handlers").glob("*.py")
    }
    module = function_for_event(name, modules)
    assert module is not None, f"no handler module for {name}"
    return importlib.import_module(module).handler


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_response_envelope_is_what_the_event_source_accepts(name: str, demo_data: DemoData) -> None:
    """API Gateway (REST and HTTP API) answers 502 to any key beyond its proxy response keys; only ALB
    targets get ``statusDescription`` (agreed deviation 9)."""
    from tools.envelope import REST_KEYS, envelope_problem, source_of

    event = _load(name)
    response = _handler_for(name)(event, LambdaContext())
    assert envelope_problem(event, response) is None
    if source_of(event) == "alb":
        assert "statusDescription" in response
    else:
        assert "statusDescription" not in response and "statusCategory" not in response
        assert set(response) <= REST_KEYS
