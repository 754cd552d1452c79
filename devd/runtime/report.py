"""The platform lines that Lambda writes around each invocation: START, END and REPORT.

Lambda separates the fields of a REPORT line with tabs, gives durations in milliseconds with
two decimals, bills whole milliseconds rounded up, and adds `Init Duration` to the first
invocation of a new execution environment only. The values here are formatted the same way,
so that log queries written for CloudWatch (`REPORT RequestId: … Duration: … ms`) also match
devd's output.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

FUNCTION_VERSION = "$LATEST"

_STATUS_READ_BYTES = 16384
"""Bytes of /proc/PID/status read at most: the whole file, which is about 1.5 KB on Linux 6."""


@dataclass(frozen=True)
class Report:
    """The measured values of one invocation.

    `init_duration_ms` is set on the first invocation of a worker only. `status` is "timeout"
    or "error" when the runtime did not respond, and `error_type` then names what happened.
    """

    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int | None
    init_duration_ms: float | None = None
    status: str | None = None
    error_type: str | None = None


def start_line(request_id: str) -> str:
    """Return the line Lambda writes when it hands an event to the runtime."""
    return f"START RequestId: {request_id} Version: {FUNCTION_VERSION}"


def end_line(request_id: str) -> str:
    """Return the line Lambda writes when an invocation ends."""
    return f"END RequestId: {request_id}"


def billed_duration_ms(duration_ms: float) -> int:
    """Return the billed milliseconds: the duration rounded up to a whole millisecond, at least 1.

    NOTE: devd bills the invocation alone and does not model any billing of the init phase.
    """
    return max(1, math.ceil(round(duration_ms, 6)))


def report_line(report: Report) -> str:
    """Return the REPORT line of one invocation, with tab-separated fields."""
    fields = [
        f"REPORT RequestId: {report.request_id}",
        f"Duration: {report.duration_ms:.2f} ms",
        f"Billed Duration: {billed_duration_ms(report.duration_ms)} ms",
        f"Memory Size: {report.memory_size_mb} MB",
    ]
    if report.max_memory_used_mb is not None:
        fields.append(f"Max Memory Used: {report.max_memory_used_mb} MB")
    if report.init_duration_ms is not None:
        fields.append(f"Init Duration: {report.init_duration_ms:.2f} ms")
    if report.status is not None:
        fields.append(f"Status: {report.status}")
    if report.error_type is not None:
        fields.append(f"Error Type: {report.error_type}")
    return "\t".join(fields)


def parse_peak_rss_mb(status_text: str) -> int | None:
    """Return the peak resident set size (`VmHWM`) of a /proc/PID/status text in whole MB,
    rounded up, or None when the text has no such field."""
    start = status_text.find("\nVmHWM:")
    if start < 0:
        return None
    end = status_text.find("\n", start + 1)
    kilobytes = int(status_text[start + 7:end if end >= 0 else None].split()[0])
    return math.ceil(kilobytes / 1024)


class PeakMemoryReader:
    """Reads the peak resident memory of one process from /proc/PID/status in MB.

    The file stays open between reads, because a `pread` of an open /proc file costs less than
    opening it again, and this runs on every invocation.
    NOTE: this counts the runtime process alone, not the children it started.
    """

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._descriptor: int | None = None

    def read(self) -> int | None:
        """Return the peak in MB, or None when it cannot be read (the process has exited, or
        the system has no /proc)."""
        try:
            if self._descriptor is None:
                self._descriptor = os.open(f"/proc/{self._pid}/status", os.O_RDONLY)
            text = os.pread(self._descriptor, _STATUS_READ_BYTES, 0).decode("ascii", "replace")
        except OSError:
            self.close()
            return None
        return parse_peak_rss_mb(text)

    def close(self) -> None:
        """Close the file. A later `read` opens it again."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
