"""Tests of build directory names and of pruning old generations."""

from __future__ import annotations

from pathlib import Path

from devd.build.layout import (
    find_function_dir,
    function_dir_name,
    generations,
    partial_dir,
    prune_generations,
    publish,
    zip_path,
)
from devd.inventory import Function


def make_function(address: str, name: str) -> Function:
    return Function(
        address=address,
        name=name,
        runtime="nodejs20.x",
        handler="index.main",
        code_dir=None,
        source=None,
    )


def make_generations(function_dir: Path, numbers: list[int]) -> None:
    for number in numbers:
        (function_dir / str(number)).mkdir(parents=True)
        (function_dir / str(number) / "index.mjs").write_text("")


def test_function_dir_name_is_safe() -> None:
    address = 'module.api.aws_lambda_function.this["get"]'
    function = make_function(address, "${var.prefix}/get hello")

    name = function_dir_name(function)

    assert name.startswith("var.prefix_get_hello-")
    assert "/" not in name
    assert " " not in name


def test_function_dir_names_differ_by_address() -> None:
    first = make_function('aws_lambda_function.api["a"]', "api")
    second = make_function('aws_lambda_function.api["b"]', "api")

    assert function_dir_name(first) != function_dir_name(second)


def test_prune_keeps_three_highest(tmp_path: Path) -> None:
    make_generations(tmp_path, [1, 2, 3, 4, 5])

    deleted = prune_generations(tmp_path, current=5)

    assert generations(tmp_path) == [3, 4, 5]
    assert sorted(deleted) == [tmp_path / "1", tmp_path / "2"]


def test_prune_deletes_generations_of_earlier_run(tmp_path: Path) -> None:
    make_generations(tmp_path, [1, 7, 8, 9])

    prune_generations(tmp_path, current=1)

    assert generations(tmp_path) == [1]


def test_prune_deletes_partial_dirs(tmp_path: Path) -> None:
    make_generations(tmp_path, [1])
    partial_dir(tmp_path, 2).mkdir()

    prune_generations(tmp_path, current=1)

    assert not partial_dir(tmp_path, 2).exists()
    assert (tmp_path / "1" / "index.mjs").is_file()


def test_prune_deletes_zips_with_generations(tmp_path: Path) -> None:
    make_generations(tmp_path, [1, 2, 3, 4])
    for number in (1, 2, 3, 4, 9):
        zip_path(tmp_path, number).write_bytes(b"PK")
    (tmp_path / ".partial-5.zip").write_bytes(b"PK")

    deleted = prune_generations(tmp_path, current=4)

    remaining = sorted(path.name for path in tmp_path.iterdir())
    assert remaining == ["2", "2.zip", "3", "3.zip", "4", "4.zip"]
    assert tmp_path / "9.zip" in deleted
    assert tmp_path / ".partial-5.zip" in deleted


def test_zip_path_beside_generation(tmp_path: Path) -> None:
    assert zip_path(tmp_path, 12) == tmp_path / "12.zip"


def test_prune_ignores_other_dirs(tmp_path: Path) -> None:
    make_generations(tmp_path, [1, 2, 3, 4])
    (tmp_path / "staging").mkdir()

    prune_generations(tmp_path, current=4)

    assert (tmp_path / "staging").is_dir()


def test_publish_replaces_same_generation(tmp_path: Path) -> None:
    make_generations(tmp_path, [2])
    partial = partial_dir(tmp_path, 2)
    partial.mkdir()
    (partial / "new.mjs").write_text("")

    publish(partial, tmp_path / "2")

    assert sorted(path.name for path in (tmp_path / "2").iterdir()) == ["new.mjs"]
    assert not partial.exists()


def test_find_function_dir_by_address(tmp_path: Path) -> None:
    function = make_function("aws_lambda_function.api", "api")
    expected = tmp_path / function_dir_name(function)
    expected.mkdir()
    (tmp_path / function_dir_name(make_function("aws_lambda_function.other", "api"))).mkdir()

    assert find_function_dir(tmp_path, "aws_lambda_function.api") == expected
    assert find_function_dir(tmp_path, "aws_lambda_function.gone") is None
