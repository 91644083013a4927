"""The built bundle under the Lambda Runtime Interface Emulator, without Docker.

The SAM CLI wheel ships AWS's emulator (``samcli/local/rapid/aws-lambda-rie-<arch>``); ``awslambdaric`` is
the runtime client of AWS's Python base images. Together they run a function as Lambda does: the emulator
starts the runtime process on the first invoke (the init phase, logged as ``INIT REPORT``), hands it events
through the Runtime API, and enforces the timeout. Around them this module recreates what the execution
environment looks like:

- a sandbox per function under ``.local/lambda/<Function>`` with ``var/task`` (the built function),
  ``opt`` (its layers) and ``var/runtime`` (awslambdaric, boto3 and the bootstrap), all read-only: in a
  private mount namespace (read-only bind mounts of the build, nothing copied) where ``unshare`` is allowed,
  otherwise read-only copies, with bytecode writes switched off;
- the environment SAM would give (``tools.sam_functions``: the template's variables, ``AWS_LAMBDA_*``, memory
  and timeout) plus what the runtime itself sets (``LAMBDA_TASK_ROOT``, ``AWS_EXECUTION_ENV``, the
  python3.12 search path: task, layer, runtime);
- the function's memory as a hard limit when a memory cgroup can be created under this process's own.

CPython 3.12, the runtime's version, runs the function (``find_python312``); the layer's native modules are
for one architecture, so this runs the build made for this machine's (``make build``, x86_64 by default).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"
SANDBOX_ROOT = PROJECT_ROOT / ".local" / "lambda"
RUNTIME_CACHE = PROJECT_ROOT / ".local" / "lambda-runtime"
RUNTIME_REQUIREMENTS = PROJECT_ROOT / "requirements-runtime.txt"
SAM_PYTHON = PROJECT_ROOT / ".venv-sam" / "bin" / "python"
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class FunctionSpec:
    """One built function as `sam local` would run it (see ``tools.sam_functions``)."""

    name: str
    handler: str
    memory_mb: int
    timeout_s: int
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    template_variables: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


@dataclass
class InvokeResult:
    """What one invocation returned: the payload, whether the function failed, and the client's timing."""

    payload: Any
    function_error: bool
    ms: float


@dataclass
class InitReport:
    """The ``INIT REPORT`` line the emulator logs after the runtime's init phase."""

    duration_ms: float
    status: str


def host_arch() -> str:
    arch = HOST_ARCH.get(platform.machine().lower())
    if arch is None:
        raise SystemExit(f"no Lambda architecture for this machine ({platform.machine()})")
    return arch


def rie_binary(arch: str | None = None) -> Path:
    """The emulator the SAM CLI wheel ships for ``arch`` (this machine's by default)."""
    arch = arch or host_arch()
    found = sorted(
        PROJECT_ROOT.glob(f".venv-sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-{arch}")
    )
    if not found:
        raise SystemExit("no aws-lambda-rie in .venv-sam: run `make sam-venv`")
    return found[0]


def find_python312() -> str:
    """A working CPython 3.12: $LAMBDA_PYTHON, python3.12 on PATH, pyenv's, then the usual prefixes."""
    from tools.invoke import find_python312 as find

    python = find()
    if python is None:
        raise SystemExit("a CPython 3.12 (the runtime's version) is needed: set LAMBDA_PYTHON")
    return python


def load_functions(
    build_dir: Path = BUILD_DIR, overrides: dict[str, dict[str, str]] | None = None
) -> dict[str, FunctionSpec]:
    """The functions of the build that hold project code (a ``handlers/`` folder), by logical id.

    ``overrides`` are `sam local --env-vars` values per function; like SAM, only the template's variables
    take them. SAM writes an empty string where the template says ``AWS::NoValue`` (it does not evaluate
    conditions); in AWS those variables are absent, so empty values are dropped here.
    """
    template = build_dir / "template.yaml"
    if not template.exists():
        raise SystemExit(f"no {template}: run `make build` first")
    if not SAM_PYTHON.exists():
        raise SystemExit("no .venv-sam: run `make sam-venv`")
    arch = layer_arch(build_dir) or host_arch()
    with _temporary_json(overrides or {}) as env_file:
        done = subprocess.run(
            [str(SAM_PYTHON), "-m", "tools.sam_functions", "--template", str(template),
             "--parameter-overrides", f"Architecture={arch}", "--env-vars", str(env_file)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"reading {template} failed:\n{done.stderr[-3000:]}")
    functions = {}
    for entry in json.loads(done.stdout):
        code_dir = _absolute(entry["code_dir"])
        if not (code_dir / "handlers").is_dir():
            continue
        functions[entry["name"]] = FunctionSpec(
            name=entry["name"],
            handler=entry["handler"],
            memory_mb=int(entry["memory_mb"]),
            timeout_s=int(entry["timeout_s"]),
            code_dir=code_dir,
            layer_dirs=tuple(_absolute(layer) for layer in entry["layer_dirs"]),
            environment={k: str(v) for k, v in entry["environment"].items() if str(v) != ""},
            template_variables=tuple(entry["template_variables"]),
            routes=tuple((method, path) for method, path in entry.get("routes", [])),
        )
    return functions


def layer_arch(build_dir: Path) -> str | None:
    marker = build_dir / "DependenciesLayer" / "python" / ".lambda-arch"
    return marker.read_text().strip() if marker.exists() else None


def _absolute(path: str) -> Path:
    return (PROJECT_ROOT / path).resolve()


@contextlib.contextmanager
def _temporary_json(content: Any) -> Iterator[Path]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(content, f)
    try:
        yield Path(f.name)
    finally:
        os.unlink(f.name)


def runtime_dir(python: str, arch: str) -> Path:
    """awslambdaric and boto3 (what the python3.12 runtime provides, requirements-runtime.txt) for 3.12.

    Installed once per architecture and requirements, from manylinux wheels as the layer is.
    """
    digest = _short_hash(RUNTIME_REQUIREMENTS.read_bytes())
    target = RUNTIME_CACHE / f"{arch}-{digest}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    wheel_arch = WHEEL_ARCH[arch]
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--platform", f"manylinux2014_{wheel_arch}", "--platform", f"manylinux_2_28_{wheel_arch}",
         "--implementation", "cp", "--python-version", "3.12", "--target", str(target),
         "-r", str(RUNTIME_REQUIREMENTS)],
        check=True,
    )  # fmt: skip
    # Compiled like the bundle: the runtime's own files are read-only in Lambda too.
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash", str(target)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    shutil.rmtree(target / "bin", ignore_errors=True)
    (target / ".complete").touch()
    return target


def _short_hash(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:12]


@functools.cache
def mount_namespaces_allowed() -> bool:
    """Whether ``unshare`` may make a private mount namespace with a read-only bind mount (root, or a
    user namespace where the kernel allows one)."""
    if not shutil.which("unshare"):
        return False
    SANDBOX_ROOT.mkdir(parents=True, exist_ok=True)
    probe = (
        f"mount --bind {_q(SANDBOX_ROOT)} {_q(SANDBOX_ROOT)} && mount -o remount,bind,ro {_q(SANDBOX_ROOT)}"
    )
    done = subprocess.run(
        [*_unshare_prefix(), "sh", "-c", probe], capture_output=True, check=False, timeout=10
    )
    return done.returncode == 0


def _unshare_prefix() -> list[str]:
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", "--mount", "--propagation", "private", *user]


class MemoryLimit:
    """A memory cgroup (v1 or v2) below this process's own, holding the runtime to ``mb`` megabytes.

    ``create`` returns None where no such cgroup may be made (no permission, no memory controller).
    """

    def __init__(self, path: Path, procs: Path) -> None:
        self.path = path
        self.procs = procs

    @classmethod
    def create(cls, name: str, mb: int) -> MemoryLimit | None:
        limit = str(mb * 1024 * 1024)
        for base, limit_file in _memory_cgroup_bases():
            path = base / f"{name}-{os.getpid()}"
            try:
                path.mkdir(exist_ok=True)
                (path / limit_file).write_text(limit)
                return cls(path, path / "cgroup.procs")
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
        return None

    def enter(self) -> None:
        """Move the calling process in (run in the child, before exec)."""
        self.procs.write_text(str(os.getpid()))

    def peak_mb(self) -> float | None:
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            with contextlib.suppress(OSError, ValueError):
                return int((self.path / name).read_text()) / 2**20
        return None

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _memory_cgroup_bases() -> list[tuple[Path, str]]:
    """This process's memory cgroup: v1 (``memory.limit_in_bytes``) and v2 (``memory.max``)."""
    bases = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                bases.append((Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "memory.limit_in_bytes"))
            elif controllers == "":
                v2 = Path("/sys/fs/cgroup") / path.lstrip("/")
                with contextlib.suppress(OSError):
                    if "memory" in (v2 / "cgroup.subtree_control").read_text().split():
                        bases.append((v2, "memory.max"))
    return bases


def free_port_pair(low: int, high: int) -> int:
    """The first port ``p`` in ``[low, high)`` with ``p`` and ``p + 1`` free (invocations, Runtime API)."""
    for port in range(low, high - 1, 2):
        if _free(port) and _free(port + 1):
            return port
    raise RuntimeError(f"no two free ports in {low}-{high}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Emulator:
    """One execution environment of ``spec``: the emulator process, its runtime, its sandbox.

    ``port`` serves invocations; ``port + 1`` is the Runtime API between the emulator and the runtime.
    """

    spec: FunctionSpec
    port: int
    python: str = field(default_factory=find_python312)
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    read_only: str = ""  # "mount namespace" or "read-only copies", once started
    memory: MemoryLimit | None = None
    _process: subprocess.Popen[bytes] | None = None
    _log: Any = None
    _http: http.client.HTTPConnection | None = None

    @property
    def sandbox(self) -> Path:
        return SANDBOX_ROOT / self.spec.name

    def start(self) -> None:
        arch = layer_arch(self.spec.code_dir.parent) or host_arch()
        runtime = runtime_dir(self.python, arch)
        sandbox = self.sandbox
        task, opt, var_runtime = sandbox / "var" / "task", sandbox / "opt", sandbox / "var" / "runtime"
        env = self._environment(task, opt, var_runtime)
        if mount_namespaces_allowed():
            self.read_only = "mount namespace"
            _reset_dirs(task, opt, var_runtime)
            binds = [(self.spec.code_dir, task), (runtime, var_runtime)]
            binds += [(layer, opt) for layer in self.spec.layer_dirs[:1]]
            if len(self.spec.layer_dirs) > 1:  # Lambda merges layers into /opt: merge copies instead
                _merged_copy(self.spec.layer_dirs, opt)
                binds = [*binds[:2], (opt, opt)]
            script = " && ".join(
                f"mount --bind {_q(src)} {_q(dst)} && mount -o remount,bind,ro {_q(dst)}"
                for src, dst in binds
            )
            command = [*_unshare_prefix(), "sh", "-c", f'{script} && cd {_q(task)} && exec "$@"', "sh"]
        else:
            self.read_only = "read-only copies"
            _reset_dirs(task, opt, var_runtime)
            shutil.copytree(self.spec.code_dir, task, dirs_exist_ok=True)
            _merged_copy(self.spec.layer_dirs, opt)
            shutil.copytree(runtime, var_runtime, dirs_exist_ok=True)
            for path in (task, opt, var_runtime):
                _make_read_only(path)
            env["PYTHONDONTWRITEBYTECODE"] = "1"  # root writes through file modes; Lambda's disk refuses
            command = []
        command += [
            str(rie_binary(arch)), "--log-level", "info",
            "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
            "--runtime-api-address", f"127.0.0.1:{self.port + 1}",
            self.python, "-m", "awslambdaric", self.spec.handler,
        ]  # fmt: skip
        self.memory = MemoryLimit.create(f"lambda-{self.spec.name}", self.spec.memory_mb)
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            command, cwd=task if command[0] != "unshare" else sandbox, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=self.memory.enter if self.memory else None,
        )  # fmt: skip
        self._wait_listening()

    def _environment(self, task: Path, opt: Path, var_runtime: Path) -> dict[str, str]:
        """SAM's environment, what the python3.12 runtime adds, and nothing of this shell's but PATH."""
        search_path = [
            task,
            opt / "python" / "lib" / "python3.12" / "site-packages",
            opt / "python",
            var_runtime,
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **self.spec.environment,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(task),
            "LAMBDA_RUNTIME_DIR": str(var_runtime),
            "PYTHONPATH": os.pathsep.join(str(p) for p in search_path),
            "LD_LIBRARY_PATH": os.pathsep.join(
                str(p) for p in (var_runtime, task, task / "lib", opt / "lib")
            ),
        }
        env.update(self.extra_env)
        return env

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {self._process.returncode}{self._log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise RuntimeError(f"the emulator did not listen on port {self.port}{self._log_tail()}")

    def invoke(self, event: Any, *, timeout_s: float | None = None) -> InvokeResult:
        """POST one event; the emulator answers with the handler's result or the function's error (its 502
        when the init phase or the runtime failed). One kept-alive connection, as a caller would keep."""
        data = json.dumps(event).encode()
        started = time.perf_counter()
        try:
            connection = self._connection(timeout_s)
            connection.request("POST", INVOKE_PATH, body=data, headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException):
            self._close_connection()
            raise
        error = answer.status >= 400 or answer.getheader("X-Amz-Function-Error") is not None
        ms = (time.perf_counter() - started) * 1000
        try:
            payload = json.loads(body)
        except ValueError:
            payload = body.decode(errors="replace")
        if (
            isinstance(payload, dict)
            and {"errorMessage", "errorType"} <= set(payload)
            and "statusCode" not in payload
        ):
            error = True
        return InvokeResult(payload, error, ms)

    def _connection(self, timeout_s: float | None) -> http.client.HTTPConnection:
        if self._http is None:
            self._http = http.client.HTTPConnection("127.0.0.1", self.port)
        self._http.timeout = timeout_s or self.spec.timeout_s + 10
        if self._http.sock is not None:
            self._http.sock.settimeout(self._http.timeout)
        return self._http

    def _close_connection(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def runtime_pid(self) -> int | None:
        """The runtime process (the 3.12 interpreter the emulator started), if it is running."""
        if self._process is None:
            return None
        for pid in _session_members(self._process.pid):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/exe").resolve().name.startswith("python"):
                    return pid
        return None

    def runtime_peak_rss_mb(self) -> float | None:
        """``VmHWM`` of the runtime process: its peak resident set so far."""
        pid = self.runtime_pid()
        if pid is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        if self._log not in (None, subprocess.DEVNULL):
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def init_report(self) -> InitReport | None:
        return parse_init_report(self.log_text())

    def _log_tail(self) -> str:
        text = self.log_text()
        return f":\n{text[-3000:]}" if text else ""

    def stop(self) -> None:
        self._close_connection()
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
            self._log = None
        if self.memory is not None:
            self.memory.remove()
            self.memory = None
        if self.read_only == "read-only copies":
            for path in (
                self.sandbox / "var" / "task",
                self.sandbox / "opt",
                self.sandbox / "var" / "runtime",
            ):
                _make_writable(path)

    def __enter__(self) -> Emulator:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_init_report(log: str) -> InitReport | None:
    """The init phase as the emulator logs it (``--log-level info``): ``INIT REPORT(durationMs: 298.97)``
    and the status of ``INIT RTDONE(status: success)``. (The ``Init Duration`` of its ``REPORT`` lines is
    not measured: it is a constant of the emulator.)"""
    duration = _INIT_REPORT.search(log)
    if duration is None:
        return None
    status = _INIT_DONE.search(log)
    return InitReport(float(duration.group(1)), status.group(1) if status else "unknown")


_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
_INIT_DONE = re.compile(r"INIT RTDONE\(status: ([^)]+)\)")


def _session_members(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # field 6, the session id, after state ppid pgrp
                members.append(int(entry.name))
    return sorted(members)


def _q(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


def _reset_dirs(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            _make_writable(path)
            shutil.rmtree(path)
        path.mkdir(parents=True)


def _merged_copy(layers: tuple[Path, ...], opt: Path) -> None:
    for layer in layers:
        shutil.copytree(layer, opt, dirs_exist_ok=True, symlinks=True)


def _make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            with contextlib.suppress(OSError):
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
