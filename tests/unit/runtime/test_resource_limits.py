"""Worker rlimits: the values computed from a function, and their effect on a real process."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from devd.errors import ConfigError
from devd.inventory import Function
from devd.runtime.resource_limits import (
    MIB,
    RUNTIME_ALLOWANCE_MIB,
    WorkerLimits,
    apply_limits,
    worker_limits,
)


def _function(runtime: str, memory: int = 128) -> Function:
    return Function("aws_lambda_function.f", "f", runtime, "index.handler", "/code", None, memory=memory)


@pytest.mark.parametrize(("runtime", "memory", "expected_mib"), [
    ("python3.11", 128, 128 + RUNTIME_ALLOWANCE_MIB["python"]),
    ("python3.12", 1024, 1024 + RUNTIME_ALLOWANCE_MIB["python"]),
    ("nodejs20.x", 128, 128 + RUNTIME_ALLOWANCE_MIB["node"]),
    ("nodejs22.x", 10240, 10240 + RUNTIME_ALLOWANCE_MIB["node"]),
])
def test_limits_follow_memory_size(runtime: str, memory: int, expected_mib: int) -> None:
    limits = worker_limits(_function(runtime, memory))

    assert limits.data_bytes == expected_mib * MIB
    assert limits.open_files == 1024


@pytest.mark.parametrize("memory", [64, 127, 10241])
def test_memory_outside_lambda_range(memory: int) -> None:
    with pytest.raises(ConfigError, match=rf"f: memory_size {memory} is outside Lambda's range; set it between 128"):
        worker_limits(_function("python3.11", memory))


ALLOCATE = """
import sys
sys.stdin.readline()
chunks = []
try:
    for _ in range(32):
        chunks.append(bytearray(16 * 1024 * 1024))
except MemoryError:
    print("MemoryError at", len(chunks) * 16, "MiB", flush=True)
    sys.exit(3)
print("allocated", len(chunks) * 16, "MiB", flush=True)
"""


def _allocate_with(limits: WorkerLimits | None) -> tuple[int, str, bool]:
    process = subprocess.Popen([sys.executable, "-c", ALLOCATE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        applied = apply_limits(process.pid, limits) if limits else False
        output, _ = process.communicate("go\n", timeout=30)
    finally:
        process.kill()
    return process.returncode, output, applied


def test_apply_limits_stops_runaway_allocation() -> None:
    status, output, applied = _allocate_with(worker_limits(_function("python3.11", 128)))

    assert applied
    assert status == 3
    assert "MemoryError at" in output
    assert int(output.split()[2]) <= 144


def test_allocation_without_limits_succeeds() -> None:
    status, output, _ = _allocate_with(None)

    assert status == 0
    assert "allocated 512 MiB" in output


def test_apply_limits_sets_both_rlimits() -> None:
    process = subprocess.Popen(["sleep", "30"])
    try:
        assert apply_limits(process.pid, WorkerLimits(200 * MIB, 512))
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        process.kill()
        process.wait()

    assert resource.prlimit(0, resource.RLIMIT_DATA) != (200 * MIB, 200 * MIB)
    assert any(line.startswith("Max data size") and f"{200 * MIB}" in line for line in limits.splitlines())
    assert any(line.startswith("Max open files") and " 512 " in line for line in limits.splitlines())


def test_apply_limits_to_exited_process() -> None:
    process = subprocess.Popen(["true"])
    process.wait()

    assert apply_limits(process.pid, WorkerLimits(200 * MIB)) is False


NODE_ALLOCATE = """
const chunks = [];
process.stdin.once("data", () => {
  for (let i = 0; i < 32; i++) chunks.push(new Array(2 * 1024 * 1024).fill(i));
  console.log("allocated", chunks.length * 16, "MiB");
  process.exit(0);
});
"""


def test_node_runs_under_limits_and_stops_at_them() -> None:
    small = subprocess.Popen(["node", "-e", "process.stdin.once('data', () => console.log('ok'))"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runaway = subprocess.Popen(["node", "-e", NODE_ALLOCATE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    limits = worker_limits(_function("nodejs20.x", 128))
    try:
        assert apply_limits(small.pid, limits)
        assert apply_limits(runaway.pid, limits)
        small_output, _ = small.communicate("go\n", timeout=30)
        _, runaway_errors = runaway.communicate("go\n", timeout=60)
    finally:
        small.kill()
        runaway.kill()

    assert small.returncode == 0
    assert small_output.strip() == "ok"
    assert runaway.returncode != 0
    assert "out of memory" in runaway_errors.lower()
