"""Prometheus metrics at /metrics: the counts after some traffic, in one
process and added up over several worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
from odoo_webhook_core.clock import utcnow
from prometheus_client.parser import text_string_to_metric_families

from odoo_webhook_server.cli import main as cli_main
from odoo_webhook_server.demo.fake_odoo import FakeOdoo
from odoo_webhook_server.demo.serving import serve_in_thread

from .conftest import Stack, days, free_port, insert_event, wait_until_serving

PULL = "/api/v2/sync/pull"


def scrape(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_pulls_events_and_sessions(stack: Stack) -> None:
    before = scrape(stack.base_url)
    stack.write(("res.partner", 1, "create"), ("res.partner", 2, "create"))
    first = stack.pull()
    assert first.json()["new_events_count"] == 2
    assert stack.pull().status_code == 200
    assert stack.pull(app_type="sales_app", device_id="device-2").status_code == 200
    with stack.client(None) as anonymous:
        assert anonymous.post(PULL, json={}).status_code == 401
        assert anonymous.get("/no/such/page").status_code == 404
    after = scrape(stack.base_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    post_pull = {"method": "POST", "route": PULL}
    assert delta("odoo_sync_http_requests_total", **post_pull, status="200") == 3
    assert delta("odoo_sync_http_requests_total", **post_pull, status="401") == 1
    assert (
        delta("odoo_sync_http_requests_total", method="GET", route="unmatched", status="404") == 1
    )
    assert delta("odoo_sync_http_request_duration_seconds_count", **post_pull) == 4
    assert delta("odoo_sync_http_request_duration_seconds_bucket", **post_pull, le="+Inf") == 4
    assert delta("odoo_sync_http_request_duration_seconds_sum", **post_pull) > 0
    assert delta("odoo_sync_pulls_total", app_type="manager_app") == 2
    assert delta("odoo_sync_pulls_total", app_type="sales_app") == 1
    assert delta("odoo_sync_events_delivered_total", app_type="manager_app") == 2
    assert delta("odoo_sync_events_delivered_total", app_type="sales_app") == 2  # a new device
    assert delta("odoo_sync_session_cache_total", result="miss") == 1  # one session, asked once
    assert delta("odoo_sync_session_cache_total", result="hit") == 2
    assert value(after, "odoo_sync_db_pool_connections", state="max") == 10
    assert value(after, "odoo_sync_db_pool_connections", state="size") >= 1
    assert value(after, "odoo_sync_db_pool_connections", state="waiting") == 0
    assert value(after, "odoo_sync_long_polls_waiting") == 0


def test_metrics_show_waiting_long_polls(stack: Stack) -> None:
    stack.pull()  # the device's state exists; the next pull waits
    answers: list[httpx.Response] = []
    waiter = threading.Thread(target=lambda: answers.append(stack.pull(wait=20)))
    waiter.start()
    deadline = time.monotonic() + 10
    while value(scrape(stack.base_url), "odoo_sync_long_polls_waiting") != 1:
        assert time.monotonic() < deadline, "the long poll never showed up as waiting"
        time.sleep(0.05)
    stack.write(("res.partner", 9, "write"))
    waiter.join(timeout=20)
    assert answers and answers[0].json()["new_events_count"] == 1
    assert value(scrape(stack.base_url), "odoo_sync_long_polls_waiting") == 0


def test_metrics_count_archiver_runs_and_rows(stack: Stack) -> None:
    insert_event(stack.database_url, "res.partner", 1, utcnow() - days(40))
    insert_event(stack.database_url, "res.partner", 2, utcnow() - days(40))
    insert_event(stack.database_url, "res.partner", 3, utcnow() - days(100))
    before = scrape(stack.base_url)
    assert cli_main(["archive", "--database-url", stack.database_url]) == 0
    after = scrape(stack.base_url)
    assert (
        value(after, "odoo_sync_archiver_runs_total")
        - value(before, "odoo_sync_archiver_runs_total")
        == 1
    )
    for action, rows in {"archived_synced": 3, "archived_forced": 0, "deleted": 1}.items():
        assert (
            value(after, "odoo_sync_archiver_rows_total", action=action)
            - value(before, "odoo_sync_archiver_rows_total", action=action)
            == rows
        ), action


def _workers_metrics_dir(parent: int) -> str | None:
    """PROMETHEUS_MULTIPROC_DIR in the environment of `parent`'s children (Linux)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) != parent:
                    continue
            with open(f"/proc/{entry}/environ", "rb") as environ:
                variables = environ.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        for variable in variables:
            if variable.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return variable.split(b"=", 1)[1].decode()
    return None


def test_serve_with_workers_adds_up_every_worker(database_url: str, fake_odoo: FakeOdoo) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with serve_in_thread(fake_odoo.app()) as odoo_url:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odoo_webhook_server",
                "serve",
                "--workers",
                "3",
                "--port",
                str(port),
            ],
            env={**env, "DATABASE_URL": database_url, "ODOO_URL": odoo_url, "ODOO_DB": "odoo"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base, server)
            metrics_dir = _workers_metrics_dir(server.pid)
            assert metrics_dir, "serve --workers N gives its workers a metrics directory"
            assert os.path.basename(metrics_dir).startswith("odoo-webhook-server-metrics-")
            for _ in range(30):  # new connections: the workers share them out
                with httpx.Client() as client:
                    assert client.get(f"{base}/no-such-page").status_code == 404
            for _ in range(5):  # whichever worker answers, it counts them all
                samples = scrape(base)
                assert (
                    value(
                        samples,
                        "odoo_sync_http_requests_total",
                        method="GET",
                        route="unmatched",
                        status="404",
                    )
                    == 30
                )
            files = [name for name in os.listdir(metrics_dir) if name.endswith(".db")]
            assert len({name.rsplit("_", 1)[-1] for name in files}) > 1  # several processes
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert not os.path.exists(metrics_dir), "and removes it when it stops"
