"""The esbuild options for a Node handler, derived from its runtime and source file.

Everything here is pure: the Node builder sends these options to the esbuild service as JSON.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from devd.build.locate import Entry
from devd.errors import BuildError

COMMONJS_SOURCE_EXTENSIONS = (".cjs", ".cts")

# Bundled CommonJS dependencies call `require`, which ES modules lack. esbuild renames any
# top-level `require` of the bundled code, so this declaration does not collide with one.
ESM_REQUIRE_BANNER = (
    'import { createRequire as __devdCreateRequire } from "node:module";\n'
    "const require = __devdCreateRequire(import.meta.url);"
)

# The Node.js Lambda runtimes include AWS SDK for JavaScript v3, so bundles leave it out.
EXTERNAL_PACKAGES = ("@aws-sdk/*",)

_NODE_RUNTIME = re.compile(r"nodejs(\d+)\.x")


def node_target(runtime: str) -> str:
    """Return the esbuild target of a Lambda runtime: "nodejs20.x" gives "node20"."""
    match = _NODE_RUNTIME.fullmatch(runtime)
    if match is None:
        raise BuildError(
            f'runtime "{runtime}" names no Node.js version: expected "nodejsNN.x", '
            'such as "nodejs20.x"'
        )
    return f"node{match.group(1)}"


def output_format(entry: Entry) -> str:
    """Return "cjs" for a `.cjs` or `.cts` source file and "esm" for every other one."""
    if entry.source_file.suffix in COMMONJS_SOURCE_EXTENSIONS:
        return "cjs"
    return "esm"


def output_file(entry: Entry) -> str:
    """Return the bundle's path relative to the task root, such as "src/handler.mjs".

    ES module bundles end in `.mjs`, so Node loads them as ES modules whatever the
    `type` field of a surrounding package.json says.
    """
    extension = ".js" if output_format(entry) == "cjs" else ".mjs"
    return f"{entry.output_name}{extension}"


def esbuild_options(
    entry: Entry,
    runtime: str,
    project_root: Path,
    outdir: Path,
    externals: Sequence[str] = (),
) -> dict[str, object]:
    """Return the esbuild build options that bundle one handler into `outdir`.

    `externals` names packages that stay out of the bundle besides `@aws-sdk/*`.
    """
    fmt = output_format(entry)
    external = list(EXTERNAL_PACKAGES)
    external += [name for name in externals if name not in external]
    options: dict[str, object] = {
        "entryPoints": [{"in": str(entry.source_file), "out": entry.output_name}],
        "outdir": str(outdir),
        "absWorkingDir": str(project_root),
        "bundle": True,
        "platform": "node",
        "target": node_target(runtime),
        "format": fmt,
        "sourcemap": True,
        "sourcesContent": False,
        "metafile": True,
        "external": external,
        "logLevel": "silent",
    }
    if fmt == "esm":
        options["outExtension"] = {".js": ".mjs"}
        options["banner"] = {"js": ESM_REQUIRE_BANNER}
    return options


def project_inputs(paths: Iterable[str]) -> frozenset[Path]:
    """Return the absolute input paths that are not inside a `node_modules` directory."""
    inputs: set[Path] = set()
    for text in paths:
        path = Path(text)
        if not path.is_absolute() or "node_modules" in path.parts:
            continue
        inputs.add(path)
    return frozenset(inputs)
