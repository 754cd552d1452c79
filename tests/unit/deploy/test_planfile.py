"""Reading the changes of a saved plan from `terraform show -json`."""

from __future__ import annotations

from pathlib import Path

from devd.deploy.model import DeployPlan, ResourceChange
from devd.deploy.planfile import plan_changes, summary_line


def _change(address: str, *actions: str) -> dict:
    return {"address": address, "change": {"actions": list(actions)}}


def test_actions_become_one_word() -> None:
    document = {"resource_changes": [
        _change("aws_iam_role.lambda", "no-op"),
        _change("module.get_hello.aws_lambda_function.this", "update"),
        _change("module.get_hello.aws_api_gateway_resource.this", "create"),
        _change("aws_api_gateway_deployment.api", "create", "delete"),
        _change("aws_lambda_permission.old", "delete"),
        _change("module.get_hello.aws_lambda_permission.this", "delete", "create"),
        _change("data.aws_iam_policy_document.assume", "read"),
    ]}

    changes = plan_changes(document)

    assert changes == (
        ResourceChange("module.get_hello.aws_lambda_function.this", "update"),
        ResourceChange("module.get_hello.aws_api_gateway_resource.this", "create"),
        ResourceChange("aws_api_gateway_deployment.api", "replace"),
        ResourceChange("aws_lambda_permission.old", "delete"),
        ResourceChange("module.get_hello.aws_lambda_permission.this", "replace"),
    )


def test_summary_counts_replace_twice() -> None:
    changes = (ResourceChange("a", "create"), ResourceChange("b", "update"), ResourceChange("c", "replace"),
               ResourceChange("d", "delete"))

    assert summary_line(changes) == "2 to add, 1 to change, 2 to destroy"


def test_plan_lists_destroys() -> None:
    plan = DeployPlan("f", ("module.f",), Path("p"), (ResourceChange("a", "replace"), ResourceChange("b", "update"),
                                                      ResourceChange("c", "delete")))

    assert plan.destroys == ("a", "c")
    assert plan.count("update") == 1


def test_empty_plan_has_no_changes() -> None:
    assert plan_changes({"format_version": "1.2"}) == ()
