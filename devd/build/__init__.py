"""Builds of Lambda handlers into `<state_dir>/build`, with the source files each build read."""

from devd.build.command import UserCommand
from devd.build.oneshot import build_all, format_build_line
from devd.build.service import BuildResult, BuildService
from devd.build.settings import BuildSettings, parse_build_settings

__all__ = [
    "BuildResult",
    "BuildService",
    "BuildSettings",
    "UserCommand",
    "build_all",
    "format_build_line",
    "parse_build_settings",
]
