"""Build a replay sample with known answers, replay it, and check the report says exactly what it should.

`python -m tools.make_replay_sample [--parity ../shared/parity]` (`make replay-sample`):

1. Records: every request of the recorded reference scenarios (`golden/*.json`, the reference's own answers)
   and every sample event of `events/`, whose "primary" answer is this service's committed answer on the
   demo data set (so the dry run must reproduce a real run).
2. A few primary answers are altered on purpose (`ALTERATIONS`), some only in fields the comparison masks.
3. Scenarios share addresses and ids, so each replays on its own database: the reference schema plus that
   scenario's fixture rows, under the scenario's recorded settings, with `python -m tools.replay`; the
   sample events replay on the demo database their answers came from. The scoring tables are checksummed
   before and after each replay.
4. The merged report is printed, then checked against the expected mismatches: the alterations, the five
   agreed deviations from the reference, and the requests whose recorded answer depended on a write of an
   earlier request of the same scenario (a dry run keeps none). Exit 0 when the report is exactly that.

Writes `records.jsonl` (all records), `expected.json` and per-database files under `--out`. The records
hold test API keys only, and never leave `.local/`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from handlers.routes import event_path, module_for_path
from scorer_core.shadow.compare import compare_responses
from scorer_core.shadow.report import ReplayReport
from tools import localdb
from tools.table_checksum import table_checksums

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARITY = PROJECT_ROOT.parent / "shared" / "parity"
DEFAULT_OUT = PROJECT_ROOT / ".local" / "replay-sample"
EVENTS_DIR = PROJECT_ROOT / "events"
EVENTS_GROUP = "events"

# Settings only the Django reference reads (as the parity checker drops them).
REFERENCE_ONLY_ENV = {"DJANGO_SETTINGS_MODULE", "PARITY_LOCMEM_CACHE", "CELERY_BROKER_URL"}
REFERENCE_ONLY_PREFIXES = ("READ_REPLICA_", "DATA_MODEL_DATABASE_URL")

Record = dict[str, Any]
Alteration = Callable[[int, dict[str, Any] | None], tuple[int, Any]]


@dataclass
class Group:
    """Records that replay on one database under one environment."""

    name: str
    records: list[Record]
    env: dict[str, str]
    database_url: str | None = None  # set for the events group, whose database exists already
    checksums_equal: bool | None = None
    result: dict[str, Any] = field(default_factory=dict)


# --- deliberate alterations of primary answers ----------------------------------------------------------


def _set(path: list[str], value: Any) -> Alteration:
    def alter(status: int, body: dict[str, Any] | None) -> tuple[int, Any]:
        assert body is not None
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return status, body

    return alter


def _first_stamp_dedup(status: int, body: dict[str, Any] | None) -> tuple[int, Any]:
    assert body is not None
    first = next(iter(body["stamps"]))
    body["stamps"][first]["dedup"] = not body["stamps"][first]["dedup"]
    return status, body


def _without(key: str) -> Alteration:
    def alter(status: int, body: dict[str, Any] | None) -> tuple[int, Any]:
        assert body is not None
        del body[key]
        return status, body

    return alter


def _as_gateway_error(status: int, body: dict[str, Any] | None) -> tuple[int, Any]:
    return 502, "Internal Server Error"


def _other_offsets(status: int, body: dict[str, Any] | None) -> tuple[int, Any]:
    """The same instants written differently: +02:00 for the passport, `Z` and milliseconds for stamps."""
    assert body is not None
    plus_two = timezone(timedelta(hours=2))
    body["expiration_timestamp"] = (
        datetime.fromisoformat(body["expiration_timestamp"]).astimezone(plus_two).isoformat()
    )
    for stamp in body["stamps"].values():
        instant = datetime.fromisoformat(stamp["expiration_date"]).astimezone(UTC)
        stamp["expiration_date"] = instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return status, body


# id -> (alteration, the paths the report must then show). Empty paths: only masked fields change.
ALTERATIONS: dict[str, tuple[Alteration, Callable[[dict[str, Any]], set[str]]]] = {
    "all_valid_above_threshold#0": (_set(["score"], "24.62900"), lambda _: {"body.score"}),
    "below_threshold#0": (
        _first_stamp_dedup,
        lambda body: {f"body.stamps.{next(iter(body['stamps']))}.dedup"},
    ),
    "unknown_scorer#0": (lambda status, body: (500, body), lambda _: {"status"}),
    "missing_api_key#0": (_set(["error"], "Invalid API key"), lambda _: {"body.error"}),
    f"{EVENTS_GROUP}/score_success_rest.json": (_without("threshold"), lambda _: {"body.threshold"}),
    f"{EVENTS_GROUP}/score_success_http.json": (_as_gateway_error, lambda _: {"status", "body"}),
    "no_stamps#0": (_set(["last_score_timestamp"], "2030-01-01T00:00:00+00:00"), lambda _: set()),
    "checksummed_address#0": (_other_offsets, lambda _: set()),
}

# Expected differences that no recording states, with the reason.
KNOWN_DIFFERENCES: dict[str, tuple[set[str], str]] = {
    "duplicate_nullifier_in_passport#0": (
        {
            "body.score",
            "body.last_score_timestamp",
            "body.expiration_timestamp",
            "body.error",
            "body.stamps.Google",
            "body.stamps.Ens",
        },
        "agreed deviation 4: scored, where the reference failed with 'Failed to save HashScorerLinks'",
    ),
    "lifo_clash_two_addresses#1": (
        {"body.score", "body.stamps.Google.score", "body.stamps.Google.dedup"},
        "dry run: the first address's hash links (request #0) were never written, so no clash",
    ),
    "lifo_clash_two_addresses#2": (
        {"body.score", "body.stamps.Google.score", "body.stamps.Google.dedup"},
        "dry run: the first address's hash links (request #0) were never written, so no clash",
    ),
    "embed_save_then_v2_score#1": (
        {
            "body.score",
            "body.passing_score",
            "body.expiration_timestamp",
            "body.stamps.BinanceBABT2",
            "body.stamps.CoinbaseDualVerification2",
            "body.stamps.Discord",
            "body.stamps.Ens",
        },
        "dry run: the embed save (request #0) was rolled back, so the v2 score finds no stamps",
    ),
    "cc_bulk_patch_partial#1": (
        {
            "body.score.expiration_timestamp",
            "body.score.score",
            "body.score.stamps.Discord",
            "body.score.stamps.Ens",
            "body.stamps[0].provider",
            "body.stamps[0].stamp.credentialSubject.nullifiers[0]",
            "body.stamps[0].stamp.credentialSubject.provider",
            "body.stamps[0].stamp.proof.proofValue",
            "body.stamps[1].provider",
            "body.stamps[1].stamp.credentialSubject.nullifiers[0]",
            "body.stamps[1].stamp.credentialSubject.provider",
            "body.stamps[1].stamp.expirationDate",
            "body.stamps[1].stamp.proof.proofValue",
            "body.stamps[2]",
        },
        "dry run: the first PATCH (request #0) was rolled back, so Ens and Discord are still listed and scored",
    ),
}
# Requests the reference rate-limited: the replay's counter store is unreachable (REPLAY_REDIS_URL), so the
# rate limit fails open and the answer is that of the scenario's first request.
RATE_LIMITED_LIKE_FIRST = {
    "ratelimit_exceeded#2": "dry run: counters are only read, and the replay has no counter store"
}
# Nothing listens there: replays must not depend on whatever a local Redis happens to have counted.
REPLAY_REDIS_URL = "redis://127.0.0.1:9/0"


# --- building the records -----------------------------------------------------------------------------


def parity_groups(parity: Path) -> tuple[list[Group], dict[str, Any]]:
    """One group per recorded scenario; returns the golden files too (expectations refer to them).

    A scenario whose route family has no handler module in this tree yet is left out, and said so.
    """
    goldens = {path.stem: json.loads(path.read_text()) for path in sorted((parity / "golden").glob("*.json"))}
    groups = []
    for name, golden in goldens.items():
        missing = _missing_handlers(golden["requests"])
        if missing:
            print(f"{name}: left out, no handler module {', '.join(missing)} yet")
            continue
        records = [
            {
                "id": f"{name}#{index}",
                "event": event,
                "response": {"statusCode": response["statusCode"], "body": response["body_raw"]},
                "served_at": golden.get("recorded_at"),
            }
            for index, (event, response) in enumerate(
                zip(golden["requests"], golden["responses"], strict=True)
            )
        ]
        groups.append(Group(name, records, scenario_env(golden["env"]) | {"REDIS_URL": REPLAY_REDIS_URL}))
    return groups, goldens


def _missing_handlers(events: list[dict[str, Any]]) -> list[str]:
    modules = {module_for_path(event_path(event)) for event in events}
    return sorted(m for m in modules if importlib.util.find_spec(m) is None)


def scenario_env(recorded: dict[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in recorded.items()
        if key not in REFERENCE_ONLY_ENV and not key.startswith(REFERENCE_ONLY_PREFIXES)
    }


def events_group() -> Group:
    """The sample events, answered for real (committed) on a fresh demo database: the primary's answers."""
    import psycopg

    from tools.seed import demo_dataset

    url = localdb.create_database()
    with psycopg.connect(url) as conn:
        demo = demo_dataset(conn)
    env = {
        "TRUSTED_IAM_ISSUERS": demo.trusted_iam_issuers,
        "FF_API_ANALYTICS": "on",
        "HUMAN_POINTS_ENABLED": "true",
        "HUMAN_POINTS_START_TIMESTAMP": "0",
        "RATELIMIT_ENABLE": "false",
    }
    paths = sorted(
        p for p in EVENTS_DIR.glob("*.json") if p.name != "expected.json" and not p.name.startswith("env.")
    )
    events = {f"{EVENTS_GROUP}/{p.name}": json.loads(p.read_text()) for p in paths}
    answers = _answer_for_real(list(events.values()), env | {"DATABASE_URL": url})
    records = [
        {
            "id": label,
            "event": event,
            "response": {"statusCode": answer["statusCode"], "body": answer["body"]},
            "served_at": datetime.now(UTC).isoformat(),
        }
        for (label, event), answer in zip(events.items(), answers, strict=True)
    ]
    return Group(EVENTS_GROUP, records, env, database_url=url)


def _answer_for_real(events: list[dict[str, Any]], env: dict[str, str]) -> list[dict[str, Any]]:
    """Run each event's handler (not a dry run) in a child process with its own settings."""
    program = (
        "import importlib, json, sys\n"
        "from handlers.routes import event_path, module_for_path\n"
        "from tools.replay import ReplayContext\n"
        "from tools.credentials import guard_didkit_exit\n"
        "guard_didkit_exit()\n"
        "def handler(e):\n"
        "    return importlib.import_module(module_for_path(event_path(e))).handler(e, ReplayContext())\n"
        "events = json.load(sys.stdin)\n"
        "print(json.dumps([handler(e) for e in events]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env=_child_env(env),
        cwd=PROJECT_ROOT,
        check=True,
    )
    answers: list[dict[str, Any]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return answers


def alter(records: list[Record]) -> dict[str, set[str]]:
    """Apply ALTERATIONS in place; returns the paths each altered record must then differ on."""
    expected = {}
    for record in records:
        if record["id"] not in ALTERATIONS:
            continue
        change, paths = ALTERATIONS[record["id"]]
        body = json.loads(record["response"]["body"])
        expected[record["id"]] = paths(body)
        status, new_body = change(record["response"]["statusCode"], body)
        text = new_body if isinstance(new_body, str) else json.dumps(new_body, separators=(",", ":"))
        record["response"] = {"statusCode": status, "body": text}
    missing = set(ALTERATIONS) - {r["id"] for r in records}
    if missing:
        raise SystemExit(f"make_replay_sample: records to alter not found: {sorted(missing)}")
    return expected


def expected_differences(
    parity: Path, goldens: dict[str, Any], altered: dict[str, set[str]]
) -> dict[str, Any]:
    """Record id -> {paths, reason} for every record that must mismatch; all others must match."""
    expected: dict[str, Any] = {
        label: {"paths": sorted(paths), "reason": "altered on purpose" if paths else "masked field altered"}
        for label, paths in altered.items()
    }
    for deviation in json.loads((parity / "deviations.json").read_text()):
        for index, response in enumerate(deviation["expect"].get("responses", [])):
            if "body_equals" not in response:
                continue
            source = response["body_equals"]
            body = goldens[source["scenario"]]["responses"][source["response"]]["body_raw"]
            for old, new in source.get("replace", {}).items():
                body = body.replace(old, new)
            recorded = goldens[deviation["scenario"]]["responses"][index]
            expected[f"{deviation['scenario']}#{index}"] = {
                "paths": _paths(recorded["statusCode"], recorded["body_raw"], response["status"], body),
                "reason": deviation["reason"].split(":")[0].lower() + " (deviations.json)",
            }
    for label, (known, reason) in KNOWN_DIFFERENCES.items():
        expected[label] = {"paths": sorted(known), "reason": reason}
    for label, reason in RATE_LIMITED_LIKE_FIRST.items():
        scenario, position = label.split("#")
        limited, first = goldens[scenario]["responses"][int(position)], goldens[scenario]["responses"][0]
        expected[label] = {
            "paths": _paths(
                limited["statusCode"], limited["body_raw"], first["statusCode"], first["body_raw"]
            ),
            "reason": reason,
        }
    return expected


def _paths(status: int, body: str, other_status: int, other_body: str) -> list[str]:
    return sorted(d.path for d in compare_responses(status, body, other_status, other_body).differences)


# --- replaying ----------------------------------------------------------------------------------------


def replay_group(group: Group, parity: Path, out: Path, keep_dbs: bool) -> Group:
    records_file = out / "records" / f"{group.name}.jsonl"
    result_file = out / "results" / f"{group.name}.json"
    records_file.write_text("".join(json.dumps(r) + "\n" for r in group.records))
    url = group.database_url or _scenario_database(parity, group.name)
    try:
        before = table_checksums(url)
        replayed = subprocess.run(
            [sys.executable, "-m", "tools.replay", str(records_file), "--json", str(result_file)],
            capture_output=True,
            text=True,
            env=_child_env(group.env | {"DATABASE_URL": url}),
            cwd=PROJECT_ROOT,
        )
        group.checksums_equal = table_checksums(url) == before
        if replayed.returncode != 0:
            raise RuntimeError(
                f"replay of {group.name} exited {replayed.returncode}: {replayed.stderr[-2000:]}"
            )
        group.result = json.loads(result_file.read_text())
    finally:
        if not keep_dbs:
            localdb.drop_database(url)
    return group


def _scenario_database(parity: Path, scenario: str) -> str:
    url = localdb.create_database(schema=False)
    localdb.load_sql_file(url, parity / "reference_schema_scoring.sql")
    subprocess.run(
        [sys.executable, str(parity / "make_fixtures.py"), "load", "--dsn", url, "--scenario", scenario],
        check=True,
        capture_output=True,
    )
    return url


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    inherited = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return inherited | {"PYTHONPATH": str(PROJECT_ROOT), "POWERTOOLS_LOG_LEVEL": "WARNING"} | extra


# --- checking -----------------------------------------------------------------------------------------


def check(report: ReplayReport, expected: dict[str, Any]) -> list[str]:
    """Every way the report differs from the expectation; empty when it says exactly what it should."""
    problems = [f"{error['label']}: replay error {error['error']}" for error in report.errors]
    for result in report.results:
        label = result.label or f"line {result.line}"
        actual = sorted(d["path"] for d in result.differences)
        wanted = expected.get(label, {"paths": []})["paths"]
        if actual != wanted:
            problems.append(f"{label}: expected differences {wanted}, reported {actual}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.make_replay_sample", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--parity", type=Path, default=DEFAULT_PARITY, help="parity data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where records and results go")
    parser.add_argument("--jobs", type=int, default=4, help="databases replayed at once")
    parser.add_argument("--keep-dbs", action="store_true", help="keep the databases for inspection")
    args = parser.parse_args(argv)
    for folder in ("records", "results"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)

    localdb.admin_dsn()  # find or start the server once, before the worker threads need it
    groups, goldens = parity_groups(args.parity)
    groups.append(events_group())
    records = [record for group in groups for record in group.records]
    altered = alter(records)
    labels = {record["id"] for record in records}
    expected = {
        label: entry
        for label, entry in expected_differences(args.parity, goldens, altered).items()
        if label in labels  # scenarios left out (no handler yet) expect nothing
    }
    (args.out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (args.out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    records_file = os.path.relpath(args.out / "records.jsonl")
    print(f"{len(records)} records in {len(groups)} databases -> {records_file}")

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = list(pool.map(lambda g: replay_group(g, args.parity, args.out, args.keep_dbs), groups))
    report = ReplayReport(source=f"{records_file} ({len(done)} databases)", examples=len(records))
    for group in done:
        report.merge(group.result)
    print(report.render())

    unchanged = sum(1 for g in done if g.checksums_equal)
    print(f"\nscoring tables unchanged by the replay in {unchanged}/{len(done)} databases")
    problems = check(report, expected)
    problems += [f"{g.name}: the replay changed the scoring tables" for g in done if not g.checksums_equal]
    print(f"expected mismatches: {sum(1 for e in expected.values() if e['paths'])} records")
    for label, entry in sorted(expected.items()):
        if entry["paths"]:
            print(f"  {label:<42} {entry['reason']}")
    masked = sorted(label for label, entry in expected.items() if not entry["paths"])
    print(f"altered only in masked fields, so expected to match: {', '.join(masked)}")
    if problems:
        print("\nthe report differs from the expectation:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print("\nthe report shows exactly the expected mismatches and no others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
