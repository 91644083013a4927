"""The Docker-free local runs: HTTP requests as API Gateway events and back (tools.serve), events to
functions (tools.invoke), the envelope rules (tools.envelope) and the emulator's init report."""

from __future__ import annotations

import base64
import json

import pytest

from tools import invoke, serve

ADDRESS = "0xd3e0a4c5b6f7081920a1b2c3d4e5f60718293a4b"


def _event(path: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"", method: str = "GET"):
    return serve.rest_event(method, path, headers or [], body, "127.0.0.1", "req-1")


def test_route_becomes_rest_v1_event() -> None:
    event = _event(f"/v2/stamps/901/score/{ADDRESS}", [("Host", "localhost"), ("X-API-Key", "k.1")])
    assert event is not None
    assert event["resource"] == "/v2/stamps/{scorer_id}/score/{address}"
    assert event["path"] == f"/v2/stamps/901/score/{ADDRESS}"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"scorer_id": "901", "address": ADDRESS}
    # API Gateway keeps the client's header casing.
    assert event["headers"] == {"Host": "localhost", "X-API-Key": "k.1"}
    assert event["multiValueHeaders"]["X-API-Key"] == ["k.1"]
    assert event["queryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["requestId"] == "req-1"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_query_string_single_and_multi_value() -> None:
    event = _event(f"/v2/stamps/1/score/{ADDRESS}?include_human_points=true&a=1&a=2")
    assert event is not None
    assert event["queryStringParameters"] == {"include_human_points": "true", "a": "2"}
    assert event["multiValueQueryStringParameters"] == {"include_human_points": ["true"], "a": ["1", "2"]}


def test_repeated_header_keeps_last_value_and_all_values() -> None:
    event = _event(f"/v2/stamps/1/score/{ADDRESS}", [("Accept", "a"), ("Accept", "b")])
    assert event is not None
    assert event["headers"]["Accept"] == "b"
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"]


def test_binary_body_is_base64() -> None:
    event = _event(f"/v2/stamps/1/score/{ADDRESS}", body=b"\xff\xfe")
    assert event is not None
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/stamps/1/score"),
        ("GET", "/v2/stamps/1/score/a/b"),
        ("GET", "/health"),
        ("POST", f"/v2/stamps/1/score/{ADDRESS}"),
    ],
)
def test_no_route_means_no_event(method: str, path: str) -> None:
    assert _event(path, method=method) is None


def test_response_parts_single_multi_and_base64() -> None:
    status, headers, body = serve.response_parts(
        {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"a":1}'}
    )
    assert (status, headers, body) == (200, [("Content-Type", "application/json")], b'{"a":1}')
    status, headers, body = serve.response_parts(
        {
            "statusCode": 401,
            "multiValueHeaders": {"X": ["1", "2"]},
            "body": base64.b64encode(b"raw").decode(),
            "isBase64Encoded": True,
        }
    )
    assert (status, headers, body) == (401, [("X", "1"), ("X", "2")], b"raw")


def test_event_files_go_to_the_function_named_by_their_handler_module() -> None:
    modules = {
        "handlers.score": "ScoreFunction",
        "handlers.ceramic_cache": "CeramicCacheFunction",
        "handlers.ceramic": "OtherFunction",
    }
    assert invoke.function_for_event("events/score_success_rest.json", modules) == "ScoreFunction"
    assert invoke.function_for_event("ceramic_cache_get.json", modules) == "CeramicCacheFunction"
    assert invoke.function_for_event("ceramic_x.json", modules) == "OtherFunction"
    assert invoke.function_for_event("embed_add.json", modules) is None
    assert invoke.function_for_event("scoreboard.json", modules) is None


def test_route_patterns_bind_path_parameters() -> None:
    route = serve.Route("GET", "/ceramic-cache/stamp/{address}/{rest+}", "F")
    assert route.match("GET", "/ceramic-cache/stamp/0xab/a/b") == {"address": "0xab", "rest": "a/b"}
    assert route.match("POST", "/ceramic-cache/stamp/0xab/a") is None
    assert route.match("GET", "/ceramic-cache/stamp/0xab") is None
    assert serve.Route("ANY", "/x/{id}", "F").match("DELETE", "/x/1") == {"id": "1"}


def test_gateway_answers_502_to_keys_api_gateway_rejects() -> None:
    event = {"httpMethod": "GET", "requestContext": {"stage": "local"}}
    good = {"statusCode": 200, "headers": {"A": "1"}, "body": "{}", "isBase64Encoded": False}
    assert serve.gateway_answer(event, good, False)[:3] == (200, [("A", "1")], b"{}")
    status, _, body, problem = serve.gateway_answer(event, {**good, "statusDescription": "200 OK"}, False)
    assert (status, body) == (502, serve.BAD_GATEWAY_BODY)
    assert problem == "Invalid API Gateway Response Keys: ['statusDescription']"
    status, _, _, problem = serve.gateway_answer(event, {"errorMessage": "boom", "errorType": "E"}, True)
    assert status == 502
    assert problem is not None and "boom" in problem


def test_envelope_rules_per_event_source() -> None:
    from tools.envelope import envelope_problem

    rest = {"httpMethod": "GET", "requestContext": {}}
    http = {"version": "2.0", "requestContext": {}}
    alb = {"requestContext": {"elb": {"targetGroupArn": "arn"}}}
    base = {"statusCode": 200, "headers": {}, "body": "", "isBase64Encoded": False}
    assert envelope_problem(rest, base) is None
    assert envelope_problem(rest, {**base, "cookies": []}) is not None
    assert envelope_problem(http, {**base, "cookies": []}) is None
    assert envelope_problem(http, {**base, "statusCategory": "4XX"}) is not None
    assert envelope_problem(alb, base) is None  # statusDescription is optional (embed successes have none)
    assert envelope_problem(alb, {**base, "statusDescription": "200 OK"}) is None
    assert envelope_problem(rest, {**base, "statusCode": "200"}) is not None
    assert envelope_problem(rest, {**base, "body": {"a": 1}}) is not None


def test_init_report_is_read_from_the_emulator_log() -> None:
    from tools.lambda_rie import parse_init_report

    log = (
        "01 Dec 2026 15:20:21,730 [INFO] (rapid) INIT START(type: on-demand, phase: init)\n"
        "01 Dec 2026 15:20:22,597 [INFO] (rapid) INIT RTDONE(status: success)\n"
        "01 Dec 2026 15:20:22,597 [INFO] (rapid) INIT REPORT(durationMs: 866.844000)\n"
        "REPORT RequestId: f5\tInit Duration: 3.21 ms\tDuration: 958.78 ms\n"
    )
    report = parse_init_report(log)
    assert report is not None
    assert (report.duration_ms, report.status) == (866.844, "success")
    assert parse_init_report("REPORT RequestId: f5\tInit Duration: 3.21 ms\n") is None


def test_sam_local_environment_parses_and_trusts_the_demo_issuer() -> None:
    """events/env.local.json replaces every variable of the template under `sam local`, where unset
    optional ones arrive as empty strings; it must parse, and trust the issuer of the demo stamps."""
    from scorer_core.settings import settings_from
    from tools.credentials import issuer_key
    from tools.seed import DEMO_CERAMIC_CACHE_SCORER_ID, DEMO_SECRET_KEY

    # "Parameters" applies to every function (SAM's --env-vars rule); each takes the variables it declares.
    env = json.loads((invoke.PROJECT_ROOT / "events" / "env.local.json").read_text())["Parameters"]
    settings = settings_from(env)
    assert settings.trusted_iam_issuers == (issuer_key().did,)
    assert settings.secret_key == DEMO_SECRET_KEY
    assert settings.ceramic_cache_scorer_id == str(DEMO_CERAMIC_CACHE_SCORER_ID)
    assert settings.db_secret_arn is None
    assert settings.database_url is not None


def test_an_event_whose_function_is_in_the_template_is_never_skipped() -> None:
    """Only events no template function handles are skipped; a stale build is an error instead."""
    assert invoke._in_source_template("score_success_rest.json")
    assert not invoke._in_source_template("nothing_here.json")
