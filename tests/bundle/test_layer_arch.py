"""Every native library in the built dependency layer is for the architecture the function runs on.

A layer built for the wrong architecture deploys fine and fails at the first import in Lambda, so the
build is checked here instead. Runs against ``BUNDLE_LAYER_DIR`` (a layer's build output, the folder
holding ``python/``) or else ``.aws-sam/build/DependenciesLayer``; skipped when neither exists. The
expected architecture is ``BUNDLE_ARCH`` (``x86_64`` or ``arm64``), else the one the layer's makefile
build recorded in ``python/.lambda-arch``.
"""

from __future__ import annotations

import os
import platform
import re
import struct
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LAYER_DIR = PROJECT_ROOT / ".aws-sam" / "build" / "DependenciesLayer"

# ELF e_machine values (System V ABI) and the platform triplet CPython puts in extension names.
E_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}
TRIPLET = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")
EXTENSION_TAG = re.compile(r"\.cpython-(\d+)-([a-z0-9_]+-linux-gnu)\.so$")


def elf_machine(path: Path) -> int:
    """The e_machine field of a 64-bit little-endian ELF file; ValueError for anything else."""
    with path.open("rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    if header[4] != 2 or header[5] != 1:
        raise ValueError(f"{path} is not a 64-bit little-endian ELF file")
    machine: int = struct.unpack_from("<H", header, 18)[0]
    return machine


def shared_objects(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and SHARED_OBJECT.search(p.name))


def _layer_dir() -> Path:
    explicit = os.environ.get("BUNDLE_LAYER_DIR")
    layer = Path(explicit) if explicit else DEFAULT_LAYER_DIR
    if not (layer / "python").is_dir():
        if explicit:
            pytest.fail(f"BUNDLE_LAYER_DIR={explicit} has no python/ folder")
        pytest.skip("no built layer (run `make build` or set BUNDLE_LAYER_DIR)")
    return layer


def _expected_arch(layer: Path) -> str:
    marker = layer / "python" / ".lambda-arch"
    arch = os.environ.get("BUNDLE_ARCH") or (marker.read_text().strip() if marker.exists() else "")
    assert arch in E_MACHINE, f"unknown target architecture {arch!r}: set BUNDLE_ARCH to x86_64 or arm64"
    return arch


def test_elf_machine_reads_host_extension() -> None:
    """The header reader itself, on a compiled module of the interpreter running the tests."""
    from pydantic_core import _pydantic_core

    host = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    if host is None:
        pytest.skip(f"host architecture {platform.machine()} is neither x86_64 nor arm64")
    assert elf_machine(Path(_pydantic_core.__file__)) == E_MACHINE[host]


def test_elf_machine_rejects_non_elf(tmp_path: Path) -> None:
    fake = tmp_path / "libfake.so"
    fake.write_bytes(b"#!/bin/sh\n" + b"\0" * 32)
    with pytest.raises(ValueError):
        elf_machine(fake)


def test_layer_shared_objects_match_target_architecture() -> None:
    layer = _layer_dir()
    arch = _expected_arch(layer)
    found = shared_objects(layer / "python")
    assert found, f"no shared objects under {layer}: the layer build installed nothing native"
    machines = {str(p.relative_to(layer)): elf_machine(p) for p in found}
    wrong = {name: hex(machine) for name, machine in machines.items() if machine != E_MACHINE[arch]}
    assert not wrong, f"not {arch} (e_machine {hex(E_MACHINE[arch])}): {wrong}"


def test_layer_extensions_are_for_cpython_312() -> None:
    """Extension module names carry the interpreter and platform they were built for."""
    layer = _layer_dir()
    arch = _expected_arch(layer)
    tags = {p.name: EXTENSION_TAG.search(p.name) for p in shared_objects(layer / "python")}
    tagged = {name: m.groups() for name, m in tags.items() if m}
    assert tagged, "no tagged CPython extension modules in the layer"
    wrong = {name: tag for name, tag in tagged.items() if tag != ("312", TRIPLET[arch])}
    assert not wrong, f"extensions not built for cpython-312-{TRIPLET[arch]}: {wrong}"


def test_layer_leaves_boto3_to_the_runtime() -> None:
    """The python3.12 runtime ships boto3/botocore; a copy in the layer would only add megabytes."""
    layer = _layer_dir()
    bundled = [name for name in ("boto3", "botocore") if (layer / "python" / name).exists()]
    assert not bundled, f"{bundled} bundled in the layer"
