"""`@mirror_to_sqs`: after the handler has built its response, send the request and the answer to a queue.

The primary must not notice: the send runs in a daemon thread that the handler waits for at most `timeout_s`,
the SQS client makes one attempt with short timeouts, and every failure is swallowed, counted in `stats` and
logged (without the message, which holds the API key).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

log = logging.getLogger("mirror")

# Headers no route reads; leaving them out of the queue narrows what a queue reader could see. The
# ``Authorization`` header stays: the ceramic-cache routes authenticate with its JWT, as the API key is kept.
DROPPED_HEADERS = frozenset({"cookie"})


@dataclass
class MirrorStats:
    """Counters since the container started; `timed_out` sends may still complete (and count as `sent`)."""

    sent: int = 0
    failed: int = 0
    timed_out: int = 0
    skipped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, outcome: str) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)


stats = MirrorStats()


def mirror_to_sqs(
    queue_url: str | None = None, timeout_s: float = 0.2, *, warm: bool = True
) -> Callable[[Handler], Handler]:
    """Decorate a Lambda handler so each (event, response) pair is also sent to the shadow queue.

    `queue_url` defaults to the `SHADOW_QUEUE_URL` environment variable; when neither is set the handler is
    returned unchanged, so mirroring is switched off by configuration alone. `warm` builds the SQS client in
    the background at decoration time (the function's init phase), so the first request rarely pays for it.
    """
    url = queue_url if queue_url is not None else os.environ.get("SHADOW_QUEUE_URL", "")

    def decorate(handler: Handler) -> Handler:
        if not url:
            return handler
        sender = _Sender(url, timeout_s)
        if warm:
            threading.Thread(target=sender.client, name="mirror-warm", daemon=True).start()

        @functools.wraps(handler)
        def mirrored(event: Any, context: Any) -> Any:
            snapshot = _snapshot(event)
            response = handler(event, context)
            sender.send(snapshot, response)
            return response

        return mirrored  # type: ignore[return-value]

    return decorate


class _Sender:
    """One queue, one lazily built SQS client, one bounded send per request."""

    def __init__(self, queue_url: str, timeout_s: float) -> None:
        self.queue_url = queue_url
        self.timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    self._client = _make_client(self.timeout_s)
                except Exception as exc:  # a warm-up failure is retried by the next send
                    log.warning("shadow mirror: cannot create SQS client: %s", type(exc).__name__)
                    return None
            return self._client

    def send(self, event: dict[str, Any] | None, response: Any) -> None:
        """Never raises; returns once the message is sent or `timeout_s` has passed."""
        try:
            body = _message(event, response)
        except Exception as exc:
            stats.count("skipped")
            log.warning("shadow mirror: request not mirrored: %s", exc)
            return
        worker = threading.Thread(target=self._deliver, args=(body,), name="mirror-send", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            stats.count("timed_out")
            log.warning("shadow mirror: send still running after %.3f s; not waiting", self.timeout_s)

    def _deliver(self, body: str) -> None:
        try:
            client = self.client()
            if client is None:
                raise RuntimeError("no SQS client")
            client.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except Exception as exc:
            stats.count("failed")
            log.warning("shadow mirror: send failed: %s", type(exc).__name__)
        else:
            stats.count("sent")


def _make_client(timeout_s: float) -> Any:
    # Imported here: the decorator must not add boto3's import time to the primary's cold start path.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("sqs", config=config)


def _snapshot(event: Any) -> dict[str, Any] | None:
    """A copy taken before the handler runs: handlers may rewrite the event (the reference masks the key)."""
    if not isinstance(event, dict):
        return None
    try:
        snapshot = copy.deepcopy(event)
    except Exception:
        return None
    for name in ("headers", "multiValueHeaders"):
        headers = snapshot.get(name)
        if isinstance(headers, dict):
            snapshot[name] = {
                k: v for k, v in headers.items() if not (isinstance(k, str) and k.lower() in DROPPED_HEADERS)
            }
    return snapshot


def _message(event: dict[str, Any] | None, response: Any) -> str:
    if event is None:
        raise ValueError("event is not a JSON object")
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise ValueError("response has no integer statusCode")
    body = response.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("response body is not text")
    if response.get("isBase64Encoded") is True:
        body = base64.b64decode(body).decode("utf-8")
    record = {
        "event": event,
        "response": {"statusCode": response["statusCode"], "body": body},
        "served_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(record, separators=(",", ":"), default=str)
