"""`devd sam metadata` and `devd sam template` on a copy of the bundled example."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from devd.build import layout
from devd.config import resolve_settings
from devd.sam.commands import sam_metadata_command, sam_template_command
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions
from tests.unit.sam.conftest import HELLO, PUBLIC, PUBLIC_HELLO, REPO, STATUS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(REPO / "infra", root / "infra", ignore=shutil.ignore_patterns(".terraform"))
    shutil.copytree(REPO / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "devd.toml", root / "devd.toml")
    return root


def build_dirs(project: Path, *addresses: str, generation: int = 1) -> dict[str, Path]:
    inventory = discover(TerraformOptions(project / "infra", (project / "infra/vars/dev.tfvars",)), project)
    directories = {}
    for address in addresses:
        directory = project / ".devd" / "build" / layout.function_dir_name(inventory.function(address))
        (directory / str(generation)).mkdir(parents=True)
        directories[address] = directory / str(generation)
    return directories


def run(command, project: Path, output: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = command(resolve_settings(project), output, out, err)
    return status, out.getvalue(), err.getvalue()


def test_template_command_writes_default_path(project: Path) -> None:
    build_dirs(project, HELLO, STATUS)

    status, out, err = run(sam_template_command, project)

    path = project / ".devd" / "template.yaml"
    assert status == 0
    assert out == f"wrote {path} (2 functions)\n"
    assert err.count("skipped ") == 2
    resources = yaml.safe_load(path.read_text())["Resources"]
    assert sorted(resources) == [
        "ApiRestApi", "DevdExampleDevGetHelloFunction", "DevdExampleDevStatusFunction", "HttpHttpApi"]


def test_template_command_second_run_unchanged(project: Path) -> None:
    build_dirs(project, HELLO)
    run(sam_template_command, project)

    status, out, _ = run(sam_template_command, project)

    assert status == 0
    assert out == f"{project / '.devd' / 'template.yaml'} is up to date (1 function)\n"


def test_template_command_output_option(project: Path) -> None:
    built = build_dirs(project, HELLO)

    status, _, _ = run(sam_template_command, project, Path("sam/template.yaml"))

    template = yaml.safe_load((project / "sam" / "template.yaml").read_text())
    code_uri = template["Resources"]["DevdExampleDevGetHelloFunction"]["Properties"]["CodeUri"]
    assert status == 0
    assert (project / "sam" / code_uri).resolve() == built[HELLO].resolve()


def test_nothing_built_writes_nothing(project: Path) -> None:
    for command, path in ((sam_template_command, project / ".devd" / "template.yaml"),
                          (sam_metadata_command, project / "infra" / "devd_sam_metadata.tf.json")):
        status, out, err = run(command, project)

        assert status == 1, command.__name__
        assert out == "", command.__name__
        assert f"devd: {path} was not written" in err, command.__name__
        assert "Run `devd up`" in err, command.__name__
        assert not path.exists(), command.__name__


def test_metadata_command_writes_infra_file(project: Path) -> None:
    built = build_dirs(project, STATUS, generation=4)

    status, out, err = run(sam_metadata_command, project)

    path = project / "infra" / "devd_sam_metadata.tf.json"
    assert status == 0
    assert out == f"wrote {path} (1 function)\n"
    assert err.count("skipped ") == 3
    resources = json.loads(path.read_text())["resource"]["null_resource"]
    triggers = resources["sam_metadata_devd_example_dev_status"]["triggers"]
    assert (project / "infra" / triggers["built_output_path"]).resolve() == built[STATUS].resolve()
    assert (project / "infra" / triggers["original_source_code"]).resolve() == project / "functions" / "status"


def test_metadata_command_warns_missing_code_dir(tmp_path: Path) -> None:
    project = tmp_path / "public"
    shutil.copytree(PUBLIC, project)
    settings = resolve_settings(project, infra="terraform")
    inventory = discover(TerraformOptions(settings.infra_dir, ()), project)
    function_dir = project / ".devd" / "build" / layout.function_dir_name(inventory.function(PUBLIC_HELLO))
    (function_dir / "1").mkdir(parents=True)
    out, err = io.StringIO(), io.StringIO()

    status = sam_metadata_command(settings, None, out, err)

    assert status == 0
    assert f"code directory {project / '.esbuild'} does not exist" in err.getvalue()
    assert (project / "terraform" / "devd_sam_metadata.tf.json").is_file()
