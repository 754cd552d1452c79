"""Build outputs that the SAM files point at, from build results or from `.devd/build`.

`artifacts_from_results` serves a caller with fresh `BuildResult`s, such as the daemon.
`find_artifacts` reads the latest generation directory of each function from disk, for a
command that runs while or after `devd up` has built the functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from devd.build import layout
from devd.build.locate import locate_entry
from devd.build.service import BuildResult
from devd.errors import BuildError
from devd.inventory import Inventory

logger = logging.getLogger("devd.sam")


@dataclass(frozen=True)
class Artifact:
    """The build output of one function."""

    path: Path
    """A directory or a zip file with the contents of Lambda's task root."""
    handler: str
    """Handler string relative to `path`, such as "handler.main"."""


@dataclass(frozen=True)
class SkippedFunction:
    """A function that the SAM files leave out, and why."""

    address: str
    name: str
    reason: str


@dataclass(frozen=True)
class ArtifactScan:
    """The artifacts found for an inventory, by function address, and the functions without one."""

    artifacts: Mapping[str, Artifact] = field(default_factory=dict)
    skipped: tuple[SkippedFunction, ...] = ()


def artifacts_from_results(results: Iterable[BuildResult]) -> dict[str, Artifact]:
    """Return the artifacts of the successful build results, by function address."""
    artifacts: dict[str, Artifact] = {}
    for result in results:
        if result.ok and result.task_root is not None:
            artifacts[result.function] = Artifact(result.task_root, result.handler)
    return artifacts


def find_artifacts(inventory: Inventory, project_root: Path, state_dir: Path) -> ArtifactScan:
    """Find the latest build generation of each function under `<state_dir>/build`.

    The handler string is derived from the function's source file as a build derives it, so
    a function whose source file is missing is skipped even when an old build exists.
    """
    # NOTE: devd keeps only its last three generations, so a later build can delete the
    # directory found here. Rerun the command after a rebuild.
    build_root = state_dir / "build"
    artifacts: dict[str, Artifact] = {}
    skipped: list[SkippedFunction] = []

    for function in inventory.functions:
        function_dir = build_root / layout.function_dir_name(function)
        generations = layout.generations(function_dir)
        if not generations:
            reason = f"no build in {function_dir}: run `devd up` to build it"
            skipped.append(SkippedFunction(function.address, function.name, reason))
            continue

        try:
            entry = locate_entry(function, project_root)
        except BuildError as error:
            skipped.append(SkippedFunction(function.address, function.name, str(error)))
            continue

        path = layout.generation_dir(function_dir, generations[-1])
        artifacts[function.address] = Artifact(path, f"{entry.output_name}.{entry.handler_export}")
        logger.debug("found build %s of %s", path, function.address)

    return ArtifactScan(artifacts, tuple(skipped))
