"""Running one record through a (fake) dry-run scorer, and the reports made of the outcomes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from scorer_core.shadow.record import MirroredRecord
from scorer_core.shadow.report import ReplayReport, mismatch_log
from scorer_core.shadow.run import ShadowResponseError, response_parts, run_shadow

KEY = "PrtyMain.k3Yq9Zr2Lw7Vx4Tb8Nc1Md6Pf0Gh5Js2"
BODY = '{"address":"0xabc","score":"2.26400","error":null}'


def make_record(body: str = BODY, status: int = 200, label: str | None = None) -> MirroredRecord:
    event = {"path": "/v2/stamps/11/score/0xabc", "headers": {"x-api-key": KEY}, "requestContext": {}}
    return MirroredRecord(event, status, body, "2026-11-22T02:04:09+00:00", label)


class FakeScorer:
    """Answers BODY, and rewrites the key header in place as the reference does."""

    def __init__(self, response: Any = None) -> None:
        self.response = response if response is not None else {"statusCode": 200, "body": BODY}
        self.calls: list[tuple[dict[str, Any], bool]] = []

    def __call__(self, event: dict[str, Any], context: Any, *, dry_run: bool = False) -> dict[str, Any]:
        self.calls.append((event, dry_run))
        event["headers"]["x-api-key"] = "PrtyMain.***"
        response: dict[str, Any] = self.response
        return response


def ticking(step_s: float) -> Iterator[float]:
    now = 0.0
    while True:
        yield now
        now += step_s


def test_the_scorer_runs_dry_on_a_copy_of_the_event() -> None:
    record, scorer, clock = make_record(), FakeScorer(), ticking(0.025)
    outcome = run_shadow(record, scorer, None, clock=lambda: next(clock))
    assert [dry for _, dry in scorer.calls] == [True]
    assert record.event["headers"]["x-api-key"] == KEY
    assert outcome.comparison.matches and outcome.latency_ms == pytest.approx(25.0)


def test_a_different_answer_is_a_mismatch_with_its_paths() -> None:
    outcome = run_shadow(make_record(BODY.replace("2.26400", "2.00000")), FakeScorer(), None)
    assert [d.path for d in outcome.comparison.differences] == ["body.score"]
    assert str(outcome.comparison.score_delta) == "-0.26400"


def test_base64_bodies_are_decoded() -> None:
    encoded = base64.b64encode(BODY.encode()).decode()
    assert response_parts({"statusCode": 200, "body": encoded, "isBase64Encoded": True}) == (200, BODY)


@pytest.mark.parametrize(
    "response", ["text", {"body": ""}, {"statusCode": "200"}, {"statusCode": 200, "body": 1}]
)
def test_something_that_is_not_a_response_raises(response: Any) -> None:
    with pytest.raises(ShadowResponseError):
        run_shadow(make_record(), FakeScorer(response), None)


def test_the_mismatch_log_masks_the_key_wherever_it_appears() -> None:
    body_with_key = json.dumps({"score": "1.00000", "error": f"bad key {KEY}"})
    entry = mismatch_log(run_shadow(make_record(body_with_key), FakeScorer(), None))
    assert KEY not in json.dumps(entry)
    assert {"path": "body.error", "kind": "changed", "expected": "bad key ***", "actual": None} in entry[
        "differences"
    ]
    assert entry["served_at"] == "2026-11-22T02:04:09+00:00" and entry["path"] == "/v2/stamps/11/score/0xabc"


def test_the_report_counts_by_field_and_survives_a_round_trip_through_json() -> None:
    report = ReplayReport(source="a.jsonl")
    report.add(1, run_shadow(make_record(label="same"), FakeScorer(), None))
    report.add(
        2, run_shadow(make_record(BODY.replace("2.26400", "3.00000"), label="score"), FakeScorer(), None)
    )
    report.add(3, run_shadow(make_record(status=401, label="status"), FakeScorer(), None))
    report.add_error(4, "broken", RuntimeError("scorer crashed"))

    merged = ReplayReport(source="all")
    merged.merge(json.loads(json.dumps(report.as_dict())))
    for summary in (report, merged):
        text = summary.render()
        assert "records          4" in text and "matches          1" in text
        assert "mismatches       2" in text and "errors           1" in text
        assert "  score                          1" in text and "  status                         1" in text
        assert 'body.score: "3.00000" -> "2.26400"' in text
        assert "line 4 broken RuntimeError: scorer crashed" in text
        assert KEY not in text
    assert merged.as_dict()["by_field"] == {"score": 1, "status": 1}
