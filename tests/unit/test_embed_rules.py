"""The embed routes' pure rules: payload validation, paths, addresses, the error mapping, route dispatch."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from handlers.routes import UnknownRoute, module_for_path
from scorer_core.cache_rows import InvalidCacheItem
from scorer_core.embed.addresses import is_address, to_checksum_address
from scorer_core.embed.outcome import EmbedError, as_embed_error, error_body
from scorer_core.embed.payload import parse_payload, stamp_providers
from scorer_core.embed.request import (
    SCORE_PATH,
    STAMPS_PATH,
    EmbedRequest,
    demo_scorer,
    parse_body,
    path_match,
)
from scorer_core.errors import InternalError, InvalidAddress, ScorerNotFound


@pytest.mark.parametrize(
    ("scorer_id", "expected"), [(12, 12), ("12", 12), (12.0, 12), (True, 1), (" 12 ", 12)]
)
def test_the_scorer_id_is_an_integer_in_pydantic_lax_mode(scorer_id: Any, expected: int) -> None:
    assert parse_payload({"scorer_id": scorer_id, "stamps": []}).scorer_id == expected


@pytest.mark.parametrize(
    "body",
    [
        {"scorer_id": "abc", "stamps": []},
        {"scorer_id": 12.5, "stamps": []},
        {"scorer_id": 12},
        {"stamps": []},
        {"scorer_id": 12, "stamps": {"a": 1}},
        {},
    ],
)
def test_a_bad_field_is_the_generic_400(body: dict[str, Any]) -> None:
    with pytest.raises(EmbedError) as raised:
        parse_payload(body)
    assert (raised.value.status, raised.value.message) == (400, "An error has occurred")


def test_unknown_fields_are_ignored() -> None:
    payload = parse_payload({"scorer_id": 1, "stamps": [{"a": 1}], "extra": True})
    assert (payload.scorer_id, payload.stamps) == (1, [{"a": 1}])


@pytest.mark.parametrize(("body", "name"), [([], "list"), ("x", "str"), (3, "int"), (None, "NoneType")])
def test_a_body_that_is_no_object_is_the_reference_type_error(body: Any, name: str) -> None:
    with pytest.raises(TypeError) as raised:
        parse_payload(body)
    assert (
        str(raised.value) == f"embed.api.AddStampsPayload() argument after ** must be a mapping, not {name}"
    )
    assert as_embed_error(raised.value).status == 400


def test_providers_come_from_the_credential_subject() -> None:
    stamps = [{"credentialSubject": {"provider": "Google"}}, {"credentialSubject": {"provider": "Ens"}}]
    assert stamp_providers(stamps) == ["Google", "Ens"]


@pytest.mark.parametrize(
    ("stamp", "message"),
    [
        ("text", "'str' object has no attribute 'get'"),
        (None, "'NoneType' object has no attribute 'get'"),
        ({"credentialSubject": ["x"]}, "'list' object has no attribute 'get'"),
        ({"credentialSubject": None}, "'NoneType' object has no attribute 'get'"),
        ({}, "An error has occurred"),
        ({"credentialSubject": {"provider": 5}}, "An error has occurred"),
    ],
)
def test_a_stamp_without_a_provider_fails_as_the_reference(stamp: Any, message: str) -> None:
    with pytest.raises(Exception) as raised:
        stamp_providers([{"credentialSubject": {"provider": "Google"}}, stamp])
    assert as_embed_error(raised.value).message == message


def test_bodies_parse_as_json_base64_or_empty() -> None:
    assert parse_body(EmbedRequest("/", None, None, False)) == {}
    assert parse_body(EmbedRequest("/", None, "", True)) == {}
    assert parse_body(EmbedRequest("/", None, "eyJhIjogMX0=", True)) == {"a": 1}
    with pytest.raises(UnicodeDecodeError) as raised:
        parse_body(EmbedRequest("/", None, "/w==", True))
    assert as_embed_error(raised.value).message == "utf-8"
    with pytest.raises(ValueError) as not_json:
        parse_body(EmbedRequest("/", None, "nope", False))
    assert as_embed_error(not_json.value).message == "Expecting value: line 1 column 1 (char 0)"


def test_paths_match_the_reference_expressions() -> None:
    assert path_match(STAMPS_PATH, "/internal/embed/stamps/0xabc/") == {"address": "0xabc"}
    assert path_match(SCORE_PATH, "/internal/embed/score/12/0xabc") == {"scorer_id": "12", "address": "0xabc"}
    with pytest.raises(EmbedError) as raised:
        path_match(SCORE_PATH, "/internal/embed/score/12/0xabc/extra")
    assert raised.value.message == (
        "Invalid path. Expecting values like: "
        "'^/internal/embed/score/(?P<scorer_id>[^/]+)/(?P<address>[^/]+)[/]?$'"
    )


def test_a_negative_scorer_id_names_the_demo_scorer() -> None:
    assert demo_scorer("-1", "5") == "5"
    assert demo_scorer("-1", None) is None
    assert demo_scorer("7", "5") == "7"
    assert demo_scorer("abc", "5") == "abc"


# EIP-55's own examples.
CHECKSUMMED = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", CHECKSUMMED)
def test_eip55_checksums(address: str) -> None:
    assert to_checksum_address(address[2:]) == address
    assert is_address(address)
    letter = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    assert not is_address(address[:letter] + address[letter].swapcase() + address[letter + 1 :])


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("0x" + "ab" * 20, True),
        ("ab" * 20, True),  # no prefix, as eth-utils accepts
        ("0X" + "AB" * 20, True),
        ("0x" + "12" * 20, True),
        ("0x" + "ab" * 19, False),
        ("0x" + "zz" * 20, False),
        ("Ab" * 20, False),  # mixed case without the prefix can never be a checksum
        ("0x" + "ab" * 20 + "\n", False),
    ],
)
def test_address_shapes(address: str, valid: bool) -> None:
    assert is_address(address) is valid


def test_the_error_mapping_follows_the_embed_service() -> None:
    assert (as_embed_error(KeyError("proof")).status, as_embed_error(KeyError("proof")).message) == (
        400,
        "proof",
    )
    assert as_embed_error(RuntimeError()).message == "An error has occurred"
    assert as_embed_error(InvalidAddress()).message == "Invalid address."
    assert as_embed_error(ScorerNotFound()).status == 404
    assert (as_embed_error(InternalError("Scorer matching query does not exist.")).status) == 400
    assert as_embed_error(psycopg.OperationalError("gone")).status == 500
    assert as_embed_error(ValueError(object())).message == "An error has occurred"  # not renderable
    bad_date = InvalidCacheItem(ValueError("soon"), invalid_date=True)
    assert as_embed_error(bad_date).message == "An error has occurred"


def test_error_bodies_are_spaced_json_with_ascii_escapes() -> None:
    assert error_body("é") == '{"detail": "\\u00e9"}'
    assert json.loads(error_body("x")) == {"detail": "x"}


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/v2/stamps/1/score/0xabc", "handlers.score"),
        ("/prod/v2/stamps/1/score/0xabc", "handlers.score"),
        ("/internal/embed/validate-api-key", "handlers.embed"),
        ("/ceramic-cache/stamps/bulk", "handlers.ceramic_cache"),
    ],
)
def test_records_go_to_their_family(path: str, module: str) -> None:
    assert module_for_path(path) == module


def test_an_unknown_path_has_no_family() -> None:
    with pytest.raises(UnknownRoute):
        module_for_path("/registry/score/1")
