"""Threads that verify proofs must not each keep an event loop (and its file descriptors) for ever."""

from __future__ import annotations

import os
import threading

from scorer_core.pipeline import credentials


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_short_lived_verifying_threads_leave_no_descriptors() -> None:
    credentials.verify_proofs([{"not": "a credential"}])  # the process's own loop, if any, exists now
    before = _open_fds()
    for _ in range(20):
        thread = threading.Thread(target=credentials.verify_proofs, args=([{"not": "a credential"}],))
        thread.start()
        thread.join()
    assert _open_fds() - before < 5
