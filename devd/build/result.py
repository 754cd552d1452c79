"""The result of one build, shared by the build service and its callers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devd.inventory import Function


@dataclass(frozen=True)
class BuildResult:
    """The outcome of one build of one function."""

    function: str
    """Terraform address of the function."""
    generation: int
    ok: bool
    task_root: Path | None
    """The generation directory a worker loads from (LAMBDA_TASK_ROOT), or None after a failure."""
    handler: str
    """Handler string relative to `task_root`, such as "src/functions/getHello/handler.main"."""
    inputs: frozenset[Path]
    """Absolute paths of the project source files the build read (for a failed build, those
    known to matter, so that editing them triggers the next build). They include a Python
    function's requirements.txt and the package.json that lists a Node function's external
    packages. For a user build command, they are the files its `inputs` globs match."""
    error: str | None = None
    """Readable failure message; syntax errors carry file:line:column."""
    duration_ms: float = 0.0
    zip_path: Path | None = None
    """The reproducible zip of `task_root` (see `devd.build.artifact`), or None after a failure."""
    zip_sha256: str | None = None
    """Base64 of the zip's SHA-256 digest, comparable with Terraform's `filebase64sha256` and
    Lambda's `CodeSha256`."""


def failed_result(
    function: Function, generation: int, inputs: frozenset[Path], error: str
) -> BuildResult:
    """Return the result of a failed build."""
    return BuildResult(
        function=function.address,
        generation=generation,
        ok=False,
        task_root=None,
        handler=function.handler,
        inputs=inputs,
        error=error,
    )
