"""Change routing and inventory diffs: which functions a save rebuilds, and what a Terraform
change requires."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from devd.engine.plan import BuildFacts, diff_inventory, keeps_last_good, plan_changes, watch_roots
from devd.inventory import ApiKind, Function, Inventory, Problem, Route

ROOT = Path("/project")
INFRA = ROOT / "infra"
VARS = INFRA / "vars" / "dev.tfvars"


def node(address: str, code_dir: str) -> Function:
    return Function(address, address, "nodejs20.x", "handler.main", str(ROOT / code_dir), code_dir)


def python(address: str, handler: str) -> Function:
    return Function(address, address, "python3.11", handler, str(ROOT / "functions/items"), "functions/items")


HELLO = node("hello", "functions/hello")
STATUS = node("status", "functions/status")
GET_ITEM = python("get_item", "get_item.handler")
CREATE_ITEM = python("create_item", "create_item.handler")
FUNCTIONS = [HELLO, STATUS, GET_ITEM, CREATE_ITEM]
ITEMS = ROOT / "functions/items"
BUILDS = {
    "hello": BuildFacts(frozenset({ROOT / "functions/hello/handler.ts", ROOT / "functions/lib/greeting.ts"}), True),
    "status": BuildFacts(frozenset({ROOT / "functions/status/index.mjs"}), True),
    "get_item": BuildFacts(frozenset({ITEMS / "get_item.py", ITEMS / "model.py"}), True),
    "create_item": BuildFacts(frozenset({ITEMS / "create_item.py", ITEMS / "model.py", ITEMS / "validation.py"}), True),
}


def plan(*paths: str, builds=BUILDS):
    return plan_changes([ROOT / p for p in paths], INFRA, [VARS], FUNCTIONS, builds)


def test_handler_save_rebuilds_only_its_function() -> None:
    assert plan("functions/hello/handler.ts").rebuild == {"hello"}


def test_shared_ts_file_rebuilds_importers() -> None:
    assert plan("functions/lib/greeting.ts").rebuild == {"hello"}


def test_shared_python_module_rebuilds_both_importers() -> None:
    assert plan("functions/items/model.py").rebuild == {"get_item", "create_item"}


def test_python_module_of_one_handler_rebuilds_one() -> None:
    assert plan("functions/items/validation.py").rebuild == {"create_item"}
    assert plan("functions/items/get_item.py").rebuild == {"get_item"}


def test_unrelated_file_rebuilds_nothing() -> None:
    result = plan("functions/hello/README.md", "docs/notes.md")
    assert result.rebuild == frozenset()
    assert not result.reload_inventory


def test_python_data_file_rebuilds_its_directory() -> None:
    assert plan("functions/items/catalog.json").rebuild == {"get_item", "create_item"}


def test_terraform_file_reloads_inventory() -> None:
    assert plan("infra/modules/http_function/main.tf").reload_inventory
    assert plan("infra/vars/dev.tfvars").reload_inventory
    assert not plan("functions/items/main.tf").reload_inventory


def test_before_first_build_any_code_file_rebuilds() -> None:
    builds = dict(BUILDS, hello=BuildFacts(frozenset({ROOT / "functions/hello/handler.ts"}), False))
    assert plan("functions/hello/other.ts", builds=builds).rebuild == {"hello"}


def test_diff_inventory_added_removed_changed() -> None:
    old = Inventory((HELLO, STATUS), ())
    new = Inventory((replace(HELLO, environment={"A": "1"}), GET_ITEM), ())
    diff = diff_inventory(old, new)

    assert diff.added == {"get_item"}
    assert diff.removed == {"status"}
    assert diff.changed == {"hello"}
    assert not diff.routes_changed


def test_diff_ignores_definition_place() -> None:
    old = Inventory((replace(HELLO, file="a.tf", line=1),), ())
    new = Inventory((replace(HELLO, file="a.tf", line=9),), (Route(ApiKind.REST, "api", "GET", "/h", "1.0", "hello"),))
    diff = diff_inventory(old, new)

    assert diff.changed == frozenset()
    assert diff.routes_changed


def test_syntax_problem_keeps_last_good() -> None:
    assert keeps_last_good(Inventory(problems=(Problem("invalid HCL syntax", "main.tf", 3, syntax=True),)))
    assert not keeps_last_good(Inventory(problems=(Problem("unknown value", "main.tf", 3),)))


def test_watch_roots_cover_shared_inputs() -> None:
    roots = watch_roots(INFRA, [VARS], FUNCTIONS, BUILDS)

    assert (INFRA, True) in roots
    assert (ROOT / "functions/hello", True) in roots
    assert (ROOT / "functions/lib", False) in roots
    assert (ITEMS, True) in roots


def test_user_command_output_is_ignored() -> None:
    builds = dict(BUILDS, hello=BuildFacts(frozenset(), False))
    result = plan_changes([ROOT / "functions/hello/dist/handler.js"], INFRA, [VARS], FUNCTIONS, builds,
                          ignored=[ROOT / "functions/hello/dist"])

    assert result.rebuild == frozenset()


def test_shared_module_of_three_rebuilds_three_of_ten() -> None:
    functions = [node(f"fn{index}", f"functions/fn{index}") for index in range(10)]
    shared = ROOT / "functions/lib/shared.ts"
    builds = {
        f.address: BuildFacts(frozenset({ROOT / f.source / "handler.ts"} | ({shared} if index < 3 else set())), True)
        for index, f in enumerate(functions)
    }
    result = plan_changes([shared], INFRA, [VARS], functions, builds)

    assert result.rebuild == {"fn0", "fn1", "fn2"}
