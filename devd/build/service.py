"""The build service: turns a function of the inventory into a directory that a worker loads.

Node handlers are bundled by a long-running esbuild service; Python handlers are copied. Each
build goes into a new generation directory, so a worker still running an older build keeps
its files. Builds of different functions may run at the same time; builds of one function
run one after the other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from devd.build import layout
from devd.build.esbuild_options import esbuild_options, output_format, project_inputs
from devd.build.locate import Entry, locate_entry
from devd.build.node import NodeBuilder, NodeBuildOutput, ServiceExited
from devd.build.python import build_python
from devd.errors import BuildError
from devd.inventory import Function

logger = logging.getLogger("devd.build")

# Written next to CommonJS bundles, whose `.js` extension would otherwise follow the `type`
# of the project's package.json above the state directory.
_COMMONJS_PACKAGE_JSON = json.dumps({"type": "commonjs"}) + "\n"


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
    known to matter, so that editing them triggers the next build)."""
    error: str | None = None
    """Readable failure message; syntax errors carry file:line:column."""
    duration_ms: float = 0.0


class BuildService:
    """Builds functions into `<state_dir>/build` and keeps the esbuild service running."""

    def __init__(
        self,
        project_root: Path,
        state_dir: Path,
        *,
        node: str = "node",
        esbuild_search_paths: Sequence[Path] = (),
    ) -> None:
        self._project_root = Path(project_root).resolve()
        self._state_dir = Path(state_dir).resolve()
        self._build_root = self._state_dir / "build"
        self._node = node
        extra = [Path(path).resolve() for path in esbuild_search_paths]
        self._search_paths = [self._project_root, *extra]
        self._node_builder: NodeBuilder | None = None
        self._node_builder_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._function_dirs: dict[str, Path] = {}
        self._closed = False

    async def build(self, function: Function, generation: int) -> BuildResult:
        """Build one generation of a function.

        Build failures (syntax errors, a missing source file, node or esbuild not installed)
        return `ok=False` with the message in `error`, and leave earlier generations in place.
        """
        lock = self._locks.setdefault(function.address, asyncio.Lock())
        async with lock:
            started = time.perf_counter()
            result = await self._build_locked(function, generation)
            result = replace(result, duration_ms=(time.perf_counter() - started) * 1000)

        if result.ok:
            logger.info(
                "built %s generation %d in %.0f ms",
                function.address,
                generation,
                result.duration_ms,
            )
        else:
            logger.warning(
                "build of %s generation %d failed: %s", function.address, generation, result.error
            )
        return result

    async def _build_locked(self, function: Function, generation: int) -> BuildResult:
        function_dir = self._build_root / layout.function_dir_name(function)
        self._function_dirs[function.address] = function_dir
        try:
            if self._closed:
                raise BuildError("the build service is closed")

            entry = locate_entry(function, self._project_root)
            if entry.language == "node":
                return await self._build_node(function, entry, function_dir, generation)
            return await self._build_python(function, entry, function_dir, generation)
        except (BuildError, OSError) as error:
            return BuildResult(
                function=function.address,
                generation=generation,
                ok=False,
                task_root=None,
                handler=function.handler,
                inputs=frozenset(),
                error=str(error),
            )

    async def _build_node(
        self, function: Function, entry: Entry, function_dir: Path, generation: int
    ) -> BuildResult:
        outdir = function_dir / layout.STAGING_DIR
        options = esbuild_options(entry, function.runtime, self._project_root, outdir)
        partial = layout.partial_dir(function_dir, generation)
        output = await self._run_esbuild(function.address, options, partial)

        inputs = project_inputs(output.inputs) | {entry.source_file}
        for warning in output.warnings:
            logger.warning("%s: %s", function.address, warning)

        if not output.ok:
            await asyncio.to_thread(shutil.rmtree, partial, True)
            return BuildResult(
                function=function.address,
                generation=generation,
                ok=False,
                task_root=None,
                handler=function.handler,
                inputs=inputs,
                error="\n".join(output.errors) or "esbuild failed without an error message",
            )

        if output_format(entry) == "cjs":
            (partial / "package.json").write_text(_COMMONJS_PACKAGE_JSON)
        task_root = await self._publish(function_dir, partial, generation)
        return BuildResult(
            function=function.address,
            generation=generation,
            ok=True,
            task_root=task_root,
            handler=f"{entry.output_name}.{entry.handler_export}",
            inputs=inputs,
        )

    async def _run_esbuild(
        self, address: str, options: dict[str, object], partial: Path
    ) -> NodeBuildOutput:
        """Send one build to the esbuild service, once more on a new service if it exits."""
        builder = await self._running_node_builder()
        await asyncio.to_thread(shutil.rmtree, partial, True)
        try:
            return await builder.build(address, options, partial)
        except ServiceExited as error:
            logger.warning(
                "esbuild service exited during the build of %s (%s): restarting it to build again",
                address,
                error,
            )

        builder = await self._running_node_builder(replacing=builder)
        await asyncio.to_thread(shutil.rmtree, partial, True)
        return await builder.build(address, options, partial)

    async def _build_python(
        self, function: Function, entry: Entry, function_dir: Path, generation: int
    ) -> BuildResult:
        partial = layout.partial_dir(function_dir, generation)
        await asyncio.to_thread(shutil.rmtree, partial, True)
        try:
            output = await asyncio.to_thread(build_python, entry, partial, self._state_dir)
        except BuildError:
            await asyncio.to_thread(shutil.rmtree, partial, True)
            raise

        task_root = await self._publish(function_dir, partial, generation)
        return BuildResult(
            function=function.address,
            generation=generation,
            ok=True,
            task_root=task_root,
            handler=f"{entry.output_name}.{entry.handler_export}",
            inputs=output.inputs,
        )

    async def _publish(self, function_dir: Path, partial: Path, generation: int) -> Path:
        final = layout.generation_dir(function_dir, generation)
        await asyncio.to_thread(layout.publish, partial, final)

        deleted = await asyncio.to_thread(layout.prune_generations, function_dir, generation)
        for path in deleted:
            logger.debug("deleted old build directory %s", path)
        return final

    async def _running_node_builder(self, replacing: NodeBuilder | None = None) -> NodeBuilder:
        """Return the esbuild service, starting it on first use and again after it exits.

        `replacing` is a service that failed a request: it is restarted unless another build
        has restarted it already. Raises ToolchainMissing while node or esbuild is missing.
        The next build tries again, so installing esbuild needs no restart of devd.
        """
        async with self._node_builder_lock:
            if self._closed:
                raise BuildError("the build service is closed")
            current = self._node_builder
            if current is not None and current is not replacing and current.running:
                return current

            if current is not None:
                await current.close()
                self._node_builder = None
            builder = NodeBuilder(self._search_paths, node=self._node)
            await builder.start()
            self._node_builder = builder
            return builder

    async def forget(self, address: str) -> None:
        """Drop a function that left the inventory: free its esbuild context, delete its builds."""
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            builder = self._node_builder
            if builder is not None and builder.running:
                try:
                    await builder.dispose(address)
                except BuildError as error:
                    logger.warning("freeing the esbuild context of %s failed: %s", address, error)

            function_dir = self._function_dirs.pop(address, None)
            if function_dir is None:
                function_dir = layout.find_function_dir(self._build_root, address)
            if function_dir is not None:
                await asyncio.to_thread(shutil.rmtree, function_dir, True)
        self._locks.pop(address, None)

    async def close(self) -> None:
        """Stop the esbuild service; later builds fail with "the build service is closed"."""
        async with self._node_builder_lock:
            self._closed = True
            builder = self._node_builder
            self._node_builder = None
        if builder is not None:
            await builder.close()
