"""`sam local invoke` and `sam local start-api` for real, on a machine with no registry: `make sam-local-check`.

Needs root and apt (Debian): it installs ``docker.io``, ``debootstrap`` and ``socat`` when missing, starts
``dockerd`` by hand when none runs (overlay2, else vfs; ``--iptables=false --ip-forward=false``), and stops
it again at the end. No registry is reachable, so the Lambda base image SAM builds on
(``public.ecr.aws/lambda/python:3.12-<arch>``) is stood in by one built here: a Debian bookworm rootfs made
by ``debootstrap``, this machine's CPython 3.12 in ``/var/lang`` (Debian bookworm has 3.11), awslambdaric
and boto3 in ``/var/runtime`` with its ``bootstrap``, the emulator at ``/usr/local/bin/aws-lambda-rie`` and
the ``/lambda-entrypoint.sh`` entry point, as in AWS's image; SAM then runs with ``--skip-pull-image``.

The containers reach the demo database (``make sam-local-db``: database scorer_demo on the PostgreSQL at
127.0.0.1:5432) through ``socat`` on the Docker bridge, as ``host.docker.internal``. Every sample event goes
through ``sam local invoke`` (status and envelope checked against events/expected.json), then
``sam local start-api`` answers one request per template route. Prints the time of each step.

    python -m tools.sam_local_check [--rebuild-image] [--keep-docker]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools import invoke, lambda_rie
from tools.envelope import envelope_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_ROOT / ".local" / "sam-local"
SAM = PROJECT_ROOT / ".venv-sam" / "bin" / "sam"
EVENTS_DIR = PROJECT_ROOT / "events"
DB_DSN = "postgresql://postgres@127.0.0.1:5432/scorer_demo"
FORWARD_PORT = 9091  # socat on the Docker bridge -> 127.0.0.1:5432
START_API_PORT = 9095
APT_PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap", "socat": "socat"}
# What the base image's Python needs beyond Debian's minimal base.
ROOTFS_PACKAGES = (
    "libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libexpat1,libtirpc3,"
    "libuuid1,libgdbm6,ca-certificates"
)
ENTRYPOINT = """#!/bin/sh
# As in AWS's base images: the handler is the only argument; without a Runtime API, run under the emulator.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
"""
BOOTSTRAP = """#!/bin/sh
# The python3.12 runtime: awslambdaric runs the handler named by _HANDLER (SAM sets it through the emulator).
export PYTHONPATH="/var/task:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.12 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
"""
IMAGE_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
}


def step(message: str) -> None:
    print(f"- {message}", flush=True)


@contextlib.contextmanager
def timed(label: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[label] = time.perf_counter() - started
    step(f"{label}: {timings[label]:.1f} s")


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], check=True, text=True, **kwargs)


def install_packages() -> None:
    missing = [package for tool, package in APT_PACKAGES.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"needs {missing}: run as root on Debian, or install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", *missing, env=env, stdout=subprocess.DEVNULL)


def docker_ready() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def start_dockerd() -> subprocess.Popen[bytes] | None:
    """A dockerd of our own when none answers (None when one already runs); overlay2, else vfs."""
    if docker_ready():
        return None
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for driver in ("overlay2", "vfs"):
        log = open(WORK_DIR / f"dockerd-{driver}.log", "wb")  # noqa: SIM115
        daemon = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip-forward=false", f"--storage-driver={driver}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and daemon.poll() is None:
            if docker_ready():
                step(f"dockerd started (storage driver {driver})")
                return daemon
            time.sleep(0.2)
        daemon.terminate()
        daemon.wait()
        step(f"dockerd did not start with {driver}: see {log.name}")
    raise SystemExit("dockerd did not start")


def image_tag(arch: str) -> str:
    """The image `sam local` builds on for python3.12 (samcli's LambdaImage: repository and tag)."""
    return f"public.ecr.aws/lambda/python:3.12-{arch}"


def build_base_image(arch: str, python: str) -> None:
    """The stand-in of AWS's python3.12 base image, from a debootstrap rootfs."""
    rootfs = WORK_DIR / "rootfs"
    if not (rootfs / ".complete").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        run("debootstrap", "--variant=minbase", f"--include={ROOTFS_PACKAGES}", "bookworm", rootfs,
            "http://deb.debian.org/debian", stdout=subprocess.DEVNULL)  # fmt: skip
        (rootfs / ".complete").touch()
    image = WORK_DIR / "image"
    if image.exists():
        shutil.rmtree(image)
    # cp -a keeps the rootfs's device nodes as nodes: copytree would read /dev/zero and /dev/full for ever.
    run("cp", "-a", rootfs, image)
    (image / ".complete").unlink()
    _install_python(python, image / "var" / "lang")
    shutil.copytree(lambda_rie.runtime_dir(python, arch), image / "var" / "runtime", symlinks=True)
    _write_executable(image / "var" / "runtime" / "bootstrap", BOOTSTRAP)
    _write_executable(image / "lambda-entrypoint.sh", ENTRYPOINT)
    shutil.copy(lambda_rie.rie_binary(arch), image / "usr" / "local" / "bin" / "aws-lambda-rie")
    for folder in ("var/task", "opt"):
        (image / folder).mkdir(parents=True, exist_ok=True)
    changes = ['ENTRYPOINT ["/lambda-entrypoint.sh"]', "WORKDIR /var/task", 'CMD ["app.handler"]']
    changes += [f"ENV {name}={value}" for name, value in IMAGE_ENV.items()]
    tar = subprocess.Popen(["tar", "-C", str(image), "-c", "."], stdout=subprocess.PIPE)
    command = [
        "docker",
        "import",
        *(arg for change in changes for arg in ("--change", change)),
        "-",
        image_tag(arch),
    ]
    subprocess.run(command, stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
    if tar.wait() != 0:
        raise SystemExit("tar of the image rootfs failed")
    shutil.rmtree(image)
    # The interpreter runs in the image as Lambda's does: check it before SAM does.
    done = subprocess.run(
        ["docker", "run", "--rm", "-e", "PYTHONPATH=/var/runtime", "--entrypoint", "/var/lang/bin/python3.12",
         image_tag(arch), "-c",
         "import sys, awslambdaric, ssl, sqlite3; print(sys.version.split()[0])"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the image's Python does not run:\n{done.stderr}")
    step(f"image {image_tag(arch)} built: Python {done.stdout.strip()} in /var/lang")


def _install_python(python: str, lang: Path) -> None:
    """This machine's CPython 3.12 (interpreter, libpython, standard library; no site-packages) in /var/lang."""
    prefix = Path(run(python, "-c", "import sys; print(sys.base_prefix)", capture_output=True).stdout.strip())
    (lang / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / "python3.12", lang / "bin" / "python3.12")
    (lang / "bin" / "python3").symlink_to("python3.12")
    (lang / "lib").mkdir()
    for library in prefix.glob("lib/libpython3.12*.so*"):
        shutil.copy2(library, lang / "lib" / library.name, follow_symlinks=True)
    shutil.copytree(
        prefix / "lib" / "python3.12",
        lang / "lib" / "python3.12",
        ignore=shutil.ignore_patterns(
            "site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"
        ),
    )
    (lang / "lib" / "python3.12" / "site-packages").mkdir()


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge (what host-gateway resolves to in a container)."""
    out = run("docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}",
              capture_output=True).stdout.strip()  # fmt: skip
    return out or "172.17.0.1"


def env_vars_file(directory: Path) -> Path:
    """events/env.local.json with the database reached through the forwarder on the bridge."""
    env = json.loads((EVENTS_DIR / "env.local.json").read_text())
    for values in env.values():
        if "DATABASE_URL" in values:
            values["DATABASE_URL"] = f"postgresql://postgres@host.docker.internal:{FORWARD_PORT}/scorer_demo"
    path = directory / "env.json"
    path.write_text(json.dumps(env))
    return path


def sam_env() -> dict[str, str]:
    return {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def sam_common(env_file: Path) -> list[str]:
    """The options of both commands: the build's architecture (the template's default is arm64), the
    database override, the local base image."""
    return [
        "--parameter-overrides", f"Architecture={lambda_rie.host_arch()}", "--env-vars", str(env_file),
        "--skip-pull-image", "--add-host", "host.docker.internal:host-gateway",
    ]  # fmt: skip


def invoke_all(functions: dict[str, lambda_rie.FunctionSpec], env_file: Path) -> int:
    """`sam local invoke` per sample event; the number of failures."""
    expected: dict[str, int] = json.loads((EVENTS_DIR / "expected.json").read_text())
    by_module = {spec.module: name for name, spec in functions.items()}
    failed = 0
    for name, status in expected.items():
        function = invoke.function_for_event(name, by_module)
        if function is None:
            print(f"SKIP {name}: no function of template.yaml handles it")
            continue
        event = EVENTS_DIR / name
        started = time.perf_counter()
        done = subprocess.run(
            [str(SAM), "local", "invoke", function, "-e", str(event), *sam_common(env_file)],
            cwd=PROJECT_ROOT, env=sam_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        response = _last_json(done.stdout)
        problem = (
            envelope_problem(json.loads(event.read_text()), response)
            if response is not None
            else "no response"
        )
        got = response.get("statusCode") if isinstance(response, dict) else None
        ok = done.returncode == 0 and got == status and problem is None
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} sam local invoke {function} {name}: status {got}, expected {status}"
              f"{f'; {problem}' if problem else ''} ({seconds:.1f} s)")  # fmt: skip
        if not ok:
            print(done.stdout[-2000:], done.stderr[-4000:], sep="\n")
    return failed


def _last_json(text: str) -> Any:
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    return None


def route_requests(
    functions: dict[str, lambda_rie.FunctionSpec],
) -> list[tuple[str, str, dict[str, str], int]]:
    """One request per template route: the path and headers of a REST sample event of it, and its status."""
    expected: dict[str, int] = json.loads((EVENTS_DIR / "expected.json").read_text())
    requests = []
    for spec in functions.values():
        for method, resource in spec.routes:
            samples = [
                (name, json.loads((EVENTS_DIR / name).read_text()))
                for name in sorted(expected, key=lambda n: expected[n])
            ]
            match = next(
                (
                    (n, e)
                    for n, e in samples
                    if e.get("resource") == resource and e.get("httpMethod") == method
                ),
                None,
            )
            if match is None:
                print(f"SKIP {method} {resource}: no REST sample event of it")
                continue
            name, event = match
            query = urllib.parse.urlencode(event.get("queryStringParameters") or {})
            requests.append(
                (
                    method,
                    event["path"] + (f"?{query}" if query else ""),
                    event.get("headers") or {},
                    expected[name],
                )
            )
    return requests


def start_api_check(functions: dict[str, lambda_rie.FunctionSpec], env_file: Path, log: Path) -> int:
    """`sam local start-api`, one request per route (the README's curl among them); the number of failures."""
    with open(log, "wb") as out:
        api = subprocess.Popen(
            [str(SAM), "local", "start-api", "--port", str(START_API_PORT), *sam_common(env_file)],
            cwd=PROJECT_ROOT, env=sam_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_for_port(START_API_PORT, api, 60)
            failed = 0
            for method, path, headers, status in route_requests(functions):
                url = f"http://127.0.0.1:{START_API_PORT}{path}"
                started = time.perf_counter()
                got, body = _http(method, url, {k: v for k, v in headers.items() if k.lower() != "host"})
                ok = got == status
                failed += not ok
                print(f"{'PASS' if ok else 'FAIL'} sam local start-api {method} {path}: {got}, expected {status} "
                      f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
                if not ok:
                    print(body[:2000])
            return failed
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(api.pid, 15)
            api.wait()


def _http(method: str, url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"sam local start-api exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise SystemExit(f"sam local start-api did not listen on {port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rebuild-image", action="store_true", help="build the base image even if it exists")
    parser.add_argument("--keep-docker", action="store_true", help="leave a dockerd started here running")
    args = parser.parse_args(argv)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    arch = lambda_rie.host_arch()
    python = lambda_rie.find_python312()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with timed("packages (docker.io, debootstrap, socat)", timings):
        install_packages()
    daemon = None
    forwarder = None
    try:
        with timed("dockerd", timings):
            daemon = start_dockerd()
        with timed("sam build (x86_64)" if arch == "x86_64" else f"sam build ({arch})", timings):
            run(
                "make",
                "--no-print-directory",
                "build",
                f"ARCH={arch}",
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
            )
        present = subprocess.run(
            ["docker", "image", "inspect", image_tag(arch)], capture_output=True, check=False
        )
        with timed(f"base image {image_tag(arch)}", timings):
            if args.rebuild_image or present.returncode != 0:
                build_base_image(arch, python)
            else:
                step("base image already built (--rebuild-image to redo it)")
        with timed("demo data in scorer_demo", timings):
            invoke.load_demo(DB_DSN)
        gateway = bridge_gateway()
        forwarder = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{FORWARD_PORT},bind={gateway},reuseaddr,fork", "TCP:127.0.0.1:5432"],
            start_new_session=True,
        )
        functions = lambda_rie.load_functions()
        with tempfile.TemporaryDirectory(prefix="sam-local-") as tmp:
            env_file = env_vars_file(Path(tmp))
            with timed("sam local invoke, every sample event", timings):
                failed = invoke_all(functions, env_file)
            with timed("sam local start-api, one request per route", timings):
                failed += start_api_check(functions, env_file, WORK_DIR / "start-api.log")
    finally:
        if forwarder is not None:
            forwarder.terminate()
            forwarder.wait()
        if daemon is not None and not args.keep_docker:
            daemon.terminate()
            daemon.wait(30)
    total = time.perf_counter() - started
    print(f"sam-local-check: {'passed' if not failed else f'{failed} failed'} in {total:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
