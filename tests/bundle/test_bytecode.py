"""Every module of the built bundle ships its CPython 3.12 bytecode, in a mode that survives copying.

Lambda's ``/var/task`` and ``/opt`` are read-only, so a module without a usable ``.pyc`` is compiled from
source at every cold start. Runs against ``BUNDLE_BUILD_DIR`` (the output of `sam build`) or else
``.aws-sam/build``; skipped when there is no build. Checks each ``.py`` of every function (a folder with
``handlers/``) and of the layer (``DependenciesLayer/python``).
"""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"
# importlib's MAGIC_NUMBER of CPython 3.12 (Lib/importlib/_bootstrap_external.py: 3531).
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"
HASH_BASED = 0b01  # PEP 552 flags: bit 0 hash-based, bit 1 check the source


def _build_dir() -> Path:
    explicit = os.environ.get("BUNDLE_BUILD_DIR")
    build = Path(explicit) if explicit else DEFAULT_BUILD_DIR
    if not (build / "DependenciesLayer" / "python").is_dir():
        if explicit:
            pytest.fail(f"BUNDLE_BUILD_DIR={explicit} holds no built layer")
        pytest.skip("no built bundle (run `make build` or set BUNDLE_BUILD_DIR)")
    return build


def bundle_roots(build: Path) -> list[Path]:
    """The import roots of the bundle: each function's folder and the layer's python/."""
    functions = sorted(p for p in build.iterdir() if (p / "handlers").is_dir())
    return [*functions, build / "DependenciesLayer" / "python"]


def cached_path(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"


def pyc_problem(source: Path) -> str | None:
    """Why the 3.12 ``.pyc`` of ``source`` would not be used as it is, or None."""
    pyc = cached_path(source)
    if not pyc.is_file():
        return "no .cpython-312.pyc"
    header = pyc.read_bytes()[:16]
    if header[:4] != MAGIC_312:
        return f"magic {header[:4]!r} is not CPython 3.12's"
    (flags,) = struct.unpack_from("<I", header, 4)
    if not flags & HASH_BASED:
        return "timestamp-based: invalidated as soon as the files are copied"
    if sys.version_info[:2] == (3, 12) and header[8:16] != importlib.util.source_hash(source.read_bytes()):
        return "compiled from another version of the source"
    return None


def test_magic_number_is_cpython_312s() -> None:
    if sys.version_info[:2] != (3, 12):
        pytest.skip("the constant is checked against the interpreter only on 3.12")
    assert importlib.util.MAGIC_NUMBER == MAGIC_312


def test_pyc_problem_detects_missing_and_timestamp_bytecode(tmp_path: Path) -> None:
    import py_compile

    source = tmp_path / "mod.py"
    source.write_text("x = 1\n")
    assert pyc_problem(source) == "no .cpython-312.pyc"
    if sys.version_info[:2] != (3, 12):
        pytest.skip("compiling a 3.12 .pyc needs 3.12")
    cached_path(source).parent.mkdir()
    py_compile.compile(str(source), cfile=str(cached_path(source)))
    assert pyc_problem(source) == "timestamp-based: invalidated as soon as the files are copied"
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(str(source), cfile=str(cached_path(source)), invalidation_mode=mode)
    assert pyc_problem(source) is None
    source.write_text("x = 2\n")
    assert pyc_problem(source) == "compiled from another version of the source"


def test_every_module_of_the_bundle_has_its_312_bytecode() -> None:
    build = _build_dir()
    roots = bundle_roots(build)
    assert len(roots) > 1, f"no built function in {build}"
    problems: dict[str, str] = {}
    checked = 0
    for root in roots:
        for source in sorted(root.rglob("*.py")):
            checked += 1
            problem = pyc_problem(source)
            if problem:
                problems[str(source.relative_to(build))] = problem
    assert checked, f"no .py files under {build}"
    shown = dict(list(problems.items())[:20])
    assert not problems, f"{len(problems)} of {checked} modules without usable bytecode, e.g. {shown}"
