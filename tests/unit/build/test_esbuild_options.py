"""Tests of the esbuild options derived from a handler's runtime and source file."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.build.esbuild_options import (
    ESM_REQUIRE_BANNER,
    esbuild_options,
    node_target,
    output_file,
    output_format,
    project_inputs,
)
from devd.build.locate import Entry
from devd.errors import BuildError


def make_entry(source: str, output_name: str = "src/functions/getHello/handler") -> Entry:
    return Entry(
        source_file=Path("/project") / source,
        language="node",
        output_name=output_name,
        handler_export="main",
    )


@pytest.mark.parametrize(
    ("runtime", "target"),
    [("nodejs18.x", "node18"), ("nodejs20.x", "node20"), ("nodejs22.x", "node22")],
)
def test_node_target_from_runtime(runtime: str, target: str) -> None:
    assert node_target(runtime) == target


@pytest.mark.parametrize("runtime", ["nodejs", "nodejs20", "python3.12", "nodejs20.x "])
def test_node_target_rejects_other_runtimes(runtime: str) -> None:
    with pytest.raises(BuildError, match='expected "nodejsNN.x"'):
        node_target(runtime)


@pytest.mark.parametrize(
    ("source", "fmt", "output"),
    [
        ("src/functions/getHello/handler.ts", "esm", "src/functions/getHello/handler.mjs"),
        ("src/functions/getHello/handler.js", "esm", "src/functions/getHello/handler.mjs"),
        ("src/functions/getHello/handler.mts", "esm", "src/functions/getHello/handler.mjs"),
        ("src/functions/getHello/handler.cts", "cjs", "src/functions/getHello/handler.js"),
        ("src/functions/getHello/handler.cjs", "cjs", "src/functions/getHello/handler.js"),
    ],
)
def test_output_format_and_file(source: str, fmt: str, output: str) -> None:
    entry = make_entry(source)

    assert output_format(entry) == fmt
    assert output_file(entry) == output


def test_esm_options() -> None:
    entry = make_entry("src/functions/getHello/handler.ts")

    outdir = Path("/state/build/f/staging")

    options = esbuild_options(entry, "nodejs22.x", Path("/project"), outdir)

    assert options["entryPoints"] == [
        {"in": "/project/src/functions/getHello/handler.ts", "out": "src/functions/getHello/handler"}
    ]
    assert options["outdir"] == "/state/build/f/staging"
    assert options["absWorkingDir"] == "/project"
    assert options["bundle"] is True
    assert options["platform"] == "node"
    assert options["target"] == "node22"
    assert options["format"] == "esm"
    assert options["outExtension"] == {".js": ".mjs"}
    assert options["banner"] == {"js": ESM_REQUIRE_BANNER}
    assert options["sourcemap"] is True
    assert options["sourcesContent"] is False
    assert options["metafile"] is True
    assert options["external"] == ["@aws-sdk/*"]
    assert options["logLevel"] == "silent"


def test_externals_added_after_aws_sdk() -> None:
    entry = make_entry("src/functions/getHello/handler.ts")

    externals = ["sharp", "@aws-sdk/*", "@prisma/client"]

    options = esbuild_options(entry, "nodejs20.x", Path("/project"), Path("/out"), externals)

    assert options["external"] == ["@aws-sdk/*", "sharp", "@prisma/client"]


def test_commonjs_options_have_no_banner() -> None:
    entry = make_entry("src/functions/getHello/handler.cts")

    options = esbuild_options(entry, "nodejs20.x", Path("/project"), Path("/out"))

    assert options["format"] == "cjs"
    assert "outExtension" not in options
    assert "banner" not in options


def test_project_inputs_skip_node_modules() -> None:
    inputs = project_inputs(
        [
            "/project/src/handler.ts",
            "/project/node_modules/uuid/dist/index.js",
            "/project/packages/lib/node_modules/zod/lib/index.mjs",
            "/shared/lib/util.ts",
            "relative/path.ts",
        ]
    )

    assert inputs == frozenset({Path("/project/src/handler.ts"), Path("/shared/lib/util.ts")})
