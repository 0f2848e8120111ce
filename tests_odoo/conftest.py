"""Tests against a real Odoo 18 with the addon installed.

They need ODOO_BIN (path of an Odoo 18 `odoo-bin`) and ODOO_PYTHON (the
Python that runs it, with Odoo's requirements; default `python3`), and skip,
saying why, when ODOO_BIN is not set, as OCA addon tests do. Each run uses a
throwaway PostgreSQL cluster of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from odoo_webhook_server.demo.postgres import TemporaryPostgres

ODOO_BIN = os.environ.get("ODOO_BIN", "")
REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if ODOO_BIN and os.path.exists(ODOO_BIN):
        return
    reason = (
        "no Odoo 18: set ODOO_BIN (and ODOO_PYTHON) to run the Odoo and end-to-end tests"
        if not ODOO_BIN
        else f"ODOO_BIN={ODOO_BIN} does not exist"
    )
    for item in items:
        if "tests_odoo" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OdooEnvironment:
    odoo_bin: Path
    python: str
    cluster: TemporaryPostgres
    env: dict[str, str]

    def command(self, database: str, http_port: int) -> list[str]:
        addons = ",".join(
            [
                str(self.odoo_bin.parent / "odoo" / "addons"),
                str(self.odoo_bin.parent / "addons"),
                str(REPO / "addons"),
            ]
        )
        return [
            self.python,
            str(self.odoo_bin),
            f"--addons-path={addons}",
            "-d",
            database,
            "--db_host=127.0.0.1",
            f"--db_port={self.cluster.port}",
            "--db_user=odoo",
            "--db_password=odoo",
            "--http-interface=127.0.0.1",
            f"--http-port={http_port}",
            "--max-cron-threads=0",
            "--without-demo=all",
            "--log-level=warn",
        ]

    def database_url(self, database: str) -> str:
        return f"postgresql://odoo:odoo@127.0.0.1:{self.cluster.port}/{database}"


@pytest.fixture(scope="session")
def odoo() -> Iterator[OdooEnvironment]:
    cluster = TemporaryPostgres()
    superuser_url = cluster.start()
    try:
        with psycopg.connect(superuser_url, autocommit=True) as conn:
            # Odoo refuses to run as the "postgres" role.
            conn.execute("CREATE ROLE odoo LOGIN SUPERUSER PASSWORD 'odoo'")
        python = os.environ.get("ODOO_PYTHON", "python3")
        # The addon imports the core package only (Odoo checks its
        # distribution metadata): give Odoo's Python this checkout's, and
        # nothing else, without touching its environment.
        package_dir = cluster.directory / "odoo-python-path"
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(package_dir),
                # from a copy: building in place would leave core/build/ behind
                str(shutil.copytree(REPO / "core", cluster.directory / "core")),
            ],
            check=True,
            timeout=600,
        )
        yield OdooEnvironment(
            Path(ODOO_BIN).resolve(),
            python,
            cluster,
            {**os.environ, "PYTHONPATH": str(package_dir)},
        )
    finally:
        cluster.stop()
