"""Setting up prometheus-client's multiprocess mode for `serve --workers N`.

Kept free of prometheus_client imports: the library reads
PROMETHEUS_MULTIPROC_DIR when it is first imported, which must happen after
this has set it (in the worker processes)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["prepare_metrics_dir"]

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(workers: int) -> Callable[[], None]:
    """Before starting the workers: with PROMETHEUS_MULTIPROC_DIR set, empty
    that directory of a previous run's files (it is kept afterwards);
    without it and with several workers, make a temporary one and set it.
    Returns what to call once the server has stopped."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return lambda: None
    if workers <= 1:
        return lambda: None
    made = tempfile.mkdtemp(prefix="odoo-webhook-server-metrics-")
    os.environ[ENV] = made

    def cleanup() -> None:
        os.environ.pop(ENV, None)
        shutil.rmtree(made, ignore_errors=True)

    return cleanup
