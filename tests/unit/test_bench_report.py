"""The benchmark's arithmetic and parsing: percentiles, the time split, comparisons, -X importtime output."""

from __future__ import annotations

import math

import pytest

from bench.coldstart import parse_importtime
from bench.report import compare, distribution, percentile, split


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == pytest.approx(50.5)
    assert percentile(values, 0.95) == pytest.approx(95.05)
    assert percentile(values, 0.99) == pytest.approx(99.01)
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 100.0


def test_distribution_sorts_and_handles_one_value() -> None:
    three = distribution([3.0, 1.0, 2.0])
    assert (three["n"], three["min"], three["p50"], three["max"], three["mean"]) == (3, 1.0, 2.0, 3.0, 2.0)
    assert three["p95"] == pytest.approx(2.9)
    single = distribution([7.0])
    assert single["min"] == single["p99"] == single["max"] == 7.0
    assert math.isnan(distribution([])["p50"])


def test_split_means_and_unknown_parts() -> None:
    samples: list[dict[str, float | None]] = [
        {"verify": 1.0, "database": 2.0, "commit": 0.5, "analytics": None, "other": 1.0},
        {"verify": 3.0, "database": 4.0, "commit": 1.5, "analytics": 1.0, "other": 2.0},
    ]
    assert split(samples) == {"verify": 2.0, "database": 3.0, "commit": 1.0, "analytics": None, "other": 1.5}


def test_compare_lists_every_metric_with_its_change() -> None:
    text = compare(
        {"metrics": {"p50 ms": 10.0, "round trips": 9, "only before": 1.0}},
        {"metrics": {"p50 ms": 7.5, "round trips": 6, "only after": 2.0}},
        "before",
        "after",
    )
    lines = {line.split("  ")[0]: line.split() for line in text.splitlines()}
    assert lines["p50 ms"][-3:] == ["10", "7.50", "-25.0%"]
    assert lines["round trips"][-3:] == ["9", "6", "-33.3%"]
    assert lines["only before"][-3:] == ["1", "-", "-"]
    assert lines["only after"][-3:] == ["-", "2", "-"]


def test_parse_importtime_reads_self_and_cumulative_in_ms() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       150 |        150 |   _io",
            "import time:      2000 |     391000 | handlers.score",
            "some warning line",
        ]
    )
    assert parse_importtime(stderr) == [
        {"module": "_io", "self_ms": 0.15, "cumulative_ms": 0.15},
        {"module": "handlers.score", "self_ms": 2.0, "cumulative_ms": 391.0},
    ]


def test_invoke_durations_are_read_from_the_emulator_log() -> None:
    from bench.coldstart import parse_invoke_durations

    log = (
        "[INFO] (rapid) INIT REPORT(durationMs: 428.834000)\n"
        "[INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 81.315000ms)\n"
        "REPORT RequestId: 3\tInit Duration: 0.03 ms\tDuration: 510.24 ms\n"
        "[INFO] (rapid) INVOKE RTDONE(status: failure, produced bytes: 0, duration: 6.5ms)\n"
    )
    assert parse_invoke_durations(log) == [81.315, 6.5]
