"""The functions of a `sam build` output as `sam local` would run them, printed as JSON.

Runs with the SAM CLI's interpreter (``.venv-sam/bin/python -m tools.sam_functions``), so the template is
read, its parameters resolved and each function's environment built by SAM's own code: the same
variables, ``AWS_LAMBDA_*`` values, memory and timeout that `sam local invoke` gives the container, the
template's variables taking this shell's values, then those of ``--env-vars``, as SAM's do.
Only this module imports ``samcli``; the emulator runner (``tools.lambda_rie``) reads its output.

    python -m tools.sam_functions --template .aws-sam/build/template.yaml \\
        [--parameter-overrides Name=Value ...] [--env-vars overrides.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def describe(template: Path, parameters: dict[str, str], overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per function: logical id, handler, runtime, memory, timeout, code and layer folders, env."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider  # type: ignore[import-not-found]
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider  # type: ignore[import-not-found]
    from samcli.local.lambdafn.env_vars import EnvironmentVariables  # type: ignore[import-not-found]

    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides=parameters)
    provider = SamFunctionProvider(stacks, ignore_code_extraction_warnings=True)
    functions = []
    for function in provider.get_all():
        variables = (function.environment or {}).get("Variables") or {}
        env = EnvironmentVariables(
            function_name=function.name,
            function_memory=function.memory,
            function_timeout=function.timeout,
            function_handler=function.handler,
            function_logging_config=function.logging_config,
            variables=variables,
            shell_env_values=dict(
                os.environ
            ),  # as `sam local` does: the shell's values of template variables
            # --env-vars semantics: a "Parameters" entry applies to every function, a function's own
            # entry to it alone.
            override_values={**overrides.get("Parameters", {}), **overrides.get(function.name, {})},
        ).resolve()
        functions.append(
            {
                "name": function.name,
                "handler": function.handler,
                "runtime": function.runtime,
                "memory_mb": function.memory,
                "timeout_s": function.timeout,
                "architectures": function.architectures,
                "code_dir": function.codeuri,
                "layer_dirs": [layer.codeuri for layer in function.layers],
                "template_variables": sorted(variables),
                "routes": _routes(function.events or {}),
                "environment": env,
            }
        )
    return functions


def _routes(events: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path template) of the function's API Gateway events (REST ``Api`` and ``HttpApi``)."""
    routes = []
    for event in events.values():
        properties = event.get("Properties") or {}
        if event.get("Type") in {"Api", "HttpApi"} and "Path" in properties:
            routes.append((str(properties.get("Method", "any")).upper(), str(properties["Path"])))
    return routes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--env-vars", type=Path, help="JSON overrides, as `sam local --env-vars` takes")
    args = parser.parse_args(argv)
    parameters = dict(item.split("=", 1) for item in args.parameter_overrides)
    overrides = json.loads(args.env_vars.read_text()) if args.env_vars else {}
    json.dump(describe(args.template, parameters, overrides), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
