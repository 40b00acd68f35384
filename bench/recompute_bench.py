"""The beat's recompute of 1,000,000 contracts: `billing.recompute.contracts_recompute`.

    .venv/bin/python bench/recompute_bench.py [--contracts 1000000] [--sample 20000]
        [--repeat 1] [--chunk-sizes 1000,20000] [--no-hook] [--explain] [--profile FILE]
        [--check] [--keep]

PostgreSQL only. The bench creates a database of its own, `antena_bench_recompute`, on the
server of BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test, used only to
create and drop it), migrates it and drops it at the end; Redis databases 10 (broker) and
11 (cache) of REDIS_BENCH_URL's server (default redis://127.0.0.1:6379) are emptied before
and after. Settings: `portal.settings.production` (DEBUG off, no query logging; SECRET_KEY,
FIELD_ENCRYPTION_KEY and ALLOWED_HOSTS are bench-only values), LOG_LEVEL=WARNING,
RECOMPUTE_CHUNK_SIZE at its default (5000) unless --chunk-sizes adds runs with others.

Set-up (timed apart, not part of any figure): one ISP `111` (America/Mexico_City, grace 0
days, a network webhook unless --no-hook, so every change also writes its NetworkDelivery
as in production; the outbox hands the sending to Redis, where no worker takes it) with a
zone, two plans and `--contracts` contracts, three 30-day service periods each, written by
COPY (foreign-key triggers off while loading); then VACUUM ANALYZE, as autovacuum leaves a
live table, and a CHECKPOINT. Dates are relative to today on the ISP's calendar. Per 1,000
contracts:

    50  credit ran out (vigencia today or in the last 29 days): must be suspended
    20  suspended, a new period running today (credit came back): must be reactivated
    10  a period of the other plan starts today: plan switch
    40  suspended long ago, no credit: unchanged
     5  no credit but a payment promise in force: stay active, unchanged
    10  cancelled: never touched
   865  active with credit: unchanged; one in 3,000 of all contracts is held by staff
        (ServiceHold in force, suspended, unchanged), as many more had a hold lifted

Measured, in this order:

(1) Peak RSS (VmHWM) of a child process that does django.setup() and one query: the
    baseline for (2)'s.
(2) The full run: a child process, set up as a Celery worker process is (django.setup(),
    gc.freeze()), runs `contracts_recompute(provider=…)` once on all contracts and reports
    its wall time, its CPU (time.process_time()), its PostgreSQL backend's CPU
    (/proc/<pg_backend_pid()>/stat), the changes recorded, a split of the wall time by
    step (lock, facts, update, insert of changes, network deliveries, commit with its
    deferred foreign-key checks, the outbox's hand-off to Redis, and the rest: deciding
    and building rows) and its peak RSS. The result is checked against the seed:
    counts by status, changes by event, plans switched, vigencias moved, deliveries.
(3) The steady state: a second such child, which must record 0 changes. That is what the
    beat pays every five minutes.
    With --repeat K, the contracts are put back as seeded and (2) and (3) run K times.
(4) Same-run baselines: a pure-Python loop; SELECT count(*) over the contracts and over
    the service periods; the chunk loop with nothing in it (ids only, no lock) and with
    only `_chunk_locked` (the ids locked, chunk by chunk, one transaction each).
(5) EXPLAIN (ANALYZE, BUFFERS) of `_chunk_facts` on one chunk from the middle (the plan is
    printed with --explain).
(6) Speed-up over a per-row ORM loop: two more ISPs (`222`, `333`, no webhook) with
    `--sample` contracts each, seeded alike; `contracts_recompute` on one, on the other the
    loop a developer would write without the set-based design (per contract: max(ends_on)
    of its periods, the period running today, whether a hold is in force,
    `service_decide`, then `save()` and a ServiceChange per change, one transaction per
    changed contract). Both end with the same contracts and changes (checked).

--profile FILE writes a cProfile of one more full run (after putting the contracts back)
to FILE. --keep leaves the database (with `bench_seed`, the contracts as seeded) for more
EXPLAIN work: drop it afterwards. --check exits 1 when a goal is missed: full run ≤ 15 s,
speed-up ≥ 25×, peak RSS ≤ 200 MB.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "antena_bench_recompute"
GOAL_FULL_S = 15.0
GOAL_SPEEDUP = 25.0
GOAL_RSS_MB = 200.0
TICKS = os.sysconf("SC_CLK_TCK")

# The mix, per 1,000 contracts (see the docstring).
RAN_OUT, CREDIT_BACK, PLAN_SWITCH, SUSPENDED, PROMISE, CANCELLED, ACTIVE = (
    "ran_out",
    "credit_back",
    "plan_switch",
    "suspended",
    "promise",
    "cancelled",
    "active",
)
_BUCKETS = [
    (50, RAN_OUT),
    (70, CREDIT_BACK),
    (80, PLAN_SWITCH),
    (120, SUSPENDED),
    (125, PROMISE),
    (135, CANCELLED),
    (1000, ACTIVE),
]
# The contract's i → its place in its block of 1,000, shuffled (919 is prime to 1,000).
_SHUFFLE = 919


# --- set-up ---------------------------------------------------------------------------


def _configure(*, database_url: str, redis_server: str) -> None:
    """Environment read by portal.settings.production, set before Django starts (and
    passed on to the children)."""
    sys.path.insert(0, str(REPO))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-only-" + "x" * 50,
            # A fixed Fernet key (32 bytes, url-safe base64): required under production.
            "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1iZW5jaC1vbmx5LWJlbmNoLW9ubHk=",
            "ALLOWED_HOSTS": "127.0.0.1",
            "REDIS_URL": f"{redis_server}/10",
            "CACHE_URL": f"{redis_server}/11",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("DEBUG", None)


def _redis_flush(redis_server: str) -> None:
    import redis

    for number in (10, 11):
        redis.Redis.from_url(f"{redis_server}/{number}").flushdb()


def _postgres_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        db.execute(sql)


def _category(i: int) -> str:
    r = (i * _SHUFFLE) % 1000
    for bound, name in _BUCKETS:
        if r < bound:
            return name
    raise AssertionError(r)


def _hold(i: int) -> str | None:
    """'force' for one in 3,000 contracts (all active with credit), 'lifted' for as many."""
    if (i // 1000) % 3:
        return None
    r = (i * _SHUFFLE) % 1000
    return {999: "force", 998: "lifted"}.get(r)


class _Ids:
    """The ids given by the seed (COPY takes them as given; the sequences follow after)."""

    contract = 0
    period = 0
    hold = 0


def _three_periods(end: int, plan: int) -> list[tuple[int, int, int]]:
    """Three 30-day periods of one plan ending `end` days from today, end to end."""
    return [(end - 90, end - 60, plan), (end - 60, end - 30, plan), (end - 30, end, plan)]


def _seed_provider(*, code: str, count: int, today: datetime.date, now, hook: bool) -> dict:
    """One ISP and its contracts, periods and holds, by COPY; returns what the recompute
    must end with."""
    from decimal import Decimal

    from django.db import connection

    from accounts.models import Provider
    from billing.models import NetworkHook
    from plans.models import Plan, Zone

    provider = Provider.objects.create(
        code=code,
        name=f"ISP {code}",
        handle_domain=f"isp{code}",
        country="MX",
        currency="MXN",
        locale="es_MX",
        time_zone="America/Mexico_City",
    )
    zone = Zone.objects.create(provider=provider, name="Centro")
    plans = [
        Plan.objects.create(
            provider=provider,
            name=name,
            download_mbps=mbps,
            upload_mbps=mbps // 5,
            price=Decimal(price),
            period_days=30,
        )
        for name, mbps, price in (("Plan 10 Mb", 10, "250.00"), ("Plan 30 Mb", 30, "450.00"))
    ]
    for plan in plans:
        plan.zones.add(zone)
    if hook:
        network_hook = NetworkHook(provider=provider, url="https://red.example.invalid/antena")
        network_hook.secret = "whsec_" + "A" * 43 + "="
        network_hook.save()

    day_text: dict[int, str] = {}

    def day(offset: int) -> str:
        text = day_text.get(offset)
        if text is None:
            text = day_text[offset] = (today + datetime.timedelta(days=offset)).isoformat()
        return text

    stamp = now.isoformat()
    expected = dict.fromkeys(
        (RAN_OUT, CREDIT_BACK, PLAN_SWITCH, SUSPENDED, PROMISE, CANCELLED, ACTIVE), 0
    )
    expected.update(held=0, lifted=0)
    contracts_text: list[str] = []
    periods_text: list[str] = []
    holds_text: list[str] = []
    first_id = _Ids.contract + 1

    def flush(cursor, final: bool = False) -> None:
        if len(contracts_text) < 20_000 and not final:
            return
        with cursor.copy(
            "COPY accounts_contract (id, provider_id, number, holder_name,"
            " installation_address, phone, email, zone_id, plan_id, billing_mode, paid_until,"
            " status, ip_address, user_id, promise_until, claimed_at, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            copy.write("".join(contracts_text))
        with cursor.copy(
            "COPY billing_serviceperiod (id, contract_id, plan_id, starts_on, ends_on,"
            " paid_by_id, description, created_at) FROM STDIN"
        ) as copy:
            copy.write("".join(periods_text))
        if holds_text:
            with cursor.copy(
                "COPY billing_servicehold (id, contract_id, reason, created_by_id, created_at,"
                " lifted_at, lifted_by_id) FROM STDIN"
            ) as copy:
                copy.write("".join(holds_text))
        contracts_text.clear()
        periods_text.clear()
        holds_text.clear()

    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        for i in range(count):
            _Ids.contract += 1
            cid = _Ids.contract
            kind = _category(i)
            expected[kind] += 1
            mine, other = (plans[0].pk, plans[1].pk) if i % 2 == 0 else (plans[1].pk, plans[0].pk)
            promise = "\\N"
            status = "active"
            plan = mine
            if kind == ACTIVE:
                end = 1 + i % 30
                spans = _three_periods(end, mine)
                paid = end
            elif kind == RAN_OUT:
                end = -(i % 30)
                spans = _three_periods(end, mine)
                paid = end
            elif kind == CREDIT_BACK:
                old = -5 - i % 20
                new = -(i % 3)
                spans = [(old - 60, old - 30, mine), (old - 30, old, mine), (new, new + 30, mine)]
                paid = old
                status = "suspended"
            elif kind == PLAN_SWITCH:
                spans = [(-60, -30, mine), (-30, 0, mine), (0, 30, other)]
                paid = 30
            elif kind == SUSPENDED:
                end = -40 - i % 60
                spans = _three_periods(end, mine)
                paid = end
                status = "suspended"
            elif kind == PROMISE:
                end = -1 - i % 3
                spans = _three_periods(end, mine)
                paid = end
                promise = day(i % 3)
            else:  # CANCELLED
                end = -100 - i % 100
                spans = _three_periods(end, mine)
                paid = end
                status = "cancelled"
            hold = _hold(i) if kind == ACTIVE else None
            if hold:
                _Ids.hold += 1
                if hold == "force":
                    status = "suspended"
                    expected["held"] += 1
                    lifted = "\\N"
                else:
                    expected["lifted"] += 1
                    lifted = stamp
                holds_text.append(
                    f"{_Ids.hold}\t{cid}\tFalla en la antena\t\\N\t{stamp}\t{lifted}\t\\N\n"
                )
            contracts_text.append(
                f"{cid}\t{provider.pk}\t{1_000_000 + i}\tAbonado {i}\tCalle {i % 500} #{i % 97}"
                f"\t+5255{i % 100_000_000:08d}\t\t{zone.pk}\t{plan}\tprepaid\t{day(paid)}"
                f"\t{status}\t10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\t\\N\t{promise}"
                f"\t\\N\t{stamp}\t{stamp}\n"
            )
            for start, end, span_plan in spans:
                _Ids.period += 1
                periods_text.append(
                    f"{_Ids.period}\t{cid}\t{span_plan}\t{day(start)}\t{day(end)}\t\\N"
                    f"\tPago de servicio\t{stamp}\n"
                )
            flush(cursor)
        flush(cursor, final=True)

    changes = expected[RAN_OUT] + expected[CREDIT_BACK] + expected[PLAN_SWITCH]
    return {
        "provider_id": provider.pk,
        "code": code,
        "count": count,
        "first_id": first_id,
        "mix": expected,
        "changes": changes,
        "suspended": expected[SUSPENDED] + expected[RAN_OUT] + expected["held"],
        "cancelled": expected[CANCELLED],
        "active": count
        - expected[SUSPENDED]
        - expected[RAN_OUT]
        - expected["held"]
        - expected[CANCELLED],
        "hook": hook,
    }


def _seed(args, *, now) -> tuple[dict, dict, dict]:
    import zoneinfo

    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate(now, timezone=zoneinfo.ZoneInfo("America/Mexico_City"))
    with connection.cursor() as cursor:
        # The rows are consistent by construction: no foreign-key trigger per row.
        cursor.execute("SET session_replication_role = replica")
        try:
            main = _seed_provider(
                code="111", count=args.contracts, today=today, now=now, hook=not args.no_hook
            )
            setwise, naive = (
                _seed_provider(code=code, count=args.sample, today=today, now=now, hook=False)
                for code in ("222", "333")
            )
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
        for table in ("accounts_contract", "billing_serviceperiod", "billing_servicehold"):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM "  # noqa: S608
                f"{table}))",
                [table],
            )
        # What the recompute ends with is checked against this, and --repeat puts it back.
        cursor.execute(
            "CREATE TABLE bench_seed AS SELECT id, status, plan_id, paid_until, updated_at"
            " FROM accounts_contract"
        )
        cursor.execute("ALTER TABLE bench_seed ADD PRIMARY KEY (id)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    _checkpoint()
    return main, setwise, naive


def _checkpoint() -> None:
    """Write out what the set-up dirtied, so that the timed run after it does not pay for
    a checkpoint the set-up's WAL called for (the bench's database is the server's only
    busy one; PostgreSQL 15 needs a superuser or pg_checkpoint for this)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def _contracts_reset(provider_id: int) -> int:
    """Put the ISP's contracts back as seeded (the service changes stay: append-only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_contract c SET status = s.status, plan_id = s.plan_id,"
            " paid_until = s.paid_until, updated_at = s.updated_at FROM bench_seed s"
            " WHERE c.id = s.id AND c.provider_id = %s AND (c.status, c.plan_id, c.paid_until)"
            " IS DISTINCT FROM (s.status, s.plan_id, s.paid_until)",
            [provider_id],
        )
        reset = cursor.rowcount
        cursor.execute("VACUUM ANALYZE accounts_contract")
    _checkpoint()
    return reset


# --- measuring ------------------------------------------------------------------------


def _server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far (same machine only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def _memory_mb(name: str) -> float:
    """VmHWM (peak) or VmRSS of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(name)


class _Timed:
    """Wall time, CPU here and CPU of the PostgreSQL backend over a block."""

    def __enter__(self):
        self.server_before = _server_cpu_seconds()
        self.cpu_before = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu_before
        after = _server_cpu_seconds()
        self.server = after - self.server_before if self.server_before is not None else None


def _split_recorder():
    """Wrap the recompute's steps to add up the wall time each takes (about 1,000 calls
    in a run of 1,000,000 contracts: the wrapping costs nothing measurable)."""
    from django.db import connection

    from billing import network, recompute
    from core import outbox

    spent: dict[str, float] = {}

    def wrapped(module, name: str, label: str) -> None:
        original = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)

    wrapped(recompute, "_chunk_locked", "lock")
    wrapped(recompute, "_chunk_facts", "facts")
    wrapped(recompute, "rows_update", "update")
    wrapped(recompute, "rows_insert", "insert changes")
    wrapped(network, "network_deliveries_new", "deliveries")
    # The commit runs the deferred foreign-key checks of every row written and waits for
    # the WAL flush; after it, the outbox hands the sending to Redis.
    wrapped(connection, "commit", "commit")
    wrapped(outbox, "outbox_publish", "outbox publish")
    return spent


def _child(args) -> int:
    """One process, set up as a Celery worker process is, that runs the recompute once (or
    only a trivial query) and prints its figures as JSON."""
    import gc

    import django

    django.setup()

    from django.db import connection

    from accounts.models import Provider
    from billing.recompute import contracts_recompute

    if args.child == "baseline":
        Provider.objects.exists()
        print("RESULT " + json.dumps({"hwm": _memory_mb("VmHWM"), "rss": _memory_mb("VmRSS")}))
        return 0

    spent = _split_recorder()
    provider = Provider.objects.get(code=args.provider)
    connection.cursor().execute("SELECT 1")
    gc.freeze()  # portal.celery: a worker process leaves what it loaded out of collections
    now = datetime.datetime.fromisoformat(args.now)
    rss_before = _memory_mb("VmRSS")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with _Timed() as timed:
        if profiler:
            profiler.enable()
        changes = contracts_recompute(provider=provider, now=now)
        if profiler:
            profiler.disable()
    if profiler:
        profiler.dump_stats(args.profile)
    from django.conf import settings

    print(
        "RESULT "
        + json.dumps(
            {
                "wall": timed.wall,
                "cpu": timed.cpu,
                "server": timed.server,
                "changes": changes,
                "split": spent,
                "rss_before": rss_before,
                "hwm": _memory_mb("VmHWM"),
                "chunk": settings.RECOMPUTE_CHUNK_SIZE,
            }
        )
    )
    return 0


def _child_run(
    mode: str, *, provider: str = "", now=None, profile: str = "", chunk: int | None = None
) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    if provider:
        command += ["--provider", provider, "--now", now.isoformat()]
    if profile:
        command += ["--profile", profile]
    env = os.environ.copy()
    if chunk:
        env["RECOMPUTE_CHUNK_SIZE"] = str(chunk)
    out = subprocess.run(  # noqa: S603
        command, cwd=REPO, env=env, check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[-1].removeprefix("RESULT "))


def _state(provider_id: int) -> dict:
    """What the recompute left: contracts by status, changes by event, and against the
    seed, plans switched and vigencias moved."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, count(*) FROM accounts_contract WHERE provider_id = %s GROUP BY 1",
            [provider_id],
        )
        state = {f"status {status}": count for status, count in cursor.fetchall()}
        cursor.execute(
            "SELECT event, count(*) FROM billing_servicechange WHERE provider_id = %s GROUP BY 1",
            [provider_id],
        )
        state |= {f"event {event}": count for event, count in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*) FILTER (WHERE c.plan_id <> s.plan_id),"
            " count(*) FILTER (WHERE c.paid_until IS DISTINCT FROM s.paid_until)"
            " FROM accounts_contract c JOIN bench_seed s USING (id) WHERE c.provider_id = %s",
            [provider_id],
        )
        state["plans switched"], state["vigencias moved"] = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM billing_networkdelivery WHERE provider_id = %s", [provider_id]
        )
        (state["deliveries"],) = cursor.fetchone()
    return state


def _check_first(seed: dict, state: dict, changes: int, *, before: dict) -> None:
    """The first run against the seed: every contract ends as its category says."""
    mix = seed["mix"]

    def new(key: str) -> int:
        return state.get(key, 0) - before.get(key, 0)

    expected = {
        "changes returned": (changes, seed["changes"]),
        "status active": (state.get("status active", 0), seed["active"]),
        "status suspended": (state.get("status suspended", 0), seed["suspended"]),
        "status cancelled": (state.get("status cancelled", 0), seed["cancelled"]),
        "suspensions recorded": (new("event contract.suspended"), mix[RAN_OUT]),
        "reactivations recorded": (new("event contract.reactivated"), mix[CREDIT_BACK]),
        "plan changes recorded": (new("event contract.plan_changed"), mix[PLAN_SWITCH]),
        "plans switched": (state["plans switched"], mix[PLAN_SWITCH]),
        "vigencias moved": (state["vigencias moved"], mix[CREDIT_BACK]),
        "deliveries": (new("deliveries"), seed["changes"] if seed["hook"] else 0),
    }
    wrong = {name: pair for name, pair in expected.items() if pair[0] != pair[1]}
    if wrong:
        raise SystemExit(f"the recompute of {seed['code']} is wrong (got, expected): {wrong}")


def _chunk_loops(provider_id: int) -> tuple[float, float, int]:
    """The recompute's loop with nothing in it: ids only, then ids locked."""
    from django.conf import settings
    from django.db import transaction

    from accounts.models import Contract, Provider
    from billing.recompute import _chunk_locked

    provider = Provider.objects.get(pk=provider_id)
    size = settings.RECOMPUTE_CHUNK_SIZE
    started = time.perf_counter()
    after, chunks = 0, 0
    while True:
        with transaction.atomic():
            ids = list(
                Contract.objects.filter(provider=provider, pk__gt=after)
                .exclude(status=Contract.Status.CANCELLED)
                .order_by("pk")
                .values_list("pk", flat=True)[:size]
            )
        if not ids:
            break
        chunks += 1
        after = ids[-1]
    plain = time.perf_counter() - started
    started = time.perf_counter()
    after = 0
    while True:
        with transaction.atomic():
            rows = _chunk_locked(provider=provider, after=after, contract_ids=None)
        if not rows:
            break
        after = rows[-1][0]
    locked = time.perf_counter() - started
    return plain, locked, chunks


def _median_seconds(sql: str, runs: int = 3) -> float:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        cursor.execute(sql)  # warm
        cursor.fetchall()
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _python_loop_seconds() -> float:
    started = time.perf_counter()
    total = 0
    for number in range(3_000_000):
        total += number * number % 7
    assert total > 0
    return time.perf_counter() - started


def _explain_facts(seed: dict, *, now) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) of `_chunk_facts` on the chunk starting in the middle."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Provider
    from billing.recompute import _chunk_facts, _chunk_locked

    provider = Provider.objects.get(pk=seed["provider_id"])
    today = timezone.localdate(now, timezone=provider.tzinfo)
    captured = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with transaction.atomic():
        rows = _chunk_locked(
            provider=provider, after=seed["first_id"] + seed["count"] // 2, contract_ids=None
        )
        assert len(rows) == settings.RECOMPUTE_CHUNK_SIZE, len(rows)
        with connection.execute_wrapper(capture):
            _chunk_facts(rows=rows, today=today, sparse=False)
        plans, execution = [], 0.0
        with connection.cursor() as cursor:
            for sql, params in captured:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                plans.append(plan)
                execution += float(plan.rsplit("Execution Time: ", 1)[1].split()[0]) / 1000
    return "\n\n".join(plans), execution


def _naive_recompute(provider, *, now) -> int:
    """What a developer writes without the set-based design: everything per contract."""
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from accounts.models import Contract
    from billing.models import ServiceChange, ServiceHold, ServicePeriod
    from billing.recompute import Facts, service_decide

    today = timezone.localdate(now, timezone=provider.tzinfo)
    changes = 0
    contracts = (
        Contract.objects.filter(provider=provider)
        .exclude(status=Contract.Status.CANCELLED)
        .order_by("pk")
    )
    for contract in contracts.iterator(chunk_size=2000):
        periods = ServicePeriod.objects.filter(contract=contract)
        periods_end = periods.aggregate(end=Max("ends_on"))["end"]
        running = (
            periods.filter(starts_on__lte=today, ends_on__gt=today)
            .order_by("-starts_on", "-pk")
            .first()
        )
        held = ServiceHold.objects.filter(contract=contract, lifted_at=None).exists()
        facts = Facts(
            contract_id=contract.pk,
            billing_mode=contract.billing_mode,
            status=contract.status,
            plan_id=contract.plan_id,
            paid_until=contract.paid_until,
            promise_until=contract.promise_until,
            periods_end=periods_end,
            plan_today=running.plan_id if running else None,
            held=held,
        )
        decision = service_decide(facts, today=today, grace_days=provider.grace_days)
        if (contract.paid_until, contract.plan_id, contract.status) == (
            decision.paid_until,
            decision.plan_id,
            decision.status,
        ):
            continue
        with transaction.atomic():
            if decision.status != contract.status:
                ServiceChange.objects.create(
                    provider=provider,
                    contract=contract,
                    event=(
                        ServiceChange.Event.SUSPENDED
                        if decision.status == Contract.Status.SUSPENDED
                        else ServiceChange.Event.REACTIVATED
                    ),
                    reason=decision.status_reason,
                    status_from=contract.status,
                    status_to=decision.status,
                    plan_from_id=contract.plan_id,
                    plan_to_id=decision.plan_id,
                    paid_until=decision.paid_until,
                    created_at=now,
                )
                changes += 1
            if decision.plan_id != contract.plan_id:
                ServiceChange.objects.create(
                    provider=provider,
                    contract=contract,
                    event=ServiceChange.Event.PLAN_CHANGED,
                    reason=ServiceChange.Reason.PLAN,
                    status_from=contract.status,
                    status_to=decision.status,
                    plan_from_id=contract.plan_id,
                    plan_to_id=decision.plan_id,
                    paid_until=decision.paid_until,
                    created_at=now,
                )
                changes += 1
            contract.paid_until = decision.paid_until
            contract.plan_id = decision.plan_id
            contract.status = decision.status
            contract.save()
    return changes


def _contracts_as_seen(provider_id: int) -> list[tuple]:
    """Each contract's number, status, plan name and vigencia: what both loops must leave."""
    from accounts.models import Contract

    return list(
        Contract.objects.filter(provider_id=provider_id)
        .order_by("number")
        .values_list("number", "status", "plan__name", "paid_until")
    )


def _changes_as_seen(provider_id: int) -> list[tuple]:
    from billing.models import ServiceChange

    return sorted(
        ServiceChange.objects.filter(provider_id=provider_id).values_list(
            "contract__number",
            "event",
            "reason",
            "status_from",
            "status_to",
            "plan_from__name",
            "plan_to__name",
            "paid_until",
        )
    )


def _machine() -> dict:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "arch": platform.machine(),
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


# --- the run --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="contracts per ORM-loop ISP")
    parser.add_argument("--repeat", type=int, default=1, help="full and steady runs, K times")
    parser.add_argument(
        "--chunk-sizes", default="", help="comma-separated RECOMPUTE_CHUNK_SIZE to also run"
    )
    parser.add_argument("--no-hook", action="store_true", help="ISP 111 without a webhook")
    parser.add_argument("--explain", action="store_true", help="print the facts query's plan")
    parser.add_argument("--profile", metavar="FILE", help="cProfile of one more full run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--keep", action="store_true", help="leave the database for EXPLAIN work (drop it yourself)"
    )
    parser.add_argument("--child", choices=["baseline", "recompute"], help=argparse.SUPPRESS)
    parser.add_argument("--provider", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        sys.path.insert(0, str(REPO))
        return _child(args)

    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    redis_server = os.environ.get("REDIS_BENCH_URL", "redis://127.0.0.1:6379").rstrip("/")
    _postgres_admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
    _postgres_admin(admin_url, f"CREATE DATABASE {BENCH_DATABASE}")
    _configure(
        database_url=admin_url.rsplit("/", 1)[0] + "/" + BENCH_DATABASE, redis_server=redis_server
    )
    _redis_flush(redis_server)
    try:
        return _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: {os.environ['DATABASE_URL']} (DROP DATABASE {BENCH_DATABASE})")
        else:
            _postgres_admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        _redis_flush(redis_server)


def _run(args) -> int:
    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Provider
    from billing.recompute import contracts_recompute

    assert settings.DATABASES["default"]["NAME"] == BENCH_DATABASE
    assert not settings.DEBUG
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    now = timezone.now()
    machine = _machine()

    started = time.perf_counter()
    seed, setwise_seed, naive_seed = _seed(args, now=now)
    setup_s = time.perf_counter() - started
    count = args.contracts
    print(
        f"set-up: {count:,} + 2 × {args.sample:,} contracts, 3 periods each, "
        f"{seed['mix']['held']} holds in force, by COPY and VACUUM ANALYZE: {setup_s:.1f} s",
        flush=True,
    )

    # (4) baselines that read only, on the tables as seeded.
    python_s = _python_loop_seconds()
    count_contracts_s = _median_seconds("SELECT count(*) FROM accounts_contract")
    count_periods_s = _median_seconds("SELECT count(*) FROM billing_serviceperiod")

    # (1) peak RSS of a process that only starts.
    baseline = _child_run("baseline")

    # (2) and (3), --repeat times.
    runs = []
    for repeat in range(args.repeat):
        if repeat:
            _contracts_reset(seed["provider_id"])
        before = _state(seed["provider_id"])
        first = _child_run("recompute", provider="111", now=now)
        _check_first(seed, _state(seed["provider_id"]), first["changes"], before=before)
        steady = _child_run("recompute", provider="111", now=now)
        if steady["changes"]:
            raise SystemExit(f"the second run recorded {steady['changes']} changes, not 0")
        runs.append((first, steady))
        print(
            f"run {repeat + 1}: full {first['wall']:.1f} s, steady {steady['wall']:.1f} s",
            flush=True,
        )

    variations = []
    for size in (int(s) for s in args.chunk_sizes.split(",") if s.strip()):
        _contracts_reset(seed["provider_id"])
        before = _state(seed["provider_id"])
        first = _child_run("recompute", provider="111", now=now, chunk=size)
        _check_first(seed, _state(seed["provider_id"]), first["changes"], before=before)
        steady = _child_run("recompute", provider="111", now=now, chunk=size)
        assert steady["changes"] == 0, steady
        variations.append((size, first, steady))

    if args.profile:
        _contracts_reset(seed["provider_id"])
        profiled = _child_run("recompute", provider="111", now=now, profile=args.profile)
        print(f"cProfile of a full run ({profiled['wall']:.1f} s profiled) in {args.profile}")

    # (4) the chunk loop with nothing in it; (5) the facts query's plan.
    plain_loop_s, locked_loop_s, chunks = _chunk_loops(seed["provider_id"])
    plan, facts_s = _explain_facts(seed, now=now)

    # (6) set-based against the per-row loop, on two ISPs seeded alike.
    setwise_provider = Provider.objects.get(pk=setwise_seed["provider_id"])
    naive_provider = Provider.objects.get(pk=naive_seed["provider_id"])
    with _Timed() as setwise:
        setwise_changes = contracts_recompute(provider=setwise_provider, now=now)
    _check_first(setwise_seed, _state(setwise_seed["provider_id"]), setwise_changes, before={})
    with _Timed() as naive:
        naive_changes = _naive_recompute(naive_provider, now=now)
    assert naive_changes == setwise_changes, (naive_changes, setwise_changes)
    assert _contracts_as_seen(naive_seed["provider_id"]) == _contracts_as_seen(
        setwise_seed["provider_id"]
    )
    assert _changes_as_seen(naive_seed["provider_id"]) == _changes_as_seen(
        setwise_seed["provider_id"]
    )
    speedup = naive.wall / setwise.wall

    # --- the report ---
    print()
    print(
        f"Recompute — {count:,} contracts, {timezone.localdate(now).isoformat()}, "
        f"{machine['arch']}, {machine['nproc']} CPUs ({machine['cpu']}), "
        f"{machine['memory']} GiB, PostgreSQL {server_version}, Python "
        f"{sys.version.split()[0]}"
    )
    print(
        f"settings: portal.settings.production (DEBUG off), RECOMPUTE_CHUNK_SIZE "
        f"{settings.RECOMPUTE_CHUNK_SIZE}, ISP 111 {'with' if seed['hook'] else 'without'} a "
        f"network webhook; mix: {json.dumps(seed['mix'])}"
    )
    print(f"set-up (not timed below): {setup_s:.1f} s")
    header = (
        f"{'measurement':<40} {'seconds':>8} {'contracts/s':>12} {'CPU here':>9} "
        f"{'CPU db':>8} {'µs CPU/contract':>16} {'changes':>8} {'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))

    def row(name, wall, cpu, server, changes, hwm, n=count):
        total_cpu = cpu + (server or 0)
        server_text = f"{server:>7.1f}s" if server is not None else f"{'':>8}"
        hwm_text = f"{hwm:>6.0f} MB" if hwm is not None else f"{'':>9}"
        print(
            f"{name:<40} {wall:>8.2f} {n / wall:>12,.0f} {cpu:>8.1f}s {server_text} "
            f"{total_cpu * 1e6 / n:>16.1f} {changes:>8,} {hwm_text}"
        )

    missed = []
    for number, (first, steady) in enumerate(runs, start=1):
        suffix = f" ({number})" if len(runs) > 1 else ""
        row(
            f"(2) full run{suffix}",
            first["wall"],
            first["cpu"],
            first["server"],
            first["changes"],
            first["hwm"],
        )
        row(
            f"(3) steady state, 0 changes{suffix}",
            steady["wall"],
            steady["cpu"],
            steady["server"],
            steady["changes"],
            steady["hwm"],
        )
        if first["wall"] > GOAL_FULL_S:
            missed.append(f"full run {first['wall']:.1f} s > {GOAL_FULL_S:.0f} s")
        if first["hwm"] > GOAL_RSS_MB:
            missed.append(f"peak RSS {first['hwm']:.0f} MB > {GOAL_RSS_MB:.0f} MB")
    for size, first, steady in variations:
        row(
            f"(2) full run, chunk {size}",
            first["wall"],
            first["cpu"],
            first["server"],
            first["changes"],
            first["hwm"],
        )
        row(
            f"(3) steady state, chunk {size}",
            steady["wall"],
            steady["cpu"],
            steady["server"],
            steady["changes"],
            steady["hwm"],
        )
    row(
        f"(6) set-based, {args.sample:,} contracts",
        setwise.wall,
        setwise.cpu,
        setwise.server,
        setwise_changes,
        None,
        n=args.sample,
    )
    row(
        f"(6) per-row ORM loop, {args.sample:,}",
        naive.wall,
        naive.cpu,
        naive.server,
        naive_changes,
        None,
        n=args.sample,
    )
    print()
    first, steady = runs[0]
    print(
        f"(1) peak RSS: django.setup() and one query {baseline['hwm']:.0f} MB; full run "
        f"{first['hwm']:.0f} MB (RSS {first['rss_before']:.0f} MB before it), steady state "
        f"{steady['hwm']:.0f} MB; goal ≤ {GOAL_RSS_MB:.0f} MB"
    )
    for label, result in (("full run", first), ("steady state", steady)):
        split = result["split"]
        other = result["wall"] - sum(split.values())
        parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in split.items())
        print(f"    split of the {label} (s): {parts}, the rest (deciding, rows) {other:.2f}")
    print(
        f"(6) speed-up over the per-row ORM loop: {speedup:.1f}× wall "
        f"({naive.wall:.1f} s / {setwise.wall:.2f} s), "
        f"{(naive.cpu + (naive.server or 0)) / (setwise.cpu + (setwise.server or 0)):.1f}× "
        f"CPU (here + db); goal ≥ {GOAL_SPEEDUP:.0f}×"
    )
    if speedup < GOAL_SPEEDUP:
        missed.append(f"speed-up {speedup:.1f}× < {GOAL_SPEEDUP:.0f}×")
    print("(4) baselines, this run:")
    print(f"    pure-Python loop of 3,000,000 steps: {python_s:.2f} s")
    print(
        f"    SELECT count(*) FROM accounts_contract ({count + 2 * args.sample:,} rows): "
        f"{count_contracts_s * 1000:.0f} ms; billing_serviceperiod: "
        f"{count_periods_s * 1000:.0f} ms (median of 3, warm)"
    )
    print(
        f"    chunk loop, {chunks} chunks of ids only: {plain_loop_s:.2f} s; the same with "
        f"the ids locked (_chunk_locked): {locked_loop_s:.2f} s"
    )
    print(
        f"(5) _chunk_facts on one chunk of {settings.RECOMPUTE_CHUNK_SIZE}: "
        f"{facts_s * 1000:.0f} ms (EXPLAIN ANALYZE execution time)"
    )
    if args.explain:
        # The chunk's ids, one array literal of thousands of numbers: left out.
        print(re.sub(r"'\{[0-9,]+\}'", "'{…the chunk's ids…}'", plan))
    if missed:
        print("goals missed: " + "; ".join(missed))
    else:
        print("every goal met")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
