"""Capture cost: how much slower Odoo business operations get when their models are captured
by the addon's database triggers, measured in one real Odoo 18 database.

    ODOO_BIN=/path/to/odoo18/odoo-bin /path/to/odoo18/venv/bin/python benchmarks/bench_capture.py \\
        --db-host 127.0.0.1 --db-port 5432 --db-user odoo --db-password odoo [--rounds 7]

Run it with the Python that runs Odoo (this checkout's package installed in it, as for the
addon), from the checkout. About 11 minutes with the defaults on 2 cores (plus a minute to
create the database the first time). Operations measured, each in its own transaction that is
rolled back afterwards, so that every run starts from the same data:

- ``partner_create``: ``res.partner.create`` of 1,000 companies in one call;
- ``partner_write``: one ``write`` of street / city / zip on 1,000 existing companies;
- ``so_confirm``: ``action_confirm`` in one call on 20 draft sale orders of 2 lines each
  (with stock installed: it creates 20 deliveries with 40 stock moves and reserves them);
- ``picking_validate``: ``button_validate`` in one call on the 20 reserved deliveries of 20
  confirmed orders, with stock on hand (no wizard: everything is reserved).

The timed part is the call, then ``env.flush_all()`` and ``cr.flush()`` (Odoo's precommit
hooks, e.g. mail tracking, and their flush): all the SQL of the transaction except COMMIT.
The data of the operations (the 1,000 partners to write, the 20 draft orders, the 20 confirmed
orders with their reserved deliveries, 10 storable products with stock) is made once, committed
and reused; preparing an operation (building values, browsing ids) is outside the timed part.
Odoo is used as a library, as the superuser (``odoo.SUPERUSER_ID``: no access-rule checks).

Two modes:

- *tracked*: ``sale.order``, ``sale.order.line``, ``stock.picking``, ``stock.move``,
  ``res.partner``, ``product.product`` and ``product.template`` have an active
  ``webhook.tracked.model`` record, so their tables carry the capture triggers, and no other
  model is tracked;
- *untracked*: those records inactive, and every other tracked model too (checked: no capture
  trigger left in the database). The addon stays installed: its ORM hook, which names the Odoo
  user in a transaction-local setting, runs in both modes.

Each round (``--rounds``) takes the operations in turn and, for each, both modes one after
the other, tracked first or untracked first in alternation, so that a noisy spell of the shared
machine falls on both alike: ``--warmup`` untimed runs, then ``--repeat`` timed runs. Switching
modes is what an administrator does (``active`` on the tracked model records; the triggers are
added or dropped at once); it clears Odoo's registry caches, which the warm-up runs refill.

It prints, per operation, the median wall-clock time of each mode, their ratio, the range of the
per-round ratios, and the events each tracked run wrote (untracked runs must write none); the
CPU time of the Odoo process and of its PostgreSQL backend (``/proc/<pid>/schedstat``, when
PostgreSQL runs on the same machine), whose tracked - untracked difference is the capture's own
cost, less blurred by other load than wall clock; and, from ``--profile-runs`` extra tracked
runs with ``track_functions = all``, how many times the capture trigger functions ran and the
time spent inside them (pg_stat_xact_user_functions).

The database (``--database``, default ``bench_capture``) is created when missing with
``odoo-bin -i sale_management,stock,custom_model_webhook --without-demo=all --stop-after-init``
and this checkout's ``addons`` in the addons path, and kept for the next run. docs/BENCHMARKS.md
has figures and how to read them. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_webhook_core.capture import TRIGGER_PREFIX, installed_capture_triggers

REPO = Path(__file__).resolve().parent.parent
MODULES = "sale_management,stock,custom_model_webhook"

# The models whose capture is measured, and the tables that carry triggers when they are
# tracked (product_template has product.template's own and product.product's _inherits one).
TRACKED_MODELS = (
    "product.product",
    "product.template",
    "res.partner",
    "sale.order",
    "sale.order.line",
    "stock.move",
    "stock.picking",
)
TRACKED_TABLES = frozenset(
    {
        "product_product",
        "product_template",
        "res_partner",
        "sale_order",
        "sale_order_line",
        "stock_move",
        "stock_picking",
    }
)

# Where the committed benchmark data's ids are kept (ir.config_parameter).
DATA_PARAMETER = "bench_capture.data"
DATA_VERSION = 1

PARTNERS = 1000
ORDERS = 20
PRODUCTS = 10

# Odoo, imported by `_import_odoo` once the odoo-bin directory is on sys.path (no stubs).
odoo: Any = None

Env = Any  # odoo.api.Environment
Data = dict[str, Any]


# ------------------------------------------------------------------ operations


@dataclass(frozen=True)
class Operation:
    key: str
    label: str
    prepare: Callable[[Env, Data], Any]  # outside the timed part
    run: Callable[[Env, Any], None]  # timed


def _partner_values(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Bench capture company {i:04d}",
            "is_company": True,
            "email": f"company{i:04d}@bench-capture.example.com",
            "street": f"{i} Benchmark Street",
            "city": "Louvain-la-Neuve",
            "zip": "1348",
        }
        for i in range(count)
    ]


def _run_partner_create(env: Env, values: list[dict[str, Any]]) -> None:
    env["res.partner"].create(values)


def _run_partner_write(env: Env, partners: Any) -> None:
    partners.write({"street": "1 Rue du Capture", "city": "Namur", "zip": "5000"})


def _run_so_confirm(env: Env, orders: Any) -> None:
    orders.action_confirm()


def _run_picking_validate(env: Env, pickings: Any) -> None:
    result = pickings.button_validate()
    if result is not True:
        raise RuntimeError(f"button_validate asked for a wizard: {result!r}")


OPERATIONS = (
    Operation(
        "partner_create",
        f"create {PARTNERS:,} res.partner (1 create call)",
        lambda env, data: _partner_values(PARTNERS),
        _run_partner_create,
    ),
    Operation(
        "partner_write",
        f"write {PARTNERS:,} res.partner (1 write call)",
        lambda env, data: env["res.partner"].browse(data["write_partner_ids"]),
        _run_partner_write,
    ),
    Operation(
        "so_confirm",
        f"confirm {ORDERS} sale orders (1 action_confirm call)",
        lambda env, data: env["sale.order"].browse(data["draft_order_ids"]),
        _run_so_confirm,
    ),
    Operation(
        "picking_validate",
        f"validate {ORDERS} deliveries (1 button_validate call)",
        lambda env, data: env["stock.picking"].browse(data["picking_ids"]),
        _run_picking_validate,
    ),
)


# ------------------------------------------------------------------ Odoo


def _import_odoo(odoo_bin: Path) -> Any:
    global odoo
    sys.path.insert(0, str(odoo_bin.resolve().parent))
    odoo = importlib.import_module("odoo")
    for name in ("odoo.api", "odoo.fields", "odoo.modules.registry", "odoo.service.db"):
        importlib.import_module(name)
    return odoo


def _odoo_flags(args: argparse.Namespace) -> list[str]:
    flags = [f"--addons-path={args.addons_path}"]
    for option, value in (
        ("--db_host", args.db_host),
        ("--db_port", args.db_port),
        ("--db_user", args.db_user),
        ("--db_password", args.db_password),
        ("--data-dir", args.data_dir),
    ):
        if value is not None:
            flags.append(f"{option}={value}")
    return flags


def _ensure_database(args: argparse.Namespace) -> None:
    if odoo.service.db.exp_db_exist(args.database):
        return
    command = [
        sys.executable,
        str(args.odoo_bin),
        *_odoo_flags(args),
        "-d",
        args.database,
        "-i",
        MODULES,
        "--without-demo=all",
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
    ]
    print(f"creating database {args.database}: odoo-bin -i {MODULES} (about a minute)", flush=True)
    began = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"  created in {time.perf_counter() - began:.0f} s", flush=True)


@contextlib.contextmanager
def _environment(registry: Any, *, commit: bool) -> Iterator[Env]:
    """A superuser environment on a new cursor; committed or rolled back at the end."""
    cr = registry.cursor()
    try:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        if commit:
            cr.commit()
    finally:
        cr.rollback()
        cr.close()


# ------------------------------------------------------------------ data


def _load_data(env: Env) -> Data | None:
    raw = env["ir.config_parameter"].get_param(DATA_PARAMETER)
    if not raw:
        return None
    data: Data = json.loads(raw)
    if data.get("version") != DATA_VERSION:
        return None
    orders = env["sale.order"].browse(data["draft_order_ids"]).exists()
    pickings = env["stock.picking"].browse(data["picking_ids"]).exists()
    partners = env["res.partner"].browse(data["write_partner_ids"]).exists()
    if (
        len(orders) != ORDERS
        or set(orders.mapped("state")) != {"draft"}
        or len(pickings) != ORDERS
        or set(pickings.mapped("state")) != {"assigned"}
        or len(partners) != PARTNERS
    ):
        return None
    return data


def _make_data(env: Env) -> Data:
    """Products with stock, customers, the 1,000 partners to write, 20 draft orders and 20
    confirmed orders with their reserved deliveries; committed by the caller."""
    command = odoo.fields.Command
    warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
    products = env["product.product"].create(
        [
            {
                "name": f"Bench capture product {i}",
                "default_code": f"BENCH-CAPTURE-{i}",
                "type": "consu",
                "is_storable": True,
                "list_price": 10.0 + i,
            }
            for i in range(PRODUCTS)
        ]
    )
    for product in products:
        env["stock.quant"]._update_available_quantity(product, warehouse.lot_stock_id, 1_000_000)
    customers = env["res.partner"].create(
        [{"name": f"Bench capture customer {i}", "is_company": True} for i in range(ORDERS)]
    )
    write_partners = env["res.partner"].create(_partner_values(PARTNERS))

    def orders() -> Any:
        return env["sale.order"].create(
            [
                {
                    "partner_id": customers[i].id,
                    "warehouse_id": warehouse.id,
                    "order_line": [
                        command.create(
                            {"product_id": products[(2 * i) % PRODUCTS].id, "product_uom_qty": 2}
                        ),
                        command.create(
                            {
                                "product_id": products[(2 * i + 1) % PRODUCTS].id,
                                "product_uom_qty": 3,
                            }
                        ),
                    ],
                }
                for i in range(ORDERS)
            ]
        )

    drafts = orders()
    confirmed = orders()
    confirmed.action_confirm()
    pickings = confirmed.picking_ids
    pickings.action_assign()
    if len(pickings) != ORDERS or set(pickings.mapped("state")) != {"assigned"}:
        raise RuntimeError(f"expected {ORDERS} reserved deliveries, got {pickings.mapped('state')}")
    data: Data = {
        "version": DATA_VERSION,
        "write_partner_ids": write_partners.ids,
        "draft_order_ids": drafts.ids,
        "picking_ids": pickings.ids,
    }
    env["ir.config_parameter"].set_param(DATA_PARAMETER, json.dumps(data))
    return data


def _data(registry: Any) -> Data:
    with _environment(registry, commit=True) as env:
        data = _load_data(env)
        if data is None:
            print("making the benchmark data (committed, reused by later runs)", flush=True)
            data = _make_data(env)
        return data


# ------------------------------------------------------------------ modes


def _set_tracked(registry: Any, tracked: bool) -> None:
    """Track the measured models (and nothing else), or nothing at all, as an administrator
    does it: `active` on webhook.tracked.model records. Checks the triggers that result."""
    with _environment(registry, commit=True) as env:
        model = env["webhook.tracked.model"].with_context(active_test=False)
        records = model.search([])
        missing = set(TRACKED_MODELS) - set(records.mapped("model"))
        if missing:
            records |= model.create([{"model": name, "active": False} for name in sorted(missing)])
        measured = records.filtered(lambda r: r.model in TRACKED_MODELS)
        measured.filtered(lambda r: r.active != tracked).write({"active": tracked})
        (records - measured).filtered("active").write({"active": False})
        env.flush_all()
        tables = {trigger.table for trigger in installed_capture_triggers(env.cr)}
    expected = TRACKED_TABLES if tracked else frozenset()
    if tables != expected:
        raise RuntimeError(f"capture triggers on {sorted(tables)}, expected {sorted(expected)}")


# ------------------------------------------------------------------ measuring


@dataclass
class Run:
    seconds: float  # wall clock
    odoo_cpu: float  # CPU seconds of this (Odoo) process
    pg_cpu: float | None  # CPU seconds of the PostgreSQL backend; None when not local
    events: int
    functions: dict[str, tuple[int, float]] = field(default_factory=dict)  # calls, total ms


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds a local process has run, from the scheduler (nanoseconds)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _run(registry: Any, operation: Operation, data: Data, *, profile: bool = False) -> Run:
    """One operation in its own transaction, rolled back."""
    with _environment(registry, commit=False) as env:
        cr = env.cr
        if profile:
            cr.execute("SET LOCAL track_functions = 'all'")
        cr.execute("SELECT pg_backend_pid()")
        backend = int(cr.fetchone()[0])
        prepared = operation.prepare(env, data)
        env.flush_all()
        pg_before = _backend_cpu(backend)
        cpu_before = time.process_time()
        start = time.perf_counter()
        operation.run(env, prepared)
        env.flush_all()
        cr.flush()
        seconds = time.perf_counter() - start
        odoo_cpu = time.process_time() - cpu_before
        pg_after = _backend_cpu(backend)
        pg_cpu = None if pg_before is None or pg_after is None else pg_after - pg_before
        cr.execute("SELECT count(*) FROM update_webhook WHERE txid = txid_current()")
        events = int(cr.fetchone()[0])
        functions: dict[str, tuple[int, float]] = {}
        if profile:
            cr.execute(
                "SELECT funcname, calls, total_time FROM pg_stat_xact_user_functions"
                " WHERE funcname LIKE %s",
                (TRIGGER_PREFIX.replace("_", "\\_") + "%",),
            )
            functions = {name: (int(calls), float(ms)) for name, calls, ms in cr.fetchall()}
        return Run(seconds, odoo_cpu, pg_cpu, events, functions)


@dataclass
class Samples:
    """The timed runs of one operation: per round, the runs of each mode."""

    tracked: list[list[Run]] = field(default_factory=list)
    untracked: list[list[Run]] = field(default_factory=list)
    profiled: list[Run] = field(default_factory=list)

    def slots(self, tracked: bool) -> list[list[Run]]:
        return self.tracked if tracked else self.untracked

    def all(self, tracked: bool) -> list[Run]:
        return [run for slot in self.slots(tracked) for run in slot]

    def round_ratios(self) -> list[float]:
        """Per round: median tracked / median untracked wall clock."""
        return sorted(
            statistics.median(r.seconds for r in t) / statistics.median(r.seconds for r in u)
            for t, u in zip(self.tracked, self.untracked, strict=True)
        )


def _median_ms(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) * 1000 if known else None


def _ms(value: float | None, width: int) -> str:
    return f"{value:>{width}.0f}" if value is not None else f"{'-':>{width}}"


def _ratio(tracked: float | None, untracked: float | None, width: int) -> str:
    if tracked is None or not untracked:
        return f"{'-':>{width}}"
    return f"{tracked / untracked:>{width}.3f}"


def _ms_list(runs: Sequence[Run]) -> str:
    return " ".join(f"{seconds * 1000:.0f}" for seconds in sorted(r.seconds for r in runs))


def _print_results(operations: Sequence[Operation], samples: dict[str, Samples]) -> None:
    print(
        "\nWall clock, ms: median of all timed runs (the transaction up to COMMIT, then rolled"
        " back); ratio = tracked / untracked\nmedians; per round: min, median and max over the"
        " rounds of the round's ratio; events: written by each tracked run."
    )
    header = (
        f"{'operation':<50}{'untracked':>10}{'tracked':>9}{'ratio':>7}"
        f"{'per round min/med/max':>23}{'events':>7}"
    )
    print(header)
    print("-" * len(header))
    for operation in operations:
        s = samples[operation.key]
        untracked = _median_ms(r.seconds for r in s.all(False))
        tracked = _median_ms(r.seconds for r in s.all(True))
        paired = s.round_ratios()
        events = "/".join(str(e) for e in sorted({r.events for r in s.all(True)}))
        print(
            f"{operation.label:<50}{_ms(untracked, 10)}{_ms(tracked, 9)}"
            f"{_ratio(tracked, untracked, 7)}"
            f"{paired[0]:>11.3f} {statistics.median(paired):.3f} {paired[-1]:.3f}{events:>7}"
        )
    stray = {o.key: sorted({r.events for r in samples[o.key].all(False)}) for o in operations}
    if any(events != [0] for events in stray.values()):
        print(f"WARNING: untracked runs wrote events: {stray}")

    print(
        "\nCPU time, ms, medians: this Odoo process and its PostgreSQL backend"
        " (/proc/<pid>/schedstat; '-' when PostgreSQL\nis not on this machine). The Odoo side"
        " does the same work in both modes; the capture runs in PostgreSQL. PG extra =\ntracked"
        " - untracked PostgreSQL CPU; share = PG extra / untracked CPU (Odoo + PostgreSQL)."
    )
    header = (
        f"{'operation':<50}{'Odoo untr.':>11}{'tracked':>9}{'PG untr.':>10}{'tracked':>9}"
        f"{'PG extra':>10}{'share':>8}"
    )
    print(header)
    print("-" * len(header))
    for operation in operations:
        s = samples[operation.key]
        odoo_u = _median_ms(r.odoo_cpu for r in s.all(False))
        odoo_t = _median_ms(r.odoo_cpu for r in s.all(True))
        pg_u = _median_ms(r.pg_cpu for r in s.all(False))
        pg_t = _median_ms(r.pg_cpu for r in s.all(True))
        extra = share = ""
        if pg_u is not None and pg_t is not None and odoo_u is not None:
            extra = f"{pg_t - pg_u:.0f}"
            share = f"{(pg_t - pg_u) / (odoo_u + pg_u):.1%}"
        print(
            f"{operation.label:<50}{_ms(odoo_u, 11)}{_ms(odoo_t, 9)}{_ms(pg_u, 10)}{_ms(pg_t, 9)}"
            f"{extra:>10}{share:>8}"
        )

    print("\nAll wall-clock times, sorted (ms):")
    for operation in operations:
        s = samples[operation.key]
        print(f"  {operation.key}\n    untracked {_ms_list(s.all(False))}")
        print(f"    tracked   {_ms_list(s.all(True))}")


def _print_profile(operations: Sequence[Operation], samples: dict[str, Samples]) -> None:
    if not any(samples[o.key].profiled for o in operations):
        return
    print(
        "\nInside PostgreSQL, tracked, track_functions = all (pg_stat_xact_user_functions),"
        " medians of the profiled runs.\ncalls: capture = trigger firings (one per SQL statement"
        " on a tracked table); ms: time in the function, its callees included."
    )
    for operation in operations:
        runs = samples[operation.key].profiled
        if not runs:
            continue
        names = sorted({name for run in runs for name in run.functions})
        parts = []
        for name in names:
            calls = statistics.median(r.functions.get(name, (0, 0.0))[0] for r in runs)
            total = statistics.median(r.functions.get(name, (0, 0.0))[1] for r in runs)
            parts.append(f"{name.removeprefix(TRIGGER_PREFIX)} {calls:.0f} calls {total:.0f} ms")
        run_ms = _median_ms(r.seconds for r in runs) or 0.0
        print(f"  {operation.key:<18} run {run_ms:.0f} ms: " + "; ".join(parts))


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Capture cost: Odoo operations with their models tracked vs untracked."
    )
    parser.add_argument(
        "--odoo-bin",
        type=Path,
        default=os.environ.get("ODOO_BIN"),
        help="Odoo 18's odoo-bin (default: $ODOO_BIN)",
    )
    parser.add_argument("--db-host", default=os.environ.get("PGHOST"))
    parser.add_argument("--db-port", default=os.environ.get("PGPORT"))
    parser.add_argument("--db-user", default=os.environ.get("PGUSER"))
    parser.add_argument("--db-password", default=os.environ.get("PGPASSWORD"))
    parser.add_argument(
        "--database", default="bench_capture", help="created if missing (default bench_capture)"
    )
    parser.add_argument(
        "--addons-path",
        help="Odoo's addons path (default: odoo-bin's addons, odoo/addons and this checkout's"
        " addons)",
    )
    parser.add_argument("--data-dir", help="Odoo's data dir (default: Odoo's own default)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds, each mode once per round")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per operation, mode and round"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs before them (after a mode switch)"
    )
    parser.add_argument(
        "--profile-runs",
        type=int,
        default=3,
        help="extra tracked runs per operation with track_functions = all (0: none)",
    )
    parser.add_argument(
        "--operations",
        default=",".join(o.key for o in OPERATIONS),
        help="comma-separated subset of: " + ", ".join(o.key for o in OPERATIONS),
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.odoo_bin is None:
        raise SystemExit("give --odoo-bin or set ODOO_BIN (Odoo 18's odoo-bin)")
    if args.addons_path is None:
        root = args.odoo_bin.resolve().parent
        args.addons_path = ",".join(
            str(p) for p in (root / "addons", root / "odoo" / "addons", REPO / "addons")
        )
    wanted = {key.strip() for key in args.operations.split(",")}
    operations = [o for o in OPERATIONS if o.key in wanted]
    began = time.perf_counter()

    _import_odoo(args.odoo_bin)
    odoo.tools.config.parse_config([*_odoo_flags(args), "--log-level=warn"])
    _ensure_database(args)
    registry = odoo.modules.registry.Registry(args.database)
    missing = [m for m in (*TRACKED_MODELS, "webhook.tracked.model") if m not in registry]
    if missing:
        raise SystemExit(
            f"{args.database} lacks {', '.join(missing)}: install {MODULES} in it, or drop it"
            " and let this script create it"
        )
    with _environment(registry, commit=False) as env:
        env.cr.execute("SHOW server_version")
        pg_version = env.cr.fetchone()[0]
    print(
        f"bench_capture: {os.cpu_count()} CPUs ({_cpu_model()}), Python"
        f" {platform.python_version()}, Odoo {odoo.release.version}, PostgreSQL {pg_version},"
        f" database {args.database}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    data = _data(registry)

    samples = {o.key: Samples() for o in OPERATIONS}
    current: bool | None = None
    for round_no in range(args.rounds):
        for index, operation in enumerate(operations):
            s = samples[operation.key]
            first = (round_no + index) % 2 == 0
            for tracked in (first, not first):
                if tracked != current:
                    _set_tracked(registry, tracked)
                    current = tracked
                for _ in range(args.warmup):
                    _run(registry, operation, data)
                s.slots(tracked).append(
                    [_run(registry, operation, data) for _ in range(args.repeat)]
                )
        print(
            f"  round {round_no + 1}/{args.rounds}, ms untracked/tracked: "
            + ", ".join(
                f"{o.key} {_median_ms(r.seconds for r in samples[o.key].untracked[-1]):.0f}"
                f"/{_median_ms(r.seconds for r in samples[o.key].tracked[-1]):.0f}"
                for o in operations
            )
            + f"; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    if args.profile_runs:
        _set_tracked(registry, True)
        for operation in operations:
            for _ in range(args.profile_runs):
                samples[operation.key].profiled.append(
                    _run(registry, operation, data, profile=True)
                )

    _print_results(operations, samples)
    _print_profile(operations, samples)
    print(
        f"\n{args.rounds} rounds; in each, per operation and mode (order alternating),"
        f" {args.warmup} warm-up and {args.repeat} timed run(s); load average"
        f" {os.getloadavg()[0]:.2f}; total time"
        f" {time.perf_counter() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
