"""One build of a set of functions, for `devd build`: build in parallel, report, stop.

Each function's build gets the generation after the highest one in `.devd/build`, so a
one-shot build never replaces a generation directory that a worker of `devd up` may be using.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol, Sequence

from devd.build import layout
from devd.build.service import BuildResult, BuildService
from devd.build.settings import BuildSettings
from devd.inventory import Function


class ProjectSettings(Protocol):
    """The settings a one-shot build reads, as `devd.config.Settings` has them."""

    @property
    def project_root(self) -> Path: ...

    @property
    def state_dir(self) -> Path: ...

    @property
    def node(self) -> str: ...


def next_generation(state_dir: Path, function: Function) -> int:
    """Return the generation after the highest one built for `function`, or 1."""
    function_dir = state_dir / "build" / layout.function_dir_name(function)
    numbers = layout.generations(function_dir)
    return numbers[-1] + 1 if numbers else 1


async def build_all(
    settings: ProjectSettings,
    functions: Sequence[Function],
    *,
    concurrency: int | None = None,
    build_settings: BuildSettings = BuildSettings(),
    esbuild_search_paths: Sequence[Path] = (),
) -> list[BuildResult]:
    """Build each function once and return the results in the order of `functions`.

    At most `concurrency` builds run at a time (default: `build_settings.concurrency`, else
    the number of CPUs). The build service, its esbuild process and any build command stop
    before this returns, also when it is cancelled.
    """
    service = BuildService(
        settings.project_root,
        settings.state_dir,
        node=settings.node,
        esbuild_search_paths=esbuild_search_paths,
        node_externals=dict(build_settings.node_externals),
        user_commands=build_settings.user_commands,
        concurrency=concurrency or build_settings.concurrency,
    )
    try:
        builds = [
            service.build(function, next_generation(settings.state_dir, function))
            for function in functions
        ]
        return list(await asyncio.gather(*builds))
    finally:
        await service.close()


def format_build_line(result: BuildResult, function: Function, name_width: int = 0) -> str:
    """Return one line about a build for a terminal.

    "get-hello  ok  #1  35 ms  sha256 AbC...=" for a success, and the name, FAILED and the
    first line of the error for a failure. `name_width` pads the name to align columns.
    """
    name = function.name.ljust(name_width)
    if result.ok:
        digest = result.zip_sha256 or "-"
        return f"{name}  ok  #{result.generation}  {result.duration_ms:.0f} ms  sha256 {digest}"

    lines = (result.error or "").strip().splitlines()
    first = lines[0] if lines else "failed without an error message"
    return f"{name}  FAILED  {first}"
