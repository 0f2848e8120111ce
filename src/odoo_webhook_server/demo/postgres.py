"""A throwaway PostgreSQL cluster in a temporary directory, on loopback.

Uses the PostgreSQL server installed on the machine (Debian's `postgresql`
package, or any `initdb` on PATH). Run as root, the cluster runs as the
`postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresNotFound", "TemporaryPostgres", "find_postgres_bindir"]


class PostgresNotFound(RuntimeError):
    pass


def find_postgres_bindir() -> Path:
    candidates = [os.environ.get("PG_BINDIR", "")]
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(os.path.realpath(initdb)).parent))
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").exists()
            and (Path(candidate) / "postgres").exists()
        ):
            return Path(candidate)
    raise PostgresNotFound(
        "No PostgreSQL server found: install it (Debian/Ubuntu: apt-get install postgresql) "
        "or set PG_BINDIR to the directory holding initdb and postgres"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryPostgres:
    """`start()` returns a libpq URI for the `postgres` superuser; `stop()`
    stops the server and removes its files."""

    def __init__(self, *, port: int | None = None, durable: bool = False) -> None:
        self.bindir = find_postgres_bindir()
        self.port = port or _free_port()
        self.durable = durable  # False: fsync off, for tests and the demo
        self.directory = Path(tempfile.mkdtemp(prefix="odoo-webhook-pg-"))
        self.datadir = self.directory / "data"
        self._run_as: str | None = None
        if os.geteuid() == 0:
            try:
                self._run_as = pwd.getpwnam("postgres").pw_name
            except KeyError:
                self._run_as = "nobody"
            user = pwd.getpwnam(self._run_as)
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            user=self._run_as,
        )
        self._launch()
        return self.url

    def _launch(self) -> None:
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-p",
            str(self.port),
            "-c",
            f"unix_socket_directories={self.directory}",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=256MB",
        ]
        if not self.durable:
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        with open(self.directory / "postgres.log", "ab") as log:
            self._process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.datadir), *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self._run_as,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    "PostgreSQL did not start: "
                    + (self.directory / "postgres.log").read_text(errors="replace")[-2000:]
                )
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start within 30 s")

    def kill(self) -> None:
        """Stop the server at once, keeping its data (to test outages)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown: ends every session
            self._process.wait(timeout=30)
        self._process = None

    def restart(self) -> None:
        """Start again on the same data and port after `kill()`."""
        self._launch()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
