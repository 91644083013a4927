"""The built bundle under the Lambda Runtime Interface Emulator: a malformed setting fails the init phase.

Skipped without a build (`make build`), the SAM CLI's virtualenv (`make sam-venv`) or a CPython 3.12. The
sample events themselves run under the emulator in `make invoke-all` (CI's bundle step).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import invoke, lambda_rie

EVENT = Path(__file__).resolve().parents[2] / "events" / "score_success_rest.json"


@pytest.fixture(scope="module")
def score_function() -> lambda_rie.FunctionSpec:
    if not (lambda_rie.BUILD_DIR / "template.yaml").exists() or not lambda_rie.SAM_PYTHON.exists():
        pytest.skip("no built bundle or no .venv-sam (make sam-venv build)")
    if invoke.find_python312() is None:
        pytest.skip("no CPython 3.12")
    return lambda_rie.load_functions()["ScoreFunction"]


def test_malformed_setting_fails_init_naming_the_variable(
    score_function: lambda_rie.FunctionSpec, tmp_path: Path
) -> None:
    emulator = lambda_rie.Emulator(
        score_function,
        port=lambda_rie.free_port_pair(9070, 9100),
        log_path=tmp_path / "rie.log",
        extra_env={"HUMAN_POINTS_START_TIMESTAMP": "soon"},
    )
    with emulator:
        answer = emulator.invoke(json.loads(EVENT.read_text()))
        init = emulator.init_report()
    assert answer.function_error
    assert answer.payload["errorType"] == "SettingsError"
    assert "HUMAN_POINTS_START_TIMESTAMP" in answer.payload["errorMessage"]
    log = (tmp_path / "rie.log").read_text()
    assert "INIT RTDONE(status: error)" in log or (init is not None and init.status != "success"), log[-2000:]
    assert "score request" not in log  # the handler never ran
