"""JSON documents of snapshots and records, as `devd status --json` and `devd logs` receive them."""

from __future__ import annotations

from typing import Any

from devd.engine.view import Snapshot, waiting_reason
from devd.logs.records import Level, LogRecord, RequestRecord


def status_document(snapshot: Snapshot) -> dict[str, Any]:
    """Return the state of a daemon as a JSON-ready dict: URL, Terraform root, functions,
    processes and problems."""
    return {
        "url": snapshot.url,
        "infra": snapshot.infra,
        "var_files": list(snapshot.var_files),
        "backend": snapshot.backend,
        "watching": snapshot.watching,
        "aws_profile": snapshot.aws_profile,
        "aws_region": snapshot.aws_region,
        "aws_endpoint": snapshot.aws_endpoint,
        "functions": [
            {
                "name": function.name,
                "address": function.address,
                "runtime": function.runtime,
                "routes": list(function.routes),
                "build_state": function.build_state.value,
                "generation": function.generation,
                "last_build_ms": function.last_build_ms,
                "last_built_at": function.last_built_at,
                "error": function.error,
                "waiting": waiting_reason(function, snapshot.reloading),
                "workers": {"count": function.workers, "busy": function.busy,
                            "idle": function.workers - function.busy},
                "requests": function.requests,
                "p50_ms": function.p50_ms,
            }
            for function in snapshot.functions
        ],
        "processes": [
            {"name": status.name, "state": status.state.value, "pid": status.pid, "restarts": status.restarts,
             "detail": status.detail}
            for status in snapshot.processes
        ],
        "problems": list(snapshot.problems),
    }


def record_document(record: LogRecord | RequestRecord) -> dict[str, Any]:
    """Return a log or request record as a JSON-ready dict with a "kind" of "log" or "request"."""
    if isinstance(record, RequestRecord):
        return {"kind": "request", "method": record.method, "path": record.path, "status": record.status,
                "duration_ms": record.duration_ms, "function": record.function, "request_id": record.request_id,
                "time": record.time}
    return {"kind": "log", "source": record.source, "text": record.text, "level": record.level.value,
            "request_id": record.request_id, "time": record.time}


def record_from_document(document: dict[str, Any]) -> LogRecord | RequestRecord:
    """Rebuild a record from `record_document`'s dict."""
    if document.get("kind") == "request":
        return RequestRecord(document["method"], document["path"], document["status"], document["duration_ms"],
                             document.get("function"), document.get("request_id"), document["time"])
    return LogRecord(document["source"], document["text"], Level(document["level"]), document.get("request_id"),
                     document["time"])
