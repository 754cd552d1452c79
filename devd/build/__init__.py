"""Builds of Lambda handlers into `<state_dir>/build`, with the source files each build read."""

from devd.build.service import BuildResult, BuildService

__all__ = ["BuildResult", "BuildService"]
