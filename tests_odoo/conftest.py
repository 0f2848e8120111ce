"""End-to-end tests against a real Odoo 18 with the addon installed.

They need ODOO_BIN (path of an Odoo 18 `odoo-bin`; ODOO_PYTHON, the Python
that runs it, defaults to the one in its shebang) and skip, saying why, when
it is not set, as OCA addon tests do.
"""

from __future__ import annotations

import os

import pytest

ODOO_BIN = os.environ.get("ODOO_BIN", "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if ODOO_BIN and os.path.exists(ODOO_BIN):
        return
    reason = (
        "no Odoo 18: set ODOO_BIN to an Odoo 18 odoo-bin to run the end-to-end tests"
        if not ODOO_BIN
        else f"ODOO_BIN={ODOO_BIN} does not exist"
    )
    for item in items:
        if "tests_odoo" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))
