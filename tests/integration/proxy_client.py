"""One Lambda environment of the proxy tests: ``python -m tests.integration.proxy_client ADDRESS SCORER KEY N``.

Runs in its own process (its own pool, as a warm Lambda environment has), with the service's environment
inherited from the test. Says ``ready`` once imported, waits for a line on stdin, scores ADDRESS N times
through the handler, and after each request asks the server, through the service's own pool, which
backend served it. Prints one JSON line (statuses and backend pids), then waits for a last line on stdin
before exiting, so that the test can look at the proxy while every client is still connected.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(address: str, scorer: str, key: str, requests: int) -> None:
    from handlers.score import handler
    from scorer_core import db
    from tools.credentials import guard_didkit_exit
    from tools.demo import LambdaContext, build_event

    guard_didkit_exit()

    def backend_pid(conn: Any) -> int:
        return int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])

    print("ready", flush=True)
    sys.stdin.readline()
    statuses, pids = [], []
    for _ in range(requests):
        response = handler(build_event(scorer, address, key), LambdaContext())
        statuses.append(int(response["statusCode"]))
        pids.append(db.run_transaction(backend_pid))
    print(json.dumps({"statuses": statuses, "pids": pids}), flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
