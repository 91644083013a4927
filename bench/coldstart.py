"""Cold start: fresh interpreters answering their first request, and where the import time goes.

Each run spawns ``bench.cold`` with only the handler's environment (plus PATH, HOME, LANG), as a new Lambda
execution environment would start, and takes the time from just before the spawn to the moment the child
had its response (``time.monotonic()`` is system-wide). ``-X importtime`` then lists the imports of
``handlers.score`` by cumulative time.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import distribution

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOP_IMPORTS = 15


def minimal_env(handler_env: dict[str, str]) -> dict[str, str]:
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {**base, **handler_env}


def cold_starts(python: str, handler_env: dict[str, str], event: dict[str, Any], runs: int) -> dict[str, Any]:
    spawn_to_response, imports, first_calls = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        event_path, result_path = Path(tmp) / "event.json", Path(tmp) / "result.json"
        event_path.write_text(json.dumps(event))
        for _ in range(runs):
            result_path.unlink(missing_ok=True)
            spawned = time.monotonic()
            child = subprocess.run(
                [python, "-m", "bench.cold", str(event_path), str(result_path)],
                cwd=PROJECT_ROOT,
                env=minimal_env(handler_env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            if child.returncode != 0 or not result_path.exists():
                raise RuntimeError(f"cold start probe failed ({child.returncode}):\n{child.stderr[-3000:]}")
            result = json.loads(result_path.read_text())
            if result["status"] != 200:
                raise RuntimeError(f"cold start probe answered {result['status']}")
            spawn_to_response.append((result["answered_at"] - spawned) * 1000)
            imports.append(result["import_ms"])
            first_calls.append(result["first_call_ms"])
    return {
        "runs": runs,
        "spawn_to_response_ms": distribution(spawn_to_response),
        "import_ms": distribution(imports),
        "first_call_ms": distribution(first_calls),
        "samples_ms": spawn_to_response,
    }


def import_profile(python: str, handler_env: dict[str, str]) -> dict[str, Any]:
    """One ``python -X importtime -c "import handlers.score"``: the top imports and the handler's total."""
    child = subprocess.run(
        [python, "-X", "importtime", "-c", "import handlers.score"],
        cwd=PROJECT_ROOT,
        env=minimal_env(handler_env),
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"import of handlers.score failed:\n{child.stderr[-3000:]}")
    entries = parse_importtime(child.stderr)
    by_cumulative = sorted(entries, key=lambda entry: entry["cumulative_ms"], reverse=True)
    handler_total = next((e["cumulative_ms"] for e in entries if e["module"] == "handlers.score"), None)
    return {"handlers_score_cumulative_ms": handler_total, "top": by_cumulative[:TOP_IMPORTS]}


def parse_importtime(stderr: str) -> list[dict[str, Any]]:
    """``import time: self [us] | cumulative | imported package`` lines, in ms; other lines are skipped."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        entries.append(
            {
                "module": fields[2].strip(),
                "self_ms": int(fields[0]) / 1000,
                "cumulative_ms": int(fields[1]) / 1000,
            }
        )
    return entries
