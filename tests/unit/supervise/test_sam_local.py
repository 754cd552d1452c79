"""The pure parts of the sam local wiring: its command line and its "Mounting" lines."""

from __future__ import annotations

from pathlib import Path

from devd.supervise.sam_local import (
    MountedRoute,
    docker_host,
    parse_mounts,
    sam_command,
)


def test_sam_command_arguments() -> None:
    argv = sam_command(Path("/app/template.yaml"), "127.0.0.1", 3001, ["--warm-containers", "EAGER"])

    assert argv == [
        "sam",
        "local",
        "start-api",
        "-t",
        "/app/template.yaml",
        "--host",
        "127.0.0.1",
        "--port",
        "3001",
        "--warm-containers",
        "EAGER",
    ]


def test_sam_command_keeps_spaces_in_one_argument() -> None:
    argv = sam_command(
        Path("/my app/template.yaml"), extra_args=["--parameter-overrides", "Stage=dev Name=a b"]
    )

    assert "/my app/template.yaml" in argv
    assert argv[-1] == "Stage=dev Name=a b"


def test_mount_line_with_one_method() -> None:
    routes = parse_mounts("Mounting HelloWorldFunction at http://127.0.0.1:3000/hello [GET]")

    assert routes == (MountedRoute("HelloWorldFunction", "GET", "/hello"),)


def test_mount_line_with_several_methods() -> None:
    routes = parse_mounts("Mounting Items at http://127.0.0.1:3000/items/{id} [GET, POST, DELETE]")

    assert routes == (
        MountedRoute("Items", "GET", "/items/{id}"),
        MountedRoute("Items", "POST", "/items/{id}"),
        MountedRoute("Items", "DELETE", "/items/{id}"),
    )


def test_mount_line_with_prefix_and_colour() -> None:
    line = "2024-05-01 10:00:00 \x1b[32mMounting Proxy at http://0.0.0.0:8080/{proxy+} [ANY]\x1b[0m"

    assert parse_mounts(line) == (MountedRoute("Proxy", "ANY", "/{proxy+}"),)


def test_mount_at_root_path() -> None:
    assert parse_mounts("Mounting Root at http://127.0.0.1:3000 [GET]") == (MountedRoute("Root", "GET", "/"),)


def test_other_lines_have_no_routes() -> None:
    assert parse_mounts("Mounting static files from /app/public at /") == ()
    assert parse_mounts(" * Running on http://127.0.0.1:3000/ (Press CTRL+C to quit)") == ()
    assert parse_mounts("") == ()


def test_docker_host_default_and_override() -> None:
    assert docker_host({}) == "unix:///var/run/docker.sock"
    assert (
        docker_host({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"})
        == "unix:///run/user/1000/docker.sock"
    )
