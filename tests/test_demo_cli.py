"""`odoo-webhook-server demo` on a taken port says, in one line, how to pick another."""

from __future__ import annotations

import socket
import subprocess
import sys


def test_a_taken_port_is_one_line_naming_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "odoo_webhook_server", "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert f"port {port}" in run.stderr and f"--port {port + 1}" in run.stderr
    assert "Traceback" not in run.stderr
