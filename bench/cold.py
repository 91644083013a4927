"""Cold start probe: a fresh interpreter imports the handler and answers one request.

``python -m bench.cold EVENT RESULT``, with the handler's environment. Only the standard library is
imported before the handler, as in the Lambda runtime. The result holds the import time, the first call's
time, and ``time.monotonic()`` when the response was in hand (system-wide, so the parent can subtract the
moment it spawned this process). Ends with ``os._exit``: the interpreter's own shutdown is not part of a
cold start, and DIDKit's threads can crash it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class _Context:
    aws_request_id = "cold-start-probe"
    function_name = "passport-score-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:passport-score-bench"
    memory_limit_in_mb = "512"
    log_group_name = "/aws/lambda/passport-score-bench"
    log_stream_name = "cold"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    event = json.loads(Path(sys.argv[1]).read_text())
    started = time.perf_counter()
    from handlers.score import handler

    imported = time.perf_counter()
    response = handler(event, _Context())
    answered = time.perf_counter()
    answered_at = time.monotonic()
    result = {
        "import_ms": (imported - started) * 1000,
        "first_call_ms": (answered - imported) * 1000,
        "answered_at": answered_at,
        "status": response["statusCode"],
    }
    Path(sys.argv[2]).write_text(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
