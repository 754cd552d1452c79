"""Builds of Lambda handlers into `<state_dir>/build`, with the source files each build read.

The names below load on first use, so that commands such as `devd ls`, which read only the
build settings, do not import the build service.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "UserCommand": "devd.build.command",
    "build_all": "devd.build.oneshot",
    "format_build_line": "devd.build.oneshot",
    "BuildResult": "devd.build.service",
    "BuildService": "devd.build.service",
    "BuildSettings": "devd.build.settings",
    "parse_build_settings": "devd.build.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'devd.build' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
