"""`python -m tools.replay`: a report whatever it finds, an error status only for bad input or no database."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from handlers import score
from scorer_core.settings import get_settings
from tools import replay
from tools.demo import LambdaContext, build_event
from tools.seed import DemoData, demo_dataset
from tools.table_checksum import table_checksums


@pytest.fixture
def demo(clean_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoData]:
    with psycopg.connect(clean_db) as conn:
        data = demo_dataset(conn)
    monkeypatch.setenv("TRUSTED_IAM_ISSUERS", data.trusted_iam_issuers)
    monkeypatch.setenv("FF_API_ANALYTICS", "on")
    monkeypatch.setenv("RATELIMIT_ENABLE", "false")
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")
    return path


def test_a_replay_reports_matches_and_mismatches_and_writes_nothing(
    demo: DemoData,
    clean_db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # main() exports these; registering them here has them restored after the test.
    monkeypatch.setenv("DATABASE_URL", clean_db)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    event = build_event(str(demo.community_id), demo.address, demo.api_key)
    answer = score.handle_event(event, LambdaContext())  # the primary's committed answer
    same = {"id": "same", "event": event, "response": answer}
    body = json.loads(answer["body"]) | {"passing_score": False}
    different = {"id": "different", "event": event, "response": {"statusCode": 200, "body": json.dumps(body)}}
    records = write_records(tmp_path / "records.jsonl", [same, different])
    before = table_checksums(clean_db)

    status = replay.main([str(records), "--database-url", clean_db, "--json", str(tmp_path / "out.json")])

    assert status == replay.EXIT_REPORTED
    assert table_checksums(clean_db) == before
    output = capsys.readouterr().out
    assert "records          2" in output and "mismatches       1" in output
    assert "body.passing_score: false -> true" in output
    assert demo.api_key not in output
    results = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [(r["label"], r["match"]) for r in results] == [("same", True), ("different", False)]


def test_bad_input_is_exit_2_and_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = {"event": {}, "response": {"statusCode": 200, "body": ""}}
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps(good) + "\n" + '{"event": {}}\n')
    assert replay.main([str(records), "--database-url", "postgresql://unused"]) == replay.EXIT_BAD_INPUT
    assert f"{records}:2: record.response is missing" in capsys.readouterr().err
    assert replay.main([str(tmp_path / "absent.jsonl")]) == replay.EXIT_BAD_INPUT


def test_no_database_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    records = write_records(
        tmp_path / "r.jsonl", [{"event": {}, "response": {"statusCode": 200, "body": ""}}]
    )
    assert replay.main([str(records)]) == replay.EXIT_BAD_INPUT


def test_an_unreachable_database_is_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused")  # restored after the test
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    records = write_records(
        tmp_path / "r.jsonl", [{"event": {}, "response": {"statusCode": 200, "body": ""}}]
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/nothing"
    assert replay.main([str(records), "--database-url", url]) == replay.EXIT_COULD_NOT_RUN
    assert "cannot connect to the database" in capsys.readouterr().err
