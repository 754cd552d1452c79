"""SAM mode of `devd up`: keep SAM's files current, and run `sam local start-api` when asked.

With `--backend sam` or `auto`, every successful build rewrites `.devd/template.yaml` and the
metadata file for SAM's Terraform hook, so teams that run SAM themselves always point at
devd's latest builds. When a Docker or Finch engine responds, `sam local start-api` serves the
user's port under supervision and restarts when the template changes. Otherwise devd logs the
reason once and serves natively.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Mapping

from devd.build.service import BuildResult
from devd.config import Settings
from devd.inventory import Inventory
from devd.logs.records import Level, LogRecord
from devd.sam.artifacts import artifacts_from_results
from devd.sam.metadata import METADATA_FILE_NAME, metadata_document, write_metadata
from devd.sam.template import TEMPLATE_FILE_NAME, sam_template, write_template
from devd.supervise.sam_local import MountedRoute, SamLocal, container_engine_available
from devd.supervise.status import ProcessStatus

log = logging.getLogger("devd.engine")


class SamMode:
    """The SAM side of a daemon, which does nothing with the native backend."""

    def __init__(self, settings: Settings, publish: Callable[[LogRecord], None],
                 on_status: Callable[[ProcessStatus], None]) -> None:
        self.settings = settings
        self.publish = publish
        self.on_status = on_status
        self.enabled = settings.backend in ("sam", "auto")
        self.template = settings.state_dir / TEMPLATE_FILE_NAME
        self.metadata = settings.infra_dir / METADATA_FILE_NAME
        self.process: SamLocal | None = None

    async def serves(self) -> bool:
        """Return True when `sam local` will serve the user's port; log the reason when it will not."""
        if not self.enabled:
            return False
        available, reason = await asyncio.to_thread(container_engine_available, self.settings.environ)
        if not available:
            self.publish(LogRecord("devd", f"{reason}; the sam backend is off", Level.WARNING))
            return False
        self.process = SamLocal(self.template, on_log=self.publish, on_status=self.on_status,
                                on_routes=self._on_routes, project_root=self.settings.project_root,
                                host=self.settings.host, port=self.settings.port)
        self.publish(LogRecord("devd", f"{reason}: sam local start-api serves the functions"))
        return True

    def _on_routes(self, routes: tuple[MountedRoute, ...]) -> None:
        listed = ", ".join(f"{route.method} {route.path} ({route.function})" for route in routes)
        self.publish(LogRecord("devd", f"sam local serves {listed}"))

    async def update(self, inventory: Inventory, results: Mapping[str, BuildResult]) -> None:
        """Rewrite the SAM files from the latest builds; start or restart `sam local` on change."""
        if not self.enabled:
            return
        artifacts = artifacts_from_results(results.values())
        if not artifacts:
            return
        project = self.settings.project_root
        template_changed = write_template(self.template, sam_template(inventory, artifacts, self.template.parent, project))
        builds = {address: artifact.path for address, artifact in artifacts.items()}
        write_metadata(self.metadata, metadata_document(inventory, builds, self.settings.infra_dir, project))
        if self.process is not None:
            await self._run_sam(template_changed)

    async def _run_sam(self, template_changed: bool) -> None:
        assert self.process is not None
        if self.process.status().pid is None:
            await self.process.start()
        elif template_changed:
            log.info("the SAM template changed: restarting sam local")
            await self.process.restart()

    async def stop(self) -> None:
        """Stop `sam local` and its containers' client process."""
        if self.process is not None:
            await self.process.stop()

