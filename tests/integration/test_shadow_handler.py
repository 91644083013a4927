"""Shadow mode end to end: the primary mirrors through SQS (moto), the shadow replays on real PostgreSQL.

The primary is this project's own score handler wrapped in the mirror decorator, so its answers are the
"recorded" ones; the shadow must agree with them, say where an altered one differs, survive poison records,
and leave every scoring table exactly as it found it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from handlers import score, shadow
from mirror import mirror_to_sqs
from scorer_core.settings import get_settings
from tools.credentials import issue_stamp, issuer_key
from tools.demo import LambdaContext, build_event
from tools.seed import (
    insert_account,
    insert_api_key,
    insert_ceramic_stamp,
    insert_community,
    insert_scorer,
    seed_human_points_config,
)
from tools.table_checksum import table_checksums

WEIGHTS = {"Google": 0.525, "Ens": 0.208, "Linkedin": 1.531, "Discord": 0.516}
EXPIRATION = "2031-03-04T05:06:07.891Z"
SCORED = "0x" + "a1" * 20  # the primary scores it: the shadow's dry run is a rescore
FRESH = "0x" + "b2" * 20  # never scored: a dry run would create its passport, score and stamps


@pytest.fixture
def seeded(clean_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """One account with a migrated key and a legacy (PBKDF2-only) key, a Human Points community, stamps."""
    with psycopg.connect(clean_db) as conn:
        account = insert_account(conn)
        key, _ = insert_api_key(conn, account, hash_kind="pbkdf2_with_sha256")
        legacy_key, _ = insert_api_key(conn, account, hash_kind="pbkdf2")
        community = insert_community(
            conn, account, insert_scorer(conn, weights=WEIGHTS), name="shadow", human_points_program=True
        )
        seed_human_points_config(conn)
        for address in (SCORED, FRESH):
            for provider in ("Google", "Ens", "Linkedin"):
                insert_ceramic_stamp(conn, address, issue_stamp(address, provider, expiration=EXPIRATION))
    env = {
        "TRUSTED_IAM_ISSUERS": json.dumps([issuer_key().did]),
        "FF_API_ANALYTICS": "on",
        "HUMAN_POINTS_ENABLED": "true",
        "HUMAN_POINTS_START_TIMESTAMP": "0",
        "RATELIMIT_ENABLE": "false",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield {"key": key, "legacy_key": legacy_key, "community": str(community), "url": clean_db}
    get_settings.cache_clear()


@pytest.fixture
def queue_url() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("sqs").create_queue(QueueName="score-shadow")["QueueUrl"]


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """The event Lambda's SQS event source delivers, one record per body."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:score-shadow",
                "awsRegion": "eu-west-1",
            }
            for body in bodies
        ]
    }


def drain(url: str) -> list[str]:
    client, bodies = boto3.client("sqs"), []
    while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [message["Body"] for message in batch]
        client.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )
    return bodies


def json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            found.append(doc)
    return found


def emitted_metrics(lines: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Metric name -> values, from the EMF blobs on stdout; ShadowMismatchField values keyed by Field."""
    values: dict[str, list[Any]] = {}
    for doc in lines:
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                name = metric["Name"]
                value = doc[name] if isinstance(doc[name], list) else [doc[name]]
                key = f"{name}:{doc['Field']}" if name == "ShadowMismatchField" else name
                values.setdefault(key, []).extend(value)
    return values


def altered(body: str, **changes: Any) -> str:
    record = json.loads(body)
    record["response"]["body"] = json.dumps(
        json.loads(record["response"]["body"]) | changes, separators=(",", ":")
    )
    return json.dumps(record)


def test_mirrored_traffic_replays_as_dry_runs_without_writing(
    seeded: dict[str, Any],
    queue_url: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    community, key = seeded["community"], seeded["key"]
    primary = mirror_to_sqs(queue_url=queue_url, timeout_s=5.0, warm=False)(score.handler)
    answers = [
        primary(build_event(community, SCORED, key), LambdaContext()),  # scored, committed
        primary(build_event(community, SCORED, key + "x"), LambdaContext()),  # 401
        primary(build_event("999999", SCORED, key), LambdaContext()),  # 404
    ]
    assert [a["statusCode"] for a in answers] == [200, 401, 404]
    mirrored = drain(queue_url)
    assert len(mirrored) == 3

    # Requests the primary never made: the dry run would create a passport, and migrate the legacy key.
    fresh_event = build_event(community, FRESH, seeded["legacy_key"])
    fresh_answer = score.handle_event(fresh_event, LambdaContext(), dry_run=True)
    fresh = json.dumps({"event": fresh_event, "response": fresh_answer, "served_at": "2026-01-01T00:00:00Z"})
    wrong_score = altered(mirrored[0], score="1.00000")
    poison = ["not json", json.dumps({"event": {}, "served_at": "2026-01-01T00:00:00Z"})]
    batch = sqs_event([*mirrored, fresh, wrong_score, *poison])
    capfd.readouterr()
    caplog.clear()

    before = table_checksums(seeded["url"])
    result = shadow.handler(batch, LambdaContext())
    after = table_checksums(seeded["url"])

    assert after == before
    assert before["registry_score"][0] == 1 and before["account_accountapikeyanalytics"][0] == 2
    ids = [record["messageId"] for record in batch["Records"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": ids[-2]}, {"itemIdentifier": ids[-1]}]}

    metrics = emitted_metrics(json_lines(capfd.readouterr().out))
    assert metrics["ShadowMatch"] == [1, 1, 1, 1]
    assert metrics["ShadowMismatch"] == [1]
    assert metrics["ShadowMismatchField:score"] == [1]
    assert metrics["ShadowFailed"] == [1, 1]
    assert len(metrics["ShadowLatency"]) == 5
    assert sorted(metrics["ShadowScoreDelta"]) == [-1.264, 0.0, 0.0]

    # Log records carry their structured fields as attributes (the JSON formatter writes them out).
    shadow_logs = [vars(r) for r in caplog.records if r.name == "score-shadow"]
    (mismatch,) = [entry for entry in shadow_logs if entry["msg"] == "shadow mismatch"]
    assert mismatch["fields"] == ["score"]
    assert mismatch["differences"] == [
        {"path": "body.score", "kind": "changed", "expected": "1.00000", "actual": "2.26400"}
    ]
    assert mismatch["served_at"] == json.loads(mirrored[0])["served_at"]
    assert mismatch["request_id"] == json.loads(mirrored[0])["event"]["requestContext"]["requestId"]
    assert [entry["msg"] for entry in shadow_logs].count("shadow record failed") == 2
    logged = json.dumps(shadow_logs, default=str)
    assert key not in logged and seeded["legacy_key"] not in logged


def test_a_batch_of_poison_records_is_reported_not_raised(seeded: dict[str, Any]) -> None:
    batch = sqs_event(["{", json.dumps({"event": {}, "response": {"statusCode": "200", "body": ""}})])
    result = shadow.handler(batch, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in batch["Records"]]}


def test_a_crash_of_the_scorer_fails_only_its_record(
    seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = score.handle_event

    def crashing_on_marked(event: dict[str, Any], context: Any, *, dry_run: bool = False) -> dict[str, Any]:
        if event.get("crash"):
            raise RuntimeError("scorer crashed")
        return real(event, context, dry_run=dry_run)

    monkeypatch.setattr(score, "handle_event", crashing_on_marked)
    event = build_event(seeded["community"], SCORED, seeded["key"])
    answer = real(event, LambdaContext(), dry_run=True)
    good = json.dumps({"event": event, "response": answer, "served_at": "2026-01-01T00:00:00+00:00"})
    crash = json.dumps(
        {"event": event | {"crash": True}, "response": answer, "served_at": "2026-01-01T00:00:00Z"}
    )
    batch = sqs_event([good, crash])

    result = shadow.handler(batch, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}


def embed_save_event(community: str, address: str, providers: tuple[str, ...]) -> dict[str, Any]:
    stamps = [issue_stamp(address, p, expiration=EXPIRATION) for p in providers]
    return {
        "requestContext": {
            "elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/e/1"}
        },
        "httpMethod": "POST",
        "path": f"/internal/embed/stamps/{address}",
        "queryStringParameters": {},
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"scorer_id": int(community), "stamps": stamps}),
        "isBase64Encoded": False,
    }


def test_records_of_every_family_replay_by_path_and_an_embed_save_writes_nothing(
    seeded: dict[str, Any], queue_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from handlers import embed

    community = seeded["community"]
    primary = mirror_to_sqs(queue_url=queue_url, timeout_s=5.0, warm=False)(embed.handler)
    # Committed by the primary: SCORED's Google replaced, Discord added, and the first score.
    saved = primary(embed_save_event(community, SCORED, ("Google", "Discord")), LambdaContext())
    assert saved["statusCode"] == 200
    # Never served: a dry run would soft-delete FRESH's rows, insert new ones and score it.
    fresh_event = embed_save_event(community, FRESH, ("Google", "Ens", "Discord"))
    fresh_answer = embed.handle_event(fresh_event, LambdaContext(), dry_run=True)
    assert fresh_answer["statusCode"] == 200
    fresh = json.dumps({"event": fresh_event, "response": fresh_answer, "served_at": "2026-01-01T00:00:00Z"})
    v2 = score.handle_event(build_event(community, SCORED, seeded["key"]), LambdaContext(), dry_run=True)
    v2_record = json.dumps(
        {
            "event": build_event(community, SCORED, seeded["key"]),
            "response": v2,
            "served_at": "2026-01-01T00:00:00Z",
        }
    )
    batch = sqs_event([*drain(queue_url), fresh, v2_record])
    capfd.readouterr()

    before = table_checksums(seeded["url"])
    result = shadow.handler(batch, LambdaContext())
    after = table_checksums(seeded["url"])

    assert result == {"batchItemFailures": []}
    assert after == before
    assert before["ceramic_cache_ceramiccache"][0] == 8  # six seeded rows and the primary's two new ones
    assert emitted_metrics(json_lines(capfd.readouterr().out))["ShadowMatch"] == [1, 1, 1]
