"""A stand-in for the Lambda runtime's context object, for local runs, tests and benchmarks."""

from __future__ import annotations

import time
import uuid


class LambdaContext:
    """The context attributes the handler reads; a fresh request id per call."""

    function_name = "ScoreFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:ScoreFunction:live"
    memory_limit_in_mb = "1024"
    log_group_name = "/aws/lambda/ScoreFunction"
    log_stream_name = "local"

    def __init__(self, request_id: str | None = None, timeout_s: float = 30.0) -> None:
        self.aws_request_id = request_id or str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
