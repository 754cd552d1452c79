"""File-system storms and editor save patterns against the real `devd up --no-tui`.

Each test checks what a user would check: every affected function rebuilds once (one new
`ready #N` line), and the code served afterwards is the code on disk.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from watchdog.observers import Observer

from devd.watch.observer import Watcher
from tests.integration.conftest import RunningDevd, start_devd, stop_devd

STORM_FILES = 1000
SETTLE_SECONDS = 3.0
"""How long a test waits after the last expected rebuild for an unexpected extra one."""


def _ready_counts(running: RunningDevd, start: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in running.lines[start:]:
        match = re.search(r"devd-example-dev-([\w-]+): ready #\d+", line)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def _wait_ready(running: RunningDevd) -> None:
    for name in ("get-hello", "get-item", "create-item", "status"):
        running.wait_for_line(rf"{name}: ready #1")


def _write_catalog(example: Path, version: str) -> None:
    catalog = example / "functions/items/catalog"
    catalog.mkdir(exist_ok=True)
    for index in range(STORM_FILES - 2):
        path = catalog / f"item_{index:04d}.json"
        path.unlink(missing_ok=True)
        path.write_text(json.dumps({"index": index, "version": version}))


def _latest_build(example: Path, function: str) -> Path:
    (directory,) = (example / ".devd/build").glob(f"devd-example-dev-{function}-*")
    generations = [path for path in directory.iterdir() if path.is_dir()]
    return max(generations, key=lambda path: int(path.name))


def test_checkout_storm_rebuilds_once(example: Path) -> None:
    _write_catalog(example, "old")
    running = start_devd(example)
    try:
        _wait_ready(running)
        mark = running.mark()

        # A checkout writes without pausing. After a thousand tests, a garbage collection in
        # this process can pause the writes for longer than the watcher's quiet window.
        gc.disable()
        try:
            _write_catalog(example, "new")
            hello = example / "functions/hello/handler.ts"
            text = hello.read_text().replace('"world"', '"storm"')
            hello.unlink()
            hello.write_text(text)
            model = example / "functions/items/model.py"
            model.write_text(model.read_text().replace('name="apple"', 'name="quince"'))
        finally:
            gc.enable()

        running.wait_for_body("/hello", "Hello, storm!")
        running.wait_for_body("/items/1", "quince")
        time.sleep(SETTLE_SECONDS)
        counts = _ready_counts(running, mark)
        build = _latest_build(example, "get-item") / "catalog"

        assert counts.get("get-hello") == 1, counts
        assert counts.get("get-item") == 1, counts
        assert counts.get("create-item") == 1, counts
        assert "status" not in counts, counts
        assert len(list(build.iterdir())) == STORM_FILES - 2
        assert json.loads((build / "item_0997.json").read_text())["version"] == "new"
    finally:
        stop_devd(running)


def test_directory_deleted_and_recreated(devd: RunningDevd, example: Path) -> None:
    _wait_ready(devd)
    items = example / "functions/items"
    saved = example / "items-saved"
    shutil.copytree(items, saved)

    shutil.rmtree(items)
    time.sleep(0.5)
    shutil.copytree(saved, items)
    model = items / "model.py"
    model.write_text(model.read_text().replace('name="apple"', 'name="damson"'))
    devd.wait_for_body("/items/1", "damson")

    model.write_text(model.read_text().replace('name="damson"', 'name="medlar"'))
    devd.wait_for_body("/items/1", "medlar")


def test_temp_and_rename_save(devd: RunningDevd, example: Path) -> None:
    _wait_ready(devd)
    hello = example / "functions/hello/handler.ts"
    mark = devd.mark()

    temporary = hello.with_name(".handler.ts.4f2a.tmp")
    temporary.write_text(hello.read_text().replace('"world"', '"rename"'))
    os.replace(temporary, hello)

    devd.wait_for_body("/hello", "Hello, rename!")
    time.sleep(SETTLE_SECONDS)
    assert _ready_counts(devd, mark) == {"get-hello": 1}


def test_vim_backup_then_write(devd: RunningDevd, example: Path) -> None:
    _wait_ready(devd)
    model = example / "functions/items/model.py"
    original = model.read_text()
    mark = devd.mark()

    probe = model.with_name("4913")
    probe.write_text("")
    probe.unlink()
    backup = model.with_name("model.py~")
    os.rename(model, backup)
    model.write_text(original.replace('name="apple"', 'name="sorb"'))
    backup.unlink()

    devd.wait_for_body("/items/1", "sorb")
    time.sleep(SETTLE_SECONDS)
    counts = _ready_counts(devd, mark)
    assert counts.get("get-item") == 1, counts
    assert counts.get("create-item") == 1, counts
    assert "get-hello" not in counts, counts


def test_half_written_tf_then_fixed(devd: RunningDevd, example: Path) -> None:
    _wait_ready(devd)
    rest_api = example / "infra/rest_api.tf"
    original = rest_api.read_text()
    ping = example / "functions/ping"
    ping.mkdir()
    (ping / "ping.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'pong'}\n")
    devd_toml = example / "devd.toml"
    devd_toml.write_text(devd_toml.read_text() + '"dist/get-ping.zip" = "functions/ping"\n')
    mark = devd.mark()

    rest_api.write_text(original[: len(original) // 2])
    devd.wait_for_line(r"rest_api\.tf:\d+: invalid HCL syntax", mark)
    for _ in range(20):
        assert devd.get("/hello")[0] == 200
        assert devd.get("/items/1")[0] == 200
    assert devd.get("/ping")[0] == 404

    rest_api.write_text(original + _PING_ROUTE)
    assert devd.wait_for_body("/ping", "pong") == "pong"
    assert devd.get("/hello")[0] == 200
    assert devd.get("/items/1")[0] == 200


_PING_ROUTE = """
module "get_ping" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-get-ping"
  http_method            = "GET"
  path_part              = "ping"
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn
  handler                = "ping.handler"
  runtime                = "python3.11"
  package                = "${path.module}/../dist/get-ping.zip"
  role_arn               = aws_iam_role.lambda.arn
}
"""


class _FullInotify(Observer):
    """An inotify observer whose every watch fails as it does once `max_user_watches` is used up."""

    def schedule(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


async def _next_change(changes: asyncio.Queue[frozenset[Path]], timeout: float) -> frozenset[Path]:
    async with asyncio.timeout(timeout):
        return await changes.get()


async def test_inotify_limit_falls_back_to_polling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("devd.watch.observer.Observer", _FullInotify)
    changes: asyncio.Queue[frozenset[Path]] = asyncio.Queue()
    watcher = Watcher(_put_into(changes))
    source = tmp_path / "handler.py"
    source.write_text("one")

    with caplog.at_level(logging.WARNING, logger="devd.watch"):
        await watcher.start([(tmp_path, True)])
    try:
        await asyncio.sleep(1.1)
        source.write_text("two, longer")
        changed = await _next_change(changes, 5.0)
    finally:
        await watcher.close()

    assert watcher.polling
    assert source.resolve() in changed
    assert any("fs.inotify.max_user_watches" in record.getMessage() for record in caplog.records)
    assert any("inotify watch limit reached" in record.getMessage() for record in caplog.records)


async def test_deleted_root_is_watched_again(tmp_path: Path) -> None:
    changes: asyncio.Queue[frozenset[Path]] = asyncio.Queue()
    watcher = Watcher(_put_into(changes))
    root = tmp_path / "code"
    root.mkdir()
    (root / "a.py").write_text("a")

    await watcher.start([(root, True)])
    try:
        shutil.rmtree(root)
        await _next_change(changes, 5.0)
        root.mkdir()
        (root / "b.py").write_text("b")
        revived: set[Path] = set()
        while root.resolve() / "b.py" not in revived:
            revived |= await _next_change(changes, 5.0)
        (root / "c.py").write_text("c")
        later = await _next_change(changes, 5.0)
    finally:
        await watcher.close()

    assert root.resolve() / "b.py" in revived
    assert root.resolve() / "c.py" in later


def _put_into(changes: asyncio.Queue[frozenset[Path]]):
    async def on_change(paths: frozenset[Path]) -> None:
        changes.put_nowait(paths)
    return on_change
