import time
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorer_core.auth.jwt import (
    INVALID_OR_EXPIRED,
    NO_EXP,
    NO_ID,
    NO_TYPE,
    WRONG_TYPE,
    InvalidToken,
    address_from_claims,
    bearer_token,
    secret_key,
    validated_claims,
)
from scorer_core.settings import settings_from

KEY = "test-secret"
DID = "did:pkh:eip155:1:0xAbC0000000000000000000000000000000000001"


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "token_type": "access",
        "exp": int(time.time()) + 3600,
        "iat": int(time.time()) - 10,
        "jti": "abc",
        "did": DID,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(payload: dict[str, Any], key: str = KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def reason(raw: str) -> str:
    with pytest.raises(InvalidToken) as info:
        validated_claims(raw, KEY)
    assert info.value.status == 401
    return info.value.reason


def test_a_valid_access_token() -> None:
    assert address_from_claims(validated_claims(token(claims()), KEY)) == DID.split(":")[-1]


@pytest.mark.parametrize(
    ("payload", "key", "algorithm", "expected"),
    [
        (claims(), "other", "HS256", INVALID_OR_EXPIRED),
        (claims(), KEY, "HS512", INVALID_OR_EXPIRED),
        (claims(exp=int(time.time()) - 1), KEY, "HS256", INVALID_OR_EXPIRED),
        (claims(iat=int(time.time()) + 600), KEY, "HS256", INVALID_OR_EXPIRED),
        (claims(nbf=int(time.time()) + 600), KEY, "HS256", INVALID_OR_EXPIRED),
        (claims(jti=5), KEY, "HS256", INVALID_OR_EXPIRED),
        (claims(sub=5), KEY, "HS256", INVALID_OR_EXPIRED),
        (claims(exp=None), KEY, "HS256", NO_EXP),
        (claims(jti=None), KEY, "HS256", NO_ID),
        (claims(token_type=None), KEY, "HS256", NO_TYPE),
        (claims(token_type="refresh"), KEY, "HS256", WRONG_TYPE),
    ],
)
def test_rejections(payload: dict[str, Any], key: str, algorithm: str, expected: str) -> None:
    assert reason(token(payload, key, algorithm)) == expected


def test_audience_and_issuer_are_not_checked() -> None:
    validated_claims(token(claims(aud="someone", iss="anyone")), KEY)


@given(st.text(max_size=40))
def test_garbage_is_invalid(raw: str) -> None:
    assert reason(raw) == INVALID_OR_EXPIRED


def test_body_text_is_the_reference_repr() -> None:
    text = str(InvalidToken(NO_EXP))
    assert text == (
        "{'detail': ErrorDetail(string='Given token not valid for any token type', code='token_not_valid'), "
        "'code': ErrorDetail(string='token_not_valid', code='token_not_valid'), 'messages': "
        "[{'token_class': ErrorDetail(string='AccessToken', code='token_not_valid'), 'token_type': "
        "ErrorDetail(string='access', code='token_not_valid'), 'message': "
        "ErrorDetail(string=\"Token has no 'exp' claim\", code='token_not_valid')}]}"
    )
    assert InvalidToken(NO_EXP).message == text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer T"}, "T"),
        ({"authorization": "Token T"}, "T"),
        ({"authorization": "T"}, "T"),
        ({"authorization": "Bearer T "}, ""),
        ({"Authorization": "Bearer T"}, "T"),
        ({"AUTHORIZATION": "Bearer U", "authorization": "Bearer T"}, "T"),
        ({}, ""),
    ],
)
def test_bearer_token(headers: dict[str, str], expected: str) -> None:
    assert bearer_token(headers) == expected


def test_null_headers_raise() -> None:
    with pytest.raises(TypeError):
        bearer_token(None)


def test_address_without_did_raises() -> None:
    with pytest.raises(KeyError):
        address_from_claims({})


def test_secret_key_from_environment() -> None:
    assert secret_key(settings_from({"SECRET_KEY": "k"})) == "k"
    with pytest.raises(RuntimeError):
        secret_key(settings_from({}))


@pytest.mark.parametrize(
    ("secret_string", "expected"),
    [("plain-key", "plain-key"), ('{"SECRET_KEY": "from-json"}', "from-json"), ('["x"]', '["x"]')],
)
def test_secret_key_from_secrets_manager(
    monkeypatch: pytest.MonkeyPatch, secret_string: str, expected: str
) -> None:
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    parameters.clear_caches()
    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="jwt-key", SecretString=secret_string)["ARN"]
        assert secret_key(settings_from({"SECRET_KEY_SECRET_ARN": arn})) == expected
        client.update_secret(SecretId=arn, SecretString="rotated")
        assert secret_key(settings_from({"SECRET_KEY_SECRET_ARN": arn})) == expected  # cached for 300 s
    parameters.clear_caches()
