"""Independent devices; what each app type sees; models_filter."""

from __future__ import annotations

import psycopg

from .conftest import Stack


def _seen(response_body: dict[str, object]) -> list[tuple[str, int]]:
    events = response_body["events"]
    assert isinstance(events, list)
    return [(e["model"], e["record_id"]) for e in events]


def test_two_devices_of_one_user_are_independent(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    assert _seen(stack.pull("alice", device_id="phone", app_type="sales_app").json()) == [
        ("res.partner", 1)
    ]
    stack.write(("res.partner", 2, "create"))
    # The tablet has seen nothing yet: it gets both.
    tablet = stack.pull("alice", device_id="tablet", app_type="sales_app").json()
    assert _seen(tablet) == [("res.partner", 1), ("res.partner", 2)]
    # Resetting the tablet does not move the phone.
    with stack.client("alice") as client:
        assert (
            client.post(
                "/api/v2/sync/reset", params={"user_id": 6, "device_id": "tablet"}
            ).status_code
            == 200
        )
    assert _seen(stack.pull("alice", device_id="phone", app_type="sales_app").json()) == [
        ("res.partner", 2)
    ]
    assert len(_seen(stack.pull("alice", device_id="tablet", app_type="sales_app").json())) == 2


def test_same_device_id_of_two_users_is_two_states(stack: Stack) -> None:
    stack.write(("res.partner", 1, "create"))
    assert stack.pull("alice", device_id="shared", app_type="sales_app").json()["events"]
    assert stack.pull("bob", device_id="shared", app_type="delivery_app").json()["events"]


def test_app_types_see_their_models_only(stack: Stack) -> None:
    stack.write(
        ("sale.order", 1, "create"),
        ("res.partner", 2, "create"),
        ("product.template", 3, "create"),
        ("stock.picking", 4, "create"),
        ("account.move", 5, "create"),
    )
    assert _seen(stack.pull(device_id="s", app_type="sales_app").json()) == [
        ("sale.order", 1),
        ("res.partner", 2),
        ("product.template", 3),
    ]
    assert _seen(stack.pull(device_id="d", app_type="delivery_app").json()) == [
        ("res.partner", 2),
        ("stock.picking", 4),
    ]
    assert len(_seen(stack.pull(device_id="m", app_type="manager_app").json())) == 5


def test_unknown_app_type_is_refused_with_the_valid_ones(stack: Stack) -> None:
    response = stack.pull(app_type="spy_app")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "app_type"]
    assert error["valid"] == ["delivery_app", "manager_app", "sales_app"]
    assert "delivery_app, manager_app, sales_app" in error["msg"]
    with stack.client() as client:
        assert (
            client.get(
                "/api/v2/sync/state", params={"user_id": 2, "device_id": "device-1"}
            ).status_code
            == 404
        )


def test_app_types_are_data_and_changes_apply_at_once(stack: Stack) -> None:
    stack.write(("hr.expense", 1, "create"), ("res.partner", 2, "create"))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO webhook_app_type (code, name, all_models, active)"
            " VALUES ('expense_app', 'Expenses', false, true)"
        )
        conn.execute(
            "INSERT INTO webhook_app_type_model (app_type_id, model)"
            " SELECT id, 'hr.expense' FROM webhook_app_type WHERE code = 'expense_app'"
        )
    assert _seen(stack.pull(device_id="x", app_type="expense_app").json()) == [("hr.expense", 1)]
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("UPDATE webhook_app_type SET active = false WHERE code = 'expense_app'")
    assert stack.pull(device_id="x", app_type="expense_app").status_code == 422


def test_models_filter_narrows_the_app_type(stack: Stack) -> None:
    stack.write(("sale.order", 1, "create"), ("res.partner", 2, "create"))
    body = stack.pull(app_type="sales_app", models_filter=["res.partner"]).json()
    assert _seen(body) == [("res.partner", 2)]


def test_models_filter_cannot_widen_the_app_type(stack: Stack) -> None:
    response = stack.pull(app_type="delivery_app", models_filter=["sale.order", "res.partner"])
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "models_filter"]
    assert error["models"] == ["sale.order"]


def test_changing_a_device_subscription_needs_a_reset(stack: Stack) -> None:
    """Otherwise events of the models it did not see would be skipped."""
    stack.write(("sale.order", 1, "create"), ("res.partner", 2, "create"))
    stack.pull(app_type="sales_app", models_filter=["res.partner"])
    response = stack.pull(app_type="sales_app")
    assert response.status_code == 409
    assert response.json()["code"] == "subscription_changed"
    response = stack.pull(app_type="delivery_app", models_filter=["res.partner"])
    assert response.status_code == 409
    with stack.client() as client:
        client.post("/api/v2/sync/reset", params={"user_id": 2, "device_id": "device-1"})
    assert _seen(stack.pull(app_type="sales_app").json()) == [
        ("sale.order", 1),
        ("res.partner", 2),
    ]


def test_has_more_and_limit(stack: Stack) -> None:
    stack.write(*[("res.partner", i, "create") for i in range(1, 8)])
    first = stack.pull(limit=3).json()
    assert (len(first["events"]), first["has_more"]) == (3, True)
    second = stack.pull(limit=3).json()
    assert (len(second["events"]), second["has_more"]) == (3, True)
    third = stack.pull(limit=3).json()
    assert (len(third["events"]), third["has_more"]) == (1, False)
    assert [e["record_id"] for e in first["events"] + second["events"] + third["events"]] == list(
        range(1, 8)
    )
