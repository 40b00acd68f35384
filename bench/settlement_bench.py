"""Settlement import of 100,000 lines: `payments.settlement.settlement_file_import`.

    .venv/bin/python bench/settlement_bench.py [--lines 100000] [--postgres [--workers N]]
        [--check] [--profile FILE]

SQLite (default): a throw-away file in a temporary directory, never the repository's
db.sqlite3. With --postgres: a database of its own, `antena_settlement_bench`, created on
the server of BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test, used
only to create and drop it) and dropped at the end. Settings: portal.settings.test.

Set-up (not timed): one ISP (MXN, America/Mexico_City), one 30-day plan at $250.00, and
`--lines` prepaid contracts, each with one pending self-issued reference (prefix 111, Luhn
check digit); on PostgreSQL the payments table is then ANALYZEd, as a live one would be.
Then, each timed from the raw bytes to the finished import with its counts:

(a) first import: a generic CSV with one good line per reference, every line credited
    through payments_confirm (ledger, service period, vigencia), 500 lines a transaction;
(b) the same file again: every folio is already spent, nothing is credited;
(c) a file of the same size that matches nothing: 90 % unknown references (unmatched, to
    the review queue) and 10 % bad check digits (invalid).

With --workers N (PostgreSQL and Redis): each import is applied as production applies an
upload, by a real Celery worker of N processes (`celery -A portal worker --concurrency N`,
broker and cache on Redis databases 12 and 13 of REDIS_BENCH_URL's server, default
redis://127.0.0.1:6379), in N parts at once (SETTLEMENT_APPLY_PARTS=N). Each is timed from
the raw bytes (`settlement_file_receive` here, then `settlement_import_queue`) until the
import is finished; the CPU columns are this process and the whole machine (every core,
every process: the worker, PostgreSQL, Redis) over that time. Without it the import runs
here, in this process, as `manage.py import_settlement` runs it.

Also timed alone: reading and checking the file of (a) (parser + line checks), no database.
After (a) and (b) the books are checked: every payment paid once, one payment entry each.
Each row also shows the CPU time of this process and of its PostgreSQL backend, which
other work on the machine stretches less than the wall time.
--check exits 1 when a timed import takes longer than the goal.
"""

import argparse
import contextlib
import datetime
import gc
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL_S = 20.0
BENCH_DATABASE = "antena_settlement_bench"


def _configure(*, database_url: str, media_root: str, workers: int) -> None:
    """Environment read by portal.settings.base, set before Django starts (and passed on
    to the worker)."""
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = media_root  # the imported files are kept there
    os.environ["LOG_LEVEL"] = "WARNING"
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)
    if workers:
        server = os.environ.get("REDIS_BENCH_URL", "redis://127.0.0.1:6379").rstrip("/")
        os.environ["REDIS_URL"] = f"{server}/12"
        os.environ["CACHE_URL"] = f"{server}/13"
        os.environ["SETTLEMENT_APPLY_PARTS"] = str(workers)


def _postgres_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        db.execute(sql)


def _references(count: int) -> list[str]:
    from stdnum import luhn

    bodies = [f"111{number:011d}" for number in range(count)]
    return [body + luhn.calc_check_digit(body) for body in bodies]


def _unknown_references(count: int) -> list[str]:
    """Valid check digits, a prefix no payment of the bench has."""
    from stdnum import luhn

    bodies = [f"999{number:011d}" for number in range(count)]
    return [body + luhn.calc_check_digit(body) for body in bodies]


def _setup(count: int):
    from accounts.models import Contract, Provider
    from payments.models import GatewayAccount, Payment
    from plans.models import Plan, Zone

    provider = Provider.objects.create(
        code="111",
        name="KONA",
        handle_domain="kona",
        country="MX",
        currency="MXN",
        locale="es_MX",
        time_zone="America/Mexico_City",
    )
    GatewayAccount.objects.create(provider=provider, gateway="reference", reference_prefix="111")
    zone = Zone.objects.create(provider=provider, name="Centro")
    plan = Plan.objects.create(
        provider=provider,
        name="Plan Básico",
        download_mbps=10,
        upload_mbps=2,
        price=Decimal("250.00"),
        period_days=30,
    )
    plan.zones.add(zone)
    today = provider.today()
    contracts = Contract.objects.bulk_create(
        (
            Contract(
                provider=provider,
                number=str(100_000 + number),
                holder_name="Abonado de prueba",
                installation_address="Calle 1",
                phone="+525512345678",
                zone=zone,
                plan=plan,
                paid_until=today + datetime.timedelta(days=3),
            )
            for number in range(count)
        ),
        batch_size=2000,
    )
    from django.utils import timezone

    expires_at = timezone.now() + datetime.timedelta(days=3)
    Payment.objects.bulk_create(
        (
            Payment(
                provider=provider,
                contract=contract,
                gateway="reference",
                method="cash",
                plan=plan,
                amount=Decimal("250.00"),
                currency="MXN",
                reference=reference,
                expires_at=expires_at,
            )
            for contract, reference in zip(contracts, _references(count), strict=True)
        ),
        batch_size=2000,
    )
    return provider


def _csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["reference,amount,paid_at,folio", *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far (same machine only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed_import(provider, content: bytes, filename: str, *, profile: str | None = None):
    """The import with its wall time, query count, and CPU time here and in PostgreSQL.

    The CPU times tell what the import costs when other work shares the cores, which
    stretches the wall time but not them (not entirely: shared caches still slow both).
    """
    from django.db import connection

    from payments.settlement import settlement_file_import

    counter = _QueryCounter()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    server_before = _server_cpu_seconds()
    with connection.execute_wrapper(counter):
        cpu_started = time.process_time()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        settlement = settlement_file_import(provider=provider, raw=content, filename=filename)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    if profiler:
        profiler.dump_stats(profile)
    server_after = _server_cpu_seconds()
    server = server_after - server_before if server_before is not None else None
    return settlement, elapsed, counter.count, cpu, server


def _machine_cpu_seconds() -> float:
    """CPU time spent so far by every core on everything (user, nice, system, irq)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _Worker:
    """A real Celery worker of `concurrency` processes on the bench's database."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.process = None

    def __enter__(self):
        import subprocess

        from portal.celery import app

        for url in (os.environ["REDIS_URL"], os.environ["CACHE_URL"]):
            import redis

            redis.Redis.from_url(url).flushdb()
        # The test settings run tasks in-process; here they go to the worker.
        app.conf.task_always_eager = False
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(REPO / ".venv" / "bin" / "celery"),
                "-A",
                "portal",
                "worker",
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=os.environ.copy(),
        )
        for _ in range(300):
            if self.process.poll() is not None:
                raise SystemExit("the Celery worker exited; see its log above")
            if app.control.ping(timeout=0.5):
                return self
        raise SystemExit("the Celery worker did not answer")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _timed_import_workers(provider, content: bytes, filename: str):
    """The import applied by the worker in parts: wall time from the bytes to the
    finished import, queries here, CPU here and of the whole machine."""
    from payments.models import SettlementImport
    from payments.settlement import settlement_file_receive
    from payments.tasks import settlement_import_queue

    machine_before = _machine_cpu_seconds()
    cpu_started = time.process_time()
    started = time.perf_counter()
    settlement = settlement_file_receive(provider=provider, raw=content, filename=filename)
    settlement_import_queue(settlement.pk)
    unfinished = SettlementImport.objects.filter(pk=settlement.pk, finished_at__isnull=True)
    while unfinished.exists():
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    machine = _machine_cpu_seconds() - machine_before
    settlement.refresh_from_db()
    return settlement, elapsed, None, cpu, machine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile of (a) to FILE (it slows (a) down)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="apply each import in a real Celery worker of N processes, in N parts",
    )
    args = parser.parse_args()
    if args.workers and not args.postgres:
        parser.error("--workers needs --postgres")
    if args.workers and args.profile:
        parser.error("--profile profiles this process; with --workers the work is elsewhere")

    with tempfile.TemporaryDirectory(prefix="antena-settlement-bench-") as tmp:
        if args.postgres:
            admin_url = os.environ.get(
                "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"
            )
            _postgres_admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
            _postgres_admin(admin_url, f"CREATE DATABASE {BENCH_DATABASE}")
            database_url = admin_url.rsplit("/", 1)[0] + "/" + BENCH_DATABASE
        else:
            database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        _configure(
            database_url=database_url, media_root=str(Path(tmp) / "media"), workers=args.workers
        )
        try:
            return _run(args, tmp=tmp)
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                _postgres_admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")


def _run(args, *, tmp: str) -> int:
    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from billing.models import LedgerEntry
    from payments.models import Payment
    from payments.settlement import SETTLEMENT_PARSERS, _line_problems

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        assert str(database["NAME"]).startswith(tmp), database["NAME"]
        engine = f"SQLite {connection.Database.sqlite_version}"
    else:
        assert database["NAME"] == BENCH_DATABASE, database["NAME"]
    call_command("migrate", verbosity=0, interactive=False)
    if not database["ENGINE"].endswith("sqlite3"):
        engine = f"PostgreSQL {connection.cursor().connection.info.server_version}"

    count = args.lines
    started = time.perf_counter()
    provider = _setup(count)
    if connection.vendor == "postgresql":
        # A live payments table has statistics; one loaded a second ago has none yet, and
        # PostgreSQL would scan it instead of using the reference index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE payments_payment")
    setup_s = time.perf_counter() - started

    paid_at = (timezone.now() - datetime.timedelta(hours=1)).replace(microsecond=0).isoformat()
    good = _csv(
        [
            (reference, "250.00", paid_at, f"OXXO-{number:08d}")
            for number, reference in enumerate(_references(count))
        ]
    )
    unknown = _unknown_references(count)
    nothing = _csv(
        [
            (
                reference if number % 10 else reference[:-1] + str((int(reference[-1]) + 1) % 10),
                "250.00",
                paid_at,
                f"BANCO-{number:08d}",
            )
            for number, reference in enumerate(unknown)
        ]
    )

    # Reading and checking alone: what every import pays before the database.
    started = time.perf_counter()
    now = timezone.now()
    parsed = list(SETTLEMENT_PARSERS["generic"].parse(good))
    problems = sum(1 for item in parsed if any(_line_problems(item, now=now)))
    parse_s = time.perf_counter() - started
    assert len(parsed) == count and problems == 0, (len(parsed), problems)
    # What the imports below keep in memory is theirs alone: 100,000 parsed lines left
    # alive here would make every garbage collection in them walk these too.
    del parsed
    gc.collect()

    with contextlib.ExitStack() as stack:
        if args.workers:
            stack.enter_context(_Worker(args.workers))
            # Warm-up: every worker process opens its database connection and loads
            # what a first import needs. Matches nothing, changes no payment.
            warm_up = _csv(
                [
                    (reference, "250.00", paid_at, f"WARM-{n}")
                    for n, reference in enumerate(unknown[:50])
                ]
            )
            _timed_import_workers(provider, warm_up, "warm.csv")

            def timed(content: bytes, filename: str, **_profile):
                return _timed_import_workers(provider, content, filename)
        else:

            def timed(content: bytes, filename: str, **profile):
                return _timed_import(provider, content, filename, **profile)

        rows = []
        first, first_s, first_queries, *first_cpu = timed(good, "oxxo-1.csv", profile=args.profile)
        assert (first.credited_count, first.line_count) == (count, count), first.__dict__
        assert Payment.objects.filter(status="paid").count() == count
        assert LedgerEntry.objects.filter(kind="payment").count() == count
        rows.append(("(a) first import, all credited", first_s, first_queries, *first_cpu))

        again, again_s, again_queries, *again_cpu = timed(good, "oxxo-1.csv")
        assert again.already_paid_count == count, again.__dict__
        assert LedgerEntry.objects.filter(kind="payment").count() == count
        rows.append(("(b) same file again, nothing new", again_s, again_queries, *again_cpu))

        unmatched, unmatched_s, unmatched_queries, *unmatched_cpu = timed(nothing, "banco.csv")
        assert unmatched.unmatched_count + unmatched.invalid_count == count, unmatched.__dict__
        rows.append(
            ("(c) nothing matches (90 % unmatched)", unmatched_s, unmatched_queries, *unmatched_cpu)
        )

    where = (
        f"applied by a Celery worker of {args.workers} processes, in {args.workers} parts"
        if args.workers
        else "applied in this process"
    )
    print(
        f"Settlement import — {count:,} lines, {engine}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, {where}"
    )
    print(f"set-up ({count:,} contracts and pending references, not timed): {setup_s:.1f} s")
    print(f"reading and checking the file alone: {parse_s:.2f} s")
    other_cpu = "CPU all" if args.workers else "CPU db"
    header = (
        f"{'import':<38} {'seconds':>8} {'lines/s':>9} {'ms/line':>8} {'queries':>9} "
        f"{'CPU here':>9} {other_cpu:>7} {'goal':>6}  ok"
    )
    print(header)
    print("-" * len(header))
    missed = False
    for name, seconds, queries, cpu, server in rows:
        ok = seconds <= GOAL_S
        missed = missed or not ok
        server_text = f"{server:>6.1f}s" if server is not None else f"{'':>7}"
        queries_text = f"{queries:>9,}" if queries is not None else f"{'':>9}"
        print(
            f"{name:<38} {seconds:>8.1f} {count / seconds:>9,.0f} {seconds * 1000 / count:>8.3f} "
            f"{queries_text} {cpu:>8.1f}s {server_text} {GOAL_S:>5.0f}s  {'yes' if ok else 'NO'}"
        )
    if args.workers:
        print(
            "CPU here: this process (receiving the file, queuing); CPU all: every core of the "
            "machine (the worker, PostgreSQL, Redis, this process). Queries: not counted."
        )
    else:
        print(
            "CPU here: this process (parsing, checking, the ORM); CPU db: its PostgreSQL "
            "backend. COPY statements are not counted as queries."
        )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
