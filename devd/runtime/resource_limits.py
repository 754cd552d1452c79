"""Resource limits of a worker process, from the function's Lambda settings.

Lambda stops a function that uses more memory than its `memory_size` and gives it 1,024 file
descriptors. devd approximates both with rlimits on the worker process: `RLIMIT_DATA` (private
writable memory, which covers the Python and V8 heaps) and `RLIMIT_NOFILE`. An allocation past
the limit fails. Python then raises MemoryError in the handler, and Node aborts with an "out of
memory" error, which ends the worker. Either way the invocation fails, as it would on Lambda.

`worker_limits` is pure. `apply_limits` sets the limits on a running process with
`prlimit(2)`, so it also works for a spare process that starts before its function is known.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from devd.errors import ConfigError
from devd.inventory import Function

logger = logging.getLogger("devd.runtime.resource_limits")

MIB = 1024 * 1024

LAMBDA_MEMORY_MIB = range(128, 10240 + 1)
"""The `memory_size` values Lambda accepts, in MiB."""

LAMBDA_OPEN_FILES = 1024
"""File descriptors a Lambda execution environment may open."""

RUNTIME_ALLOWANCE_MIB = {"node": 64, "python": 16}
"""Private writable memory a runtime maps without using it, added on top of `memory_size`.

An estimate: an idle Node 20 worker maps about 96 MiB of data at 57 MiB resident (thread
stacks and V8 reservations), an idle Python 3.11 worker about 11 MiB at 20 MiB resident.
"""


@dataclass(frozen=True)
class WorkerLimits:
    """The rlimits of one worker process."""

    data_bytes: int
    """`RLIMIT_DATA`: the function's `memory_size` plus its runtime's allowance, in bytes."""
    open_files: int = LAMBDA_OPEN_FILES
    """`RLIMIT_NOFILE`."""


def worker_limits(function: Function) -> WorkerLimits:
    """Compute the limits for a worker of function.

    Raises ConfigError when `memory_size` is outside what Lambda accepts (128 to 10,240 MiB).
    """
    if function.memory not in LAMBDA_MEMORY_MIB:
        raise ConfigError(
            f"{function.name}: memory_size {function.memory} is outside Lambda's range; "
            f"set it between {LAMBDA_MEMORY_MIB.start} and {LAMBDA_MEMORY_MIB.stop - 1} MiB"
        )
    allowance = RUNTIME_ALLOWANCE_MIB.get(function.language, 0)
    return WorkerLimits(data_bytes=(function.memory + allowance) * MIB)


def apply_limits(pid: int, limits: WorkerLimits) -> bool:
    """Set the limits on the running process pid; return False when it could not be done.

    A process that already exited is skipped quietly. A hard limit that is already lower
    than the wanted one is kept, because raising it needs CAP_SYS_RESOURCE.
    """
    try:
        _lower(pid, resource.RLIMIT_DATA, limits.data_bytes)
        _lower(pid, resource.RLIMIT_NOFILE, limits.open_files)
    except ProcessLookupError:
        return False
    except OSError as error:
        logger.warning("setting the memory limit of worker %d to %d MiB failed: %s",
                       pid, limits.data_bytes // MIB, error)
        return False
    return True


def limit_worker(pid: int, function: Function) -> None:
    """Apply the function's limits to its worker process; warn and go on when that fails."""
    try:
        apply_limits(pid, worker_limits(function))
    except ConfigError as error:
        logger.warning("%s; its workers run without a memory limit", error)


def _lower(pid: int, which: int, value: int) -> None:
    _soft, hard = resource.prlimit(pid, which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.prlimit(pid, which, (value, value))
