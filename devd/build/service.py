"""The build service: turns a function of the inventory into a directory that a worker loads.

Node handlers are bundled by a long-running esbuild service, with the packages marked external
copied beside the bundle; Python handlers are copied, with their installed requirements; a
function that a user build command matches gets that command's output. Each build goes into
a new generation directory, so a worker still running an older build keeps its files, and
also into a reproducible zip beside it. Builds of different functions may run at the same
time, up to a limit; builds of one function run one after the other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from devd.build import layout
from devd.build.artifact import ZipArtifact, publish_copy, write_zip
from devd.build.custom import build_custom
from devd.build.command import (
    CommandRunner,
    UserCommand,
    command_error,
    copy_command_output,
    find_command,
    input_files,
)
from devd.build.esbuild_options import esbuild_options, output_format, project_inputs
from devd.build.files import merge_tree
from devd.build.locate import Entry, locate_entry, split_handler
from devd.build.node import NodeBuilder, NodeBuildOutput, ServiceExited
from devd.build.node_packages import (
    NodeExternals,
    copy_node_packages,
    externals_for,
    externals_table,
    nearest_package_json,
    plan_node_packages,
)
from devd.build.process import ProcessOutcome
from devd.build.pyimports import project_imports
from devd.build.python import build_python, source_root
from devd.build.requirements import REQUIREMENTS_FILE, RequirementsInstaller
from devd.build.result import BuildResult, failed_result
from devd.errors import BuildError
from devd.inventory import Function
from devd.runtime.launch import is_custom_runtime

logger = logging.getLogger("devd.build")

# Written next to CommonJS bundles, whose `.js` extension would otherwise follow the `type`
# of the project's package.json above the state directory.
_COMMONJS_PACKAGE_JSON = json.dumps({"type": "commonjs"}) + "\n"


class BuildService:
    """Builds functions into `<state_dir>/build` and keeps the esbuild service running."""

    def __init__(
        self,
        project_root: Path,
        state_dir: Path,
        *,
        node: str = "node",
        esbuild_search_paths: Sequence[Path] = (),
        node_externals: NodeExternals = (),
        user_commands: Sequence[UserCommand] = (),
        concurrency: int | None = None,
    ) -> None:
        """Prepare the service; nothing starts until the first build.

        `node_externals` names the packages that Node bundles leave external, for every
        function (a list) or by function name pattern (a mapping, see
        `devd.build.node_packages`). `user_commands` build the functions they match instead
        of esbuild or a copy; their relative paths are relative to `project_root`.
        `concurrency` bounds the builds at a time (default: the number of CPUs).
        """
        self._project_root = Path(project_root).resolve()
        self._state_dir = Path(state_dir).resolve()
        self._build_root = self._state_dir / "build"
        self._node = node
        extra = [Path(path).resolve() for path in esbuild_search_paths]
        self._search_paths = [self._project_root, *extra]
        self._externals = externals_table(node_externals)
        self._user_commands = [command.resolved(self._project_root) for command in user_commands]
        self._slots = asyncio.Semaphore(concurrency or os.cpu_count() or 1)
        self._commands = CommandRunner(self._slots)
        self._requirements = RequirementsInstaller(self._state_dir / "pip-cache")
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

            command = find_command(function, self._user_commands)
            if command is not None:
                result = await self._build_with_command(function, command, function_dir, generation)
            else:
                async with self._slots:
                    result = await self._build_source(function, function_dir, generation)
        except (BuildError, OSError) as error:
            result = failed_result(function, generation, frozenset(), str(error))

        if not result.ok:
            partial = layout.partial_dir(function_dir, generation)
            await asyncio.to_thread(shutil.rmtree, partial, True)
        return result

    async def _build_source(
        self, function: Function, function_dir: Path, generation: int
    ) -> BuildResult:
        if is_custom_runtime(function.runtime):
            return await self._build_custom(function, function_dir, generation)
        entry = locate_entry(function, self._project_root)
        if entry.language == "node":
            return await self._build_node(function, entry, function_dir, generation)
        return await self._build_python(function, entry, function_dir, generation)

    async def _build_node(
        self, function: Function, entry: Entry, function_dir: Path, generation: int
    ) -> BuildResult:
        outdir = function_dir / layout.STAGING_DIR
        externals = externals_for(function, self._externals)
        options = esbuild_options(entry, function.runtime, self._project_root, outdir, externals)
        partial = layout.partial_dir(function_dir, generation)
        output = await self._run_esbuild(function.address, options, partial)

        inputs = project_inputs(output.inputs) | {entry.source_file}
        for warning in output.warnings:
            logger.warning("%s: %s", function.address, warning)
        if not output.ok:
            error = "\n".join(output.errors) or "esbuild failed without an error message"
            return failed_result(function, generation, inputs, error)

        if externals:
            manifest = nearest_package_json(entry.source_file.parent, self._project_root)
            inputs |= {manifest} if manifest is not None else set()
            try:
                packages = await asyncio.to_thread(
                    plan_node_packages, externals, entry.source_file.parent, manifest
                )
                await asyncio.to_thread(copy_node_packages, packages, partial)
            except (BuildError, OSError) as error:
                return failed_result(function, generation, inputs, str(error))

        if output_format(entry) == "cjs":
            (partial / "package.json").write_text(_COMMONJS_PACKAGE_JSON)
        handler = f"{entry.output_name}.{entry.handler_export}"
        return await self._finish(function, function_dir, partial, generation, handler, inputs)

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

    async def _build_custom(self, function: Function, function_dir: Path, generation: int) -> BuildResult:
        partial = layout.partial_dir(function_dir, generation)
        await asyncio.to_thread(shutil.rmtree, partial, True)
        inputs = await asyncio.to_thread(build_custom, function, partial, self._state_dir)
        return await self._finish(function, function_dir, partial, generation, function.handler or "", inputs)

    async def _build_python(
        self, function: Function, entry: Entry, function_dir: Path, generation: int
    ) -> BuildResult:
        requirements = source_root(entry) / REQUIREMENTS_FILE
        packages: Path | None = None
        if requirements.is_file():
            architecture = function.architectures[0] if function.architectures else "x86_64"
            try:
                packages = await self._requirements.install(
                    requirements, function.runtime, architecture
                )
            except BuildError as error:
                imports = await asyncio.to_thread(
                    project_imports, source_root(entry), entry.source_file
                )
                return failed_result(function, generation, imports | {requirements}, str(error))

        partial = layout.partial_dir(function_dir, generation)
        await asyncio.to_thread(shutil.rmtree, partial, True)
        output = await asyncio.to_thread(build_python, entry, partial, self._state_dir)
        inputs = output.inputs
        if packages is not None:
            inputs |= {requirements}
            # NOTE: the installed files are hard links into the pip cache, so a handler that
            # writes into its own task root (read-only in Lambda) changes the cache too.
            kept = await asyncio.to_thread(merge_tree, packages, partial, hard_links=True)
            if kept:
                logger.warning(
                    "%s: %d installed file(s) have the path of a source file, so the source "
                    "file is kept: %s",
                    function.address,
                    len(kept),
                    ", ".join(str(path.relative_to(partial)) for path in kept[:5]),
                )

        handler = f"{entry.output_name}.{entry.handler_export}"
        return await self._finish(function, function_dir, partial, generation, handler, inputs)

    async def _build_with_command(
        self, function: Function, command: UserCommand, function_dir: Path, generation: int
    ) -> BuildResult:
        partial = layout.partial_dir(function_dir, generation)

        async def copy_output(outcome: ProcessOutcome) -> None:
            if not outcome.ok:
                raise BuildError(command_error(command, outcome))
            await asyncio.to_thread(shutil.rmtree, partial, True)
            await asyncio.to_thread(
                copy_command_output, command, function, partial, self._state_dir
            )

        failure: str | None = None
        try:
            await self._commands.run(command, copy_output)
        except (BuildError, OSError) as error:
            failure = str(error)

        excluded = (self._state_dir, command.output_dir)
        inputs = await asyncio.to_thread(input_files, self._project_root, command.inputs, excluded)
        if failure is not None:
            return failed_result(function, generation, inputs, failure)

        module, export = split_handler(function.handler)
        async with self._slots:
            return await self._finish(
                function, function_dir, partial, generation, f"{module}.{export}", inputs
            )

    async def _finish(
        self,
        function: Function,
        function_dir: Path,
        partial: Path,
        generation: int,
        handler: str,
        inputs: frozenset[Path],
    ) -> BuildResult:
        """Zip a complete partial directory, publish it as the generation, and return the result."""
        # NOTE: each build zips its whole task root again, so installed requirements and
        # external packages lengthen every rebuild (0.5 to 0.7 s for 11 MB of files, measured
        # with `write_zip` on a 2-core machine).
        artifact = await self._write_zip(function_dir, partial, generation)
        if function.package is not None:
            await self._copy_package(artifact, Path(function.package))
        task_root = await self._publish(function_dir, partial, generation)
        return BuildResult(
            function=function.address,
            generation=generation,
            ok=True,
            task_root=task_root,
            handler=handler,
            inputs=inputs,
            zip_path=artifact.path,
            zip_sha256=artifact.sha256,
        )

    async def _write_zip(self, function_dir: Path, partial: Path, generation: int) -> ZipArtifact:
        destination = layout.zip_path(function_dir, generation)
        try:
            return await asyncio.to_thread(write_zip, partial, destination)
        except OSError as error:
            raise BuildError(f"writing {destination} failed: {error}") from error

    async def _copy_package(self, artifact: ZipArtifact, package: Path) -> None:
        """Write the zip to the path Terraform deploys, from the `[packages]` table of devd.toml."""
        try:
            await asyncio.to_thread(publish_copy, artifact.path, package)
        except OSError as error:
            raise BuildError(f"writing the package {package} failed: {error}; check that its "
                             "directory is writable") from error

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
        """Stop the esbuild service and running build commands; later builds fail with "the
        build service is closed"."""
        async with self._node_builder_lock:
            self._closed = True
            builder = self._node_builder
            self._node_builder = None
        await self._commands.close()
        if builder is not None:
            await builder.close()
