"""Malformed and hostile events: every one gets a dict with the reference's status and a JSON body.

The score handler's expected status is modelled on the reference's order (key, then path, scorer, address);
the other routes' handlers, when present, must at least never raise and always answer JSON.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.world import Context, World, new_address

SHAPES = ("rest", "http", "alb")
ODD_VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


def _event(shape: str, path: Any, headers: Any, context: Any = None) -> dict[str, Any]:
    if shape == "http":
        return {
            "version": "2.0",
            "rawPath": path,
            "headers": headers,
            "requestContext": context if context is not None else {"http": {"method": "GET"}},
            "isBase64Encoded": False,
        }
    event: dict[str, Any] = {
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "queryStringParameters": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": context if context is not None else ({"elb": {}} if shape == "alb" else {}),
    }
    return event


def _assert_json_response(response: Any) -> dict[str, Any]:
    assert isinstance(response, dict)
    assert isinstance(response["statusCode"], int)
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    return body


def _score(event: Any) -> dict[str, Any]:
    from handlers.score import handler

    response = handler(event, Context())
    _assert_json_response(response)
    return response


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("headers", [["x-api-key", "k"], "x-api-key: k", 7, None, {"x-api-key": 5}])
def test_headers_that_are_not_a_map_are_unauthenticated(world: World, shape: str, headers: Any) -> None:
    event = _event(shape, f"/v2/stamps/{world.community_id}/score/{new_address()}", headers)
    assert _score(event)["statusCode"] == 401


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", [None, 12, 1.5, ["v2"], {}])
def test_paths_that_are_not_text(world: World, shape: str, path: Any) -> None:
    wrong = _event(shape, path, {"x-api-key": "wrong.key"})
    assert _score(wrong)["statusCode"] == 401
    right = _event(shape, path, {"x-api-key": world.key})
    response = _score(right)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "An error has occurred"}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("context", [[], "elb", 3, {"elb": None}])
def test_request_context_of_any_type(world: World, shape: str, context: Any) -> None:
    event = _event(
        shape, f"/v2/stamps/{world.community_id}/score/{new_address()}", {"x-api-key": world.key}, context
    )
    assert _score(event)["statusCode"] == 200


@pytest.mark.parametrize("shape", SHAPES)
def test_nul_bytes_in_path_segments(world: World, shape: str) -> None:
    address = new_address()
    bad_address = _event(
        shape, f"/v2/stamps/{world.community_id}/score/{address}\x00", {"x-api-key": world.key}
    )
    response = _score(bad_address)
    assert response["statusCode"] == 400, response
    bad_scorer = _event(
        shape, f"/v2/stamps/{world.community_id}\x00/score/{address}", {"x-api-key": world.key}
    )
    assert _score(bad_scorer)["statusCode"] == 404
    bad_key = _event(shape, f"/v2/stamps/{world.community_id}/score/{address}", {"x-api-key": "a\x00b.c"})
    assert _score(bad_key)["statusCode"] == 401


def test_events_that_are_not_objects(world: World) -> None:
    for event in (None, [], "event", 3):
        assert _score(event)["statusCode"] == 401


def _expected_status(world: World, path: Any, headers: Any) -> int:
    """The reference's status for a GET without body: key first, then the path, scorer and address."""
    key = headers.get("x-api-key") if isinstance(headers, dict) else None
    if key != world.key:
        return 401
    if not isinstance(path, str):
        return 500
    segments = path.split("/")
    if len(segments) < 3:
        return 500
    scorer, address = segments[-3], segments[-1].lower()
    if scorer != str(world.community_id):
        return 404
    digits = address[2:] if address.startswith("0x") else address
    valid = len(digits) == 40 and all(c in "0123456789abcdef" for c in digits)
    return 200 if valid else 400


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    shape=st.sampled_from(SHAPES),
    key_kind=st.sampled_from(["right", "wrong", "odd", "absent"]),
    path_kind=st.sampled_from(["good", "text", "odd"]),
    context=st.one_of(st.none(), ODD_VALUES),
)
def test_generated_events_get_the_reference_status(
    world: World, data: st.DataObject, shape: str, key_kind: str, path_kind: str, context: Any
) -> None:
    headers: Any
    if key_kind == "right":
        headers = {"x-api-key": world.key}
    elif key_kind == "wrong":
        headers = {"x-api-key": data.draw(st.text(max_size=20))}
    elif key_kind == "odd":
        headers = data.draw(ODD_VALUES)
    else:
        headers = {}
    if path_kind == "good":
        address = data.draw(st.sampled_from([new_address(), "0xZZ", new_address().upper()[2:]]))
        path: Any = f"/v2/stamps/{world.community_id}/score/{address}"
    elif path_kind == "text":
        path = data.draw(st.text(alphabet=st.sampled_from("/v2s0x\x00aé1"), max_size=30))
    else:
        path = data.draw(ODD_VALUES)
    event = _event(shape, path, headers, context)
    response = _score(event)
    assert response["statusCode"] == _expected_status(world, path, headers)


def _other_handlers() -> list[Callable[[Any, Any], Any]]:
    found = []
    for name in ("handlers.embed", "handlers.ceramic_cache"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(module.handler)
    return found


OTHER_HANDLERS = _other_handlers()


@pytest.mark.skipif(not OTHER_HANDLERS, reason="no other route family's handler in this tree")
@pytest.mark.parametrize("handler", OTHER_HANDLERS, ids=lambda h: h.__module__)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.sampled_from(SHAPES),
    path=st.one_of(ODD_VALUES, st.text(alphabet=st.sampled_from("/v2s0x\x00a1"), max_size=30)),
    headers=ODD_VALUES,
    context=st.one_of(st.none(), ODD_VALUES),
)
def test_other_routes_answer_every_event_with_json(
    world: World, handler: Callable[[Any, Any], Any], shape: str, path: Any, headers: Any, context: Any
) -> None:
    response = handler(_event(shape, path, headers, context), Context())
    _assert_json_response(response)
