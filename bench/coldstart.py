"""Cold start: fresh interpreters answering their first request, and where the import time goes.

Development tree: each run spawns ``bench.cold`` with only the handler's environment (plus PATH, HOME, LANG), as
a new Lambda execution environment would start, and takes the time from just before the spawn to the moment the
child had its response (``time.monotonic()`` is system-wide). ``-X importtime`` then lists the imports of
``handlers.score`` by cumulative time. Artifact: the built bundle under the Lambda emulator, where the figures
are the emulator's own (``artifact_cold_starts``).
"""

from __future__ import annotations

import json
import math
import os
import re
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


def artifact_cold_starts(
    handler_env: dict[str, str], event: dict[str, Any], runs: int, warm_requests: int, build_dir: Path
) -> dict[str, Any]:
    """The built bundle's cold starts under the Lambda Runtime Interface Emulator (``tools.lambda_rie``).

    Each run is a fresh execution environment: init as the emulator logs it (``INIT REPORT``), the first
    invoke's duration (``INVOKE RTDONE``), then ``warm_requests`` more invokes, timed by the client (what a
    caller of the emulator waits) and by the emulator, and the runtime process's peak RSS (``VmHWM``).
    Returns ``{"skipped": why}`` when there is no build to run.
    """
    from tools import invoke, lambda_rie

    if not (build_dir / "template.yaml").exists() or not lambda_rie.SAM_PYTHON.exists():
        return {"skipped": f"no build in {build_dir} or no .venv-sam (make sam-venv build)"}
    python = invoke.find_python312()
    if python is None:
        return {"skipped": "no CPython 3.12"}
    spec = lambda_rie.load_functions(build_dir, {"ScoreFunction": handler_env})["ScoreFunction"]
    samples: dict[str, list[float]] = {
        key: [] for key in ("init", "first_invoke", "init_plus_first_invoke", "first_client", "rss")
    }
    warm_client: list[float] = []
    warm_runtime: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-rie-") as tmp:
        for run in range(runs):
            log = Path(tmp) / f"run-{run}.log"
            port = lambda_rie.free_port_pair(9020, 9060)
            with lambda_rie.Emulator(spec, port=port, python=python, log_path=log) as emulator:
                first = emulator.invoke(event)
                if first.function_error or first.payload.get("statusCode") != 200:
                    raise RuntimeError(
                        f"the built function answered {first.payload!r}:\n{emulator.log_text()[-3000:]}"
                    )
                warm = [emulator.invoke(event) for _ in range(warm_requests)]
                init = emulator.init_report()
                rss = emulator.runtime_peak_rss_mb()
                text = emulator.log_text()
            invokes = parse_invoke_durations(text)
            if init is None or len(invokes) != warm_requests + 1:
                raise RuntimeError(
                    f"the emulator's log lacks its INIT REPORT or INVOKE RTDONE lines:\n{text[-3000:]}"
                )
            samples["init"].append(init.duration_ms)
            samples["first_invoke"].append(invokes[0])
            samples["init_plus_first_invoke"].append(init.duration_ms + invokes[0])
            samples["first_client"].append(first.ms)
            samples["rss"].append(rss or math.nan)
            warm_client += [answer.ms for answer in warm]
            warm_runtime += invokes[1:]
    return {
        "runs": runs,
        "build_dir": str(build_dir),
        "bytecode": _has_bytecode(spec.code_dir),
        "init_ms": distribution(samples["init"]),
        "first_invoke_ms": distribution(samples["first_invoke"]),
        "init_plus_first_invoke_ms": distribution(samples["init_plus_first_invoke"]),
        "first_invoke_client_ms": distribution(samples["first_client"]),
        "warm_client_ms": distribution(warm_client),
        "warm_runtime_ms": distribution(warm_runtime),
        "runtime_peak_rss_mb": distribution(samples["rss"]),
    }


_INVOKE_DONE = re.compile(r"INVOKE RTDONE\(status: [^,]+, produced bytes: \d+, duration: ([0-9.]+)ms\)")


def parse_invoke_durations(log: str) -> list[float]:
    """The duration of each invoke as the emulator logs it, in order (``INVOKE RTDONE(..., duration: 6.5ms)``)."""
    return [float(match.group(1)) for match in _INVOKE_DONE.finditer(log)]


def _has_bytecode(code_dir: Path) -> bool:
    return (code_dir / "handlers" / "__pycache__").is_dir()
