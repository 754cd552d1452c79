"""The one error tree of devd: every message names the value that failed and the fix."""

from __future__ import annotations


class DevdError(Exception):
    """Base of every error devd raises on purpose."""


class ConfigError(DevdError):
    """Invalid command-line options or configuration values."""


class TerraformError(DevdError):
    """Terraform files that cannot be read or evaluated."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.detail = message
        self.file = file
        self.line = line
        where = ""
        if file and line:
            where = f"{file}:{line}: "
        elif file:
            where = f"{file}: "
        super().__init__(f"{where}{message}")


class BuildError(DevdError):
    """A handler that failed to build."""


class ToolchainMissing(BuildError):
    """A build tool (node, esbuild, python) that is not installed."""


class RuntimeStartError(DevdError):
    """A worker process that could not start or load its handler."""
