"""The Docker-free local runs: HTTP requests as API Gateway events (tools.serve), and the choice of
interpreter and import path for the built bundle (tools.invoke)."""

from __future__ import annotations

import base64
import json
import platform
import sys
from pathlib import Path

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


def _built(tmp_path: Path, layer_arch: str | None) -> Path:
    (tmp_path / "ScoreFunction" / "handlers").mkdir(parents=True)
    if layer_arch is not None:
        layer = tmp_path / "DependenciesLayer" / "python"
        layer.mkdir(parents=True)
        (layer / ".lambda-arch").write_text(layer_arch + "\n")
    return tmp_path


def _host_arch() -> str:
    arch = invoke.HOST_ARCH.get(platform.machine().lower())
    if arch is None:
        pytest.skip("host is neither x86_64 nor arm64")
    return arch


def test_runtime_uses_layer_on_python312_of_this_architecture(tmp_path: Path) -> None:
    build = _built(tmp_path, _host_arch())
    runtime = invoke.choose_runtime(build, python="/opt/python3.12")
    assert runtime.python == "/opt/python3.12"
    assert runtime.pythonpath == (build / "ScoreFunction", build / "DependenciesLayer" / "python")


def test_runtime_falls_back_when_layer_is_for_another_architecture(tmp_path: Path) -> None:
    other = "arm64" if _host_arch() == "x86_64" else "x86_64"
    build = _built(tmp_path, other)
    runtime = invoke.choose_runtime(build, python="/opt/python3.12")
    assert runtime.python == sys.executable
    assert runtime.pythonpath == (build / "ScoreFunction",)
    assert f"built for {other}" in runtime.note


def test_runtime_requires_a_build(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="make build"):
        invoke.choose_runtime(tmp_path, python="/opt/python3.12")


def test_child_environment_drops_the_callers_python_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.setenv("VIRTUAL_ENV", "/venv")
    runtime = invoke.Runtime("python3.12", (tmp_path / "fn", tmp_path / "layer"), "")
    env = invoke.child_environment(runtime)
    assert env["PYTHONPATH"].split(":") == [str(tmp_path / "fn"), str(tmp_path / "layer")]
    assert "VIRTUAL_ENV" not in env
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path / "fn")


def test_sam_local_environment_parses_and_trusts_the_demo_issuer() -> None:
    """events/env.local.json replaces every variable of the template under `sam local`, where unset
    optional ones arrive as empty strings; it must parse, and trust the issuer of the demo stamps."""
    from scorer_core.settings import settings_from
    from tools.credentials import issuer_key

    env = json.loads((invoke.PROJECT_ROOT / "events" / "env.local.json").read_text())["ScoreFunction"]
    settings = settings_from(env)
    assert settings.trusted_iam_issuers == (issuer_key().did,)
    assert settings.db_secret_arn is None
    assert settings.database_url is not None
