"""Replay captured requests against a database as dry runs and report where the answers differ.

`python -m tools.replay records.jsonl [--database-url URL]` (`make replay FILE=...`). Each line is a
record as the mirror sends it, `{"event": ..., "response": {"statusCode": ..., "body": ...}}` (`served_at` and
an `id` label optional). Every request runs through its route family's `handle_event(..., dry_run=True)`
(`handlers.routes`: v2 score, embed or ceramic cache), so the database is left as it was, and the comparison
is the shadow consumer's own.

Exit status: 0 when the replay ran, whatever it found (it is a report); 2 for bad input (unreadable file, a
line that is not a record, no database given); 1 when it could not run (database unreachable, or every
record failed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scorer_core.shadow.record import MirroredRecord, RecordError, parse_record
from scorer_core.shadow.report import ReplayReport
from scorer_core.shadow.run import run_shadow

EXIT_REPORTED, EXIT_COULD_NOT_RUN, EXIT_BAD_INPUT = 0, 1, 2


class ReplayContext:
    """The Lambda context attributes a handler may read."""

    def __init__(self) -> None:
        self.aws_request_id = f"replay-{uuid.uuid4()}"
        self.function_name = "passport-score-replay"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:passport-score-replay"
        self.memory_limit_in_mb = "1024"
        self.log_group_name = "/aws/lambda/passport-score-replay"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + 60

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        records = list(read_records(args.records))
    except (OSError, RecordError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    if not os.environ.get("DATABASE_URL"):
        print("replay: no database: pass --database-url or set DATABASE_URL", file=sys.stderr)
        return EXIT_BAD_INPUT
    unreachable = _unreachable(os.environ["DATABASE_URL"])
    if unreachable:
        print(f"replay: cannot connect to the database: {unreachable}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    # The score handler logs one line per request; a replay prints its own report instead.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "DEBUG" if args.verbose else "WARNING")
    report = replay(records, source=str(args.records), examples=args.examples)
    print(report.render())
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=False) + "\n")
    if records and len(report.errors) == len(records):
        print("replay: every record failed; see the errors above", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    return EXIT_REPORTED


def read_records(path: Path) -> Iterator[tuple[int, MirroredRecord]]:
    """(line number, record) for each non-blank line; the first bad line raises RecordError naming it."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, parse_record(line, require_served_at=False)
            except RecordError as exc:
                raise RecordError(f"{path}:{number}: {exc}") from None


def replay(records: list[tuple[int, MirroredRecord]], *, source: str, examples: int = 5) -> ReplayReport:
    """Run each record as a dry run; a record whose run raises is reported as an error, not a stop."""
    from handlers.routes import handle_event  # after DATABASE_URL is set: settings are read once

    report = ReplayReport(source=source, examples=examples)
    for number, record in records:
        try:
            report.add(number, run_shadow(record, handle_event, ReplayContext()))
        except Exception as exc:
            report.add_error(number, record.label, exc)
    return report


def _unreachable(database_url: str) -> str | None:
    """Why the database cannot be reached, or None; a connection only, no query."""
    import psycopg

    try:
        psycopg.connect(database_url, connect_timeout=5).close()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.replay", description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path, help="JSON lines file of captured records")
    parser.add_argument("--database-url", help="database to replay against (default: $DATABASE_URL)")
    parser.add_argument("--examples", type=int, default=5, help="mismatching records shown (default 5)")
    parser.add_argument("--json", type=Path, help="also write every result, with all differences, here")
    parser.add_argument("--verbose", action="store_true", help="keep the score handler's own log lines")
    return parser


def _guard_native_exit() -> Any:
    # DIDKit (credential verification) can crash the interpreter when it exits right after a
    # verification; the credentials tool knows the remedy.
    from tools.credentials import guard_didkit_exit

    return guard_didkit_exit()


if __name__ == "__main__":
    _guard_native_exit()
    sys.exit(main())
