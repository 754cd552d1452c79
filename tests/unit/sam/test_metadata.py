"""The SAM metadata `.tf.json` for the bundled and the public example, field by field."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from devd.build import layout
from devd.inventory import Function, Inventory
from devd.sam.metadata import (
    METADATA_FILE_NAME,
    metadata_document,
    render_metadata,
    write_metadata,
)
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions
from tests.unit.sam.conftest import (
    CREATE_ITEM,
    GET_ITEM,
    HELLO,
    PUBLIC,
    PUBLIC_HELLO,
    REPO,
    STATUS,
    fake_build,
)


def null_resources(document: dict) -> dict:
    return document["resource"]["null_resource"]


def test_example_has_one_resource_per_function(example: Inventory, example_builds: dict) -> None:
    document = metadata_document(example, example_builds, REPO / "infra", REPO)

    assert sorted(null_resources(document)) == [
        "sam_metadata_devd_example_dev_create_item",
        "sam_metadata_devd_example_dev_get_hello",
        "sam_metadata_devd_example_dev_get_item",
        "sam_metadata_devd_example_dev_status",
    ]
    assert sorted(document) == ["//", "resource"]
    assert sorted(document["resource"]) == ["null_resource"]


def test_example_triggers_field_by_field(example: Inventory, example_builds: dict) -> None:
    resources = null_resources(metadata_document(example, example_builds, REPO / "infra", REPO))
    expected = {
        "sam_metadata_devd_example_dev_get_hello": (HELLO, "../functions/hello"),
        "sam_metadata_devd_example_dev_create_item": (CREATE_ITEM, "../functions/items"),
        "sam_metadata_devd_example_dev_get_item": (GET_ITEM, "../functions/items"),
        "sam_metadata_devd_example_dev_status": (STATUS, "../functions/status"),
    }

    for name, (address, source) in expected.items():
        function = example.function(address)
        build_dir = layout.function_dir_name(function)
        triggers = resources[name]["triggers"]
        assert sorted(resources[name]) == ["triggers"], name
        assert triggers["resource_name"] == address, name
        assert triggers["resource_type"] == "ZIP_LAMBDA_FUNCTION", name
        assert triggers["original_source_code"] == source, name
        assert triggers["built_output_path"] == f"../.devd/build/{build_dir}/3", name
        assert "source_code_property" not in triggers, name


def test_example_paths_resolve_from_infra(example: Inventory, example_builds: dict) -> None:
    resources = null_resources(metadata_document(example, example_builds, REPO / "infra", REPO))

    for name, resource in resources.items():
        triggers = resource["triggers"]
        function = example.function(triggers["resource_name"])
        source = os.path.normpath(REPO / "infra" / triggers["original_source_code"])
        build = os.path.normpath(REPO / "infra" / triggers["built_output_path"])
        assert source == function.code_dir, name
        assert Path(build) == example_builds[function.address], name


def test_public_example_triggers(public_example: Inventory) -> None:
    build = fake_build(PUBLIC, public_example, PUBLIC_HELLO, generation=7)

    document = metadata_document(public_example, {PUBLIC_HELLO: build}, PUBLIC / "terraform", PUBLIC)

    resources = null_resources(document)
    assert sorted(resources) == ["sam_metadata_public_example_dev_gethello"]
    triggers = resources["sam_metadata_public_example_dev_gethello"]["triggers"]
    function = public_example.function(PUBLIC_HELLO)
    assert triggers["resource_name"] == PUBLIC_HELLO
    assert triggers["resource_type"] == "ZIP_LAMBDA_FUNCTION"
    assert triggers["original_source_code"] == "../.esbuild"
    assert triggers["built_output_path"] == f"../.devd/build/{layout.function_dir_name(function)}/7"
    assert "false" not in triggers["built_output_path"]


def test_zip_build_path_kept(public_example: Inventory) -> None:
    zip_path = PUBLIC / ".devd" / "dist" / "getHello.zip"

    document = metadata_document(public_example, {PUBLIC_HELLO: zip_path}, PUBLIC / "terraform", PUBLIC)

    triggers = null_resources(document)["sam_metadata_public_example_dev_gethello"]["triggers"]
    assert triggers["built_output_path"] == "../.devd/dist/getHello.zip"


def test_relative_paths_taken_from_project_root(public_example: Inventory) -> None:
    builds = {PUBLIC_HELLO: Path(".devd/build/hello/2")}

    document = metadata_document(public_example, builds, Path("terraform"), PUBLIC)

    triggers = null_resources(document)["sam_metadata_public_example_dev_gethello"]["triggers"]
    assert triggers["built_output_path"] == "../.devd/build/hello/2"
    assert triggers["original_source_code"] == "../.esbuild"


def test_functions_without_build_left_out(example: Inventory, example_builds: dict) -> None:
    builds = {address: path for address, path in example_builds.items() if address != STATUS}

    resources = null_resources(metadata_document(example, builds, REPO / "infra", REPO))

    assert "sam_metadata_devd_example_dev_status" not in resources
    assert len(resources) == 3


def test_function_without_code_dir_left_out(example: Inventory, example_builds: dict) -> None:
    functions = tuple(
        dataclasses.replace(function, code_dir=None) if function.address == STATUS else function
        for function in example.functions
    )
    inventory = dataclasses.replace(example, functions=functions)

    resources = null_resources(metadata_document(inventory, example_builds, REPO / "infra", REPO))

    assert "sam_metadata_devd_example_dev_status" not in resources
    assert len(resources) == 3


def test_no_builds_gives_comment_only(example: Inventory) -> None:
    document = metadata_document(example, {}, REPO / "infra", REPO)

    assert list(document) == ["//"]


def test_comment_names_null_provider(example: Inventory, example_builds: dict) -> None:
    comment = metadata_document(example, example_builds, REPO / "infra", REPO)["//"]

    assert "Generated by devd" in comment
    assert "Do not edit" in comment
    assert "hashicorp/null" in comment


def test_clashing_names_get_address_suffix(tmp_path: Path) -> None:
    first = Function("aws_lambda_function.a", "api.handler", "nodejs20.x", "index.handler",
                     str(tmp_path / "a"), "a")
    second = dataclasses.replace(first, address="aws_lambda_function.b", name="api-handler",
                                 code_dir=str(tmp_path / "b"))
    third = dataclasses.replace(first, address="aws_lambda_function.c", name="other",
                                code_dir=str(tmp_path / "c"))
    inventory = Inventory(functions=(first, second, third))
    builds = {f.address: tmp_path / "build" / f.address for f in inventory.functions}

    resources = null_resources(metadata_document(inventory, builds, tmp_path / "infra", tmp_path))

    assert sorted(resources) == [
        f"sam_metadata_api_handler_{layout.address_digest(first.address)}",
        f"sam_metadata_api_handler_{layout.address_digest(second.address)}",
        "sam_metadata_other",
    ]
    names = {resource["triggers"]["resource_name"] for resource in resources.values()}
    assert names == {first.address, second.address, third.address}


def test_template_sequences_escaped(tmp_path: Path) -> None:
    function = Function("aws_lambda_function.a", "a", "python3.12", "app.handler",
                        str(tmp_path / "src${x}"), "src${x}")
    builds = {function.address: tmp_path / "build%{y}"}

    document = metadata_document(Inventory(functions=(function,)), builds, tmp_path / "infra", tmp_path)

    triggers = null_resources(document)["sam_metadata_a"]["triggers"]
    assert triggers["original_source_code"] == "../src$${x}"
    assert triggers["built_output_path"] == "../build%%{y}"


def test_render_is_deterministic(example_builds: dict) -> None:
    options = TerraformOptions(REPO / "infra", (REPO / "infra/vars/dev.tfvars",))
    first = render_metadata(metadata_document(discover(options, REPO), example_builds, REPO / "infra", REPO))
    second = render_metadata(metadata_document(discover(options, REPO), example_builds, REPO / "infra", REPO))

    assert first.encode() == second.encode()
    assert first.endswith("}\n")
    assert json.loads(first)["resource"]["null_resource"]


def test_render_sorts_keys(example: Inventory, example_builds: dict) -> None:
    text = render_metadata(metadata_document(example, example_builds, REPO / "infra", REPO))

    triggers = json.loads(text)["resource"]["null_resource"]["sam_metadata_devd_example_dev_status"]["triggers"]
    assert list(triggers) == ["built_output_path", "original_source_code", "resource_name", "resource_type"]
    assert text.index('"//"') < text.index('"resource"')


def test_write_only_on_change(tmp_path: Path, example: Inventory, example_builds: dict) -> None:
    path = tmp_path / "infra" / METADATA_FILE_NAME
    document = metadata_document(example, example_builds, REPO / "infra", REPO)

    assert write_metadata(path, document) is True
    written = path.read_bytes()
    os.utime(path, (1_000_000, 1_000_000))
    assert write_metadata(path, document) is False
    assert path.stat().st_mtime == 1_000_000
    assert path.read_bytes() == written

    builds = dict(example_builds, **{STATUS: fake_build(REPO, example, STATUS, generation=4)})
    assert write_metadata(path, metadata_document(example, builds, REPO / "infra", REPO)) is True
    assert path.read_bytes() != written
    assert sorted(p.name for p in path.parent.iterdir()) == [METADATA_FILE_NAME]


def test_written_file_readable_by_devd(tmp_path: Path, example: Inventory, example_builds: dict) -> None:
    # devd reads every .tf.json in the Terraform root module, so the file it writes there
    # must leave the inventory as it was.
    project = tmp_path / "app"
    shutil.copytree(REPO / "infra", project / "infra", ignore=shutil.ignore_patterns(".terraform"))
    shutil.copytree(REPO / "functions", project / "functions")
    shutil.copy2(REPO / "devd.toml", project / "devd.toml")
    document = metadata_document(example, example_builds, REPO / "infra", REPO)
    write_metadata(project / "infra" / METADATA_FILE_NAME, document)

    options = TerraformOptions(project / "infra", (project / "infra/vars/dev.tfvars",))
    inventory = discover(options, project)

    assert inventory.problems == ()
    assert [f.address for f in inventory.functions] == [f.address for f in example.functions]
    assert len(inventory.routes) == len(example.routes)
