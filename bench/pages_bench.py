"""Subscriber pages under load, served as production serves them (issue 14).

    .venv/bin/python bench/pages_bench.py [--quick] [--duration 20] [--connections 32]
        [--pages inicio-prepago,facturas,...] [--client auto|wrk|python] [--workers N]
        [--paced-share 0.7] [--quiet-wait 60] [--retries 2] [--contracts 5000]
        [--subscribers 128] [--months 36] [--keep]
    .venv/bin/python bench/pages_bench.py --in-process [--requests 400] [--profile DIR]

The goal (DESIGN.md, "Fast by budget"): a subscriber page costs at most ~2.5 ms of CPU in
all (web + database + cache), twice the rate of the PHP billing systems ISPs run today;
and at 70 % of a page's maximum rate, p99 ≤ 50 ms.

Database: `antena_pages_bench`, created on the server of BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/test, used only to create and drop it) and dropped at
the end (--keep leaves it). Redis: databases 14 (REDIS_URL, the broker; no worker takes
anything) and 15 (CACHE_URL) of REDIS_BENCH_URL's server (default
redis://127.0.0.1:6379), emptied before and after.

Settings: `portal.settings.production` with bench-only secrets, through a two-line module
written into a temporary directory that only points STATIC_ROOT there (production's
is the image's /app/staticfiles, filled by the Dockerfile's `collectstatic`; the bench
runs that `collectstatic` into the temporary directory instead of the work tree).
Nothing else differs: DEBUG off, SECURE_SSL_REDIRECT and secure cookies on,
TRUSTED_PROXY_COUNT 1. The requests carry what production's TLS proxy adds
(`X-Forwarded-Proto: https`, `X-Forwarded-For: <the subscriber's address>`) and the ISP's
own host (`Provider.portal_host`, portal.kona.bench), as a phone's requests reach gunicorn
behind that proxy.

Set-up (timed apart): one ISP, 111 (es_MX, America/Mexico_City, a self-issued reference
method), 4 zones, 3 prepaid and 2 postpaid plans, 2 promotions running, and --contracts
contracts, half prepaid, half postpaid, each with 12 to --months months of history,
written with bulk inserts and consistent by construction: prepaid, one paid reference a
month with its two ledger entries (payment, charge) and its 30-day service period;
postpaid, one invoice a month (gapless numbers in issue order, one or two lines) with its
charge, and all but the last one or two paid (payment and ledger entry, amount paid).
Then --subscribers claimed logins (`accounts.services.contract_claim`, half prepaid, half
postpaid, passwords hashed with MD5 for speed: sign-in is not measured), a pending
reference for one in four of them, the recompute (`contracts_recompute`: vigencias and
suspensions from the periods), VACUUM ANALYZE and a CHECKPOINT. Each subscriber gets a
session through the session engine of the settings, as a sign-in through the login form
leaves it (`authenticate` with the password, then `login`: the session records the
backend that accepted it), and the cookie is kept, with a CSRF cookie as a browser that
has been given one sends it.

Server: `scripts/web.sh` itself (migrate, then gunicorn with its flags, WEB_CONCURRENCY
unset unless --workers: 2 per CPU) on a free port of 127.0.0.1, its access and error log
to a temporary file. Every page is first fetched once per subscriber (it must answer 200
and be that subscriber's page: their contract, invoice or login on it, or the page's
title), then several times per worker.

Each page, one after the other, with /healthz (a trivial view through the same stack: a
database and a Redis round trip) first as the baseline:

(1) closed loop: --connections connections, each sending its next request when the
    last one is answered, for --duration seconds after a --warmup not measured; every
    request a subscriber of the page's kind, rotating over all of them. The client is
    wrk (when installed: Debian's wrk 4.1, a Lua script with the requests) or, failing
    that, a Python asyncio client (--client). Reported: req/s, p50, p99, errors (any
    answer but 200, timeouts, socket errors), and CPU per request of gunicorn (master and
    workers), PostgreSQL (the bench database's backends and the server's own processes,
    not other databases' backends) and Redis, each process's time on a CPU from
    /proc/<pid>/schedstat (what utime + stime of /proc/<pid>/stat count, in ns), sampled
    every 0.5 s, so that a backend which exits mid-run (CONN_MAX_AGE) still counts; the
    rate as a ratio of /healthz's; the load generator's own CPU; and what every other
    process on the machine took meanwhile (% of all cores), which the other figures are
    only as good as.
(2) open loop: requests started on a fixed schedule at --paced-share (70 %) of the rate
    (1) measured, whatever the answers, by the Python client, latency counted from the
    scheduled start (no coordinated omission): p50, p99, errors, CPU per request, and
    the p99 of how late the client itself sent (its own lag, which must stay small for
    the latencies to be the server's). Both clients run at nice -5 (when the bench may),
    a little ahead of the server on the shared cores, as on a machine of their own.

On a shared machine other jobs distort every figure: before each page the bench waits
(up to --quiet-wait seconds) for less than 15 % of the machine to be busy, and runs (1)
and (2) again (up to --retries times) when other processes took more than 20 % of it
meanwhile, and keeps the quietest attempt; the tables show what others took during the
runs kept.

--in-process: the same set-up, no server: each page's requests go straight to the WSGI
application gunicorn serves (`portal.wsgi.application`, with production's request cycle:
request_started/finished and so the connection's health check), here, --requests per
page, the pages taking turns of 100 or more so that a drift of the machine weighs on
all alike: CPU per request of this process (process_time), of its PostgreSQL backend and
of Redis, SQL statements per request, against /healthz. --profile DIR adds a cProfile
of each page (DIR/<page>.prof, wall clock: waits on PostgreSQL and Redis show as their
drivers' reads) and prints its Python calls per request (a count the machine's speed
does not move, to compare two versions by), its top 25 functions by cumulative time,
then its top 15 by own time.

Printed with the figures: the machine (nproc, CPU model, `date`), the versions, the
settings that matter here (session engine, CONN_MAX_AGE, health checks, workers).
"""

import argparse
import asyncio
import contextlib
import cProfile
import datetime
import gzip
import io
import json
import math
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "antena_pages_bench"
REDIS_DATABASES = (14, 15)  # broker, cache (recompute uses 10-11, settlement 12-13)
PORTAL_HOST = "portal.kona.bench"
TICKS = os.sysconf("SC_CLK_TCK")
GOAL_CPU_MS = 2.5
GOAL_P99_MS = 50.0
# A run during which other processes took more than this share of the machine is done
# again (--retries).
NOISY = 0.20
# --in-process: the pages take up to this many turns each, of 100 requests or more.
ROUNDS = 4
PASSWORD = "bench-2026-clave"  # every bench login's (hashed with MD5: no one signs in here)
# What a phone's browser sends with each page, besides the cookie and what the proxy adds.
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120 Mobile",
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "Accept-Language": "es-MX,es;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
}


# --- what is measured ---------------------------------------------------------------


@dataclass
class Subscriber:
    username: str
    mode: str  # prepaid | postpaid
    contract_number: str
    address: str  # the client address the proxy reports (X-Forwarded-For)
    last_invoice: int | None = None
    cookie: str = ""
    csrf_secret: str = ""


@dataclass(frozen=True)
class Page:
    slug: str
    label: str
    who: str | None  # prepaid, postpaid, all; None: no session
    path: str  # {invoice}: the subscriber's last invoice number
    # What the page must show the subscriber ({contract}, {invoice}, {username}): the
    # bench then knows it measured their page, not a sign-in form or an error.
    marker: str = ""

    def requests(self, subscribers: list[Subscriber]) -> list[tuple[Subscriber | None, str]]:
        if self.who is None:
            return [(None, self.path)]
        return [
            (each, self.path.format(invoice=each.last_invoice))
            for each in subscribers
            if self.who in ("all", each.mode)
        ]


PAGES = [
    Page("healthz", "/healthz (trivial view)", None, "/healthz"),
    Page("inicio-prepago", "Inicio, prepaid", "prepaid", "/", "{contract}"),
    Page("inicio-pospago", "Inicio, postpaid", "postpaid", "/", "{contract}"),
    Page("facturas", "Facturas", "postpaid", "/facturas/", "{invoice}"),
    Page("factura", "Invoice detail", "postpaid", "/facturas/{invoice}/", "{contract}"),
    Page("estado-de-cuenta", "Estado de cuenta", "prepaid", "/estado-de-cuenta/", "<title>Estado"),
    Page("planes", "Planes", "prepaid", "/planes/", "<title>Planes prepago"),
    Page("mi-cuenta", "Mi cuenta", "all", "/cuenta/", "{username}"),
]


def _headers(subscriber: Subscriber | None) -> dict[str, str]:
    from django.conf import settings

    headers = {"Host": PORTAL_HOST, **BROWSER_HEADERS, "X-Forwarded-Proto": "https"}
    headers["X-Forwarded-For"] = subscriber.address if subscriber else "10.99.0.1"
    if subscriber is not None:
        # A browser that has shown a page before sends the CSRF cookie it was given, so
        # the server masks that secret instead of making and setting a new one.
        headers["Cookie"] = (
            f"{settings.SESSION_COOKIE_NAME}={subscriber.cookie}; "
            f"{settings.CSRF_COOKIE_NAME}={subscriber.csrf_secret}"
        )
    return headers


def _raw_request(subscriber: Subscriber | None, path: str) -> bytes:
    # gunicorn's sync workers close the connection after every answer: say so up front,
    # so that every client reads to the end of the stream the same way.
    lines = [f"GET {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in _headers(subscriber).items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


# --- environment and set-up ----------------------------------------------------------


def _configure(*, database_url: str, redis_server: str, tmp: Path) -> None:
    """Environment read by portal.settings.production, set before Django starts (and
    passed on to gunicorn)."""
    settings_module = tmp / "pages_bench_settings.py"
    settings_module.write_text(
        "# bench/pages_bench.py: production's settings, static files collected here.\n"
        "from portal.settings.production import *  # noqa: F403\n"
        f"STATIC_ROOT = {str(tmp / 'static')!r}\n"
    )
    sys.path[:0] = [str(tmp), str(REPO)]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "pages_bench_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp), str(REPO)]),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-only-" + "x" * 50,
            # A fixed Fernet key (32 bytes, url-safe base64): required under production.
            "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1iZW5jaC1vbmx5LWJlbmNoLW9ubHk=",
            "ALLOWED_HOSTS": f"{PORTAL_HOST},127.0.0.1,localhost",
            "REDIS_URL": f"{redis_server}/{REDIS_DATABASES[0]}",
            "CACHE_URL": f"{redis_server}/{REDIS_DATABASES[1]}",
            "MEDIA_ROOT": str(tmp / "media"),
            # The set-up's INFO lines (claims, recompute) are noise here; the server gets
            # production's default level back (_serve).
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in ("DEBUG", "WEB_CONCURRENCY", "SECURE_SSL_REDIRECT", "CONN_MAX_AGE"):
        os.environ.pop(name, None)


def _postgres_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
        db.execute(sql)


def _redis_flush(redis_server: str) -> None:
    import redis

    for number in REDIS_DATABASES:
        redis.Redis.from_url(f"{redis_server}/{number}").flushdb()


def _month_start(today: datetime.date, back: int) -> datetime.date:
    index = today.year * 12 + today.month - 1 - back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _months_of(i: int, months: int) -> int:
    """How many months of history contract i has: 12 to `months`, spread."""
    return 12 + (i * 7) % max(1, months - 11)


def _prepaid_end(k: int) -> int:
    """Days from today to the end of the k-th prepaid contract's last period: 17 in 20
    have credit, 2 ran out in the last weeks, 1 long ago."""
    bucket = k % 20
    if bucket < 17:
        return 1 + k % 30
    if bucket < 19:
        return -(k % 25)
    return -40 - k % 60


class _References:
    """Self-issued references, 111 + serial + Luhn digit, as the reference gateway's."""

    def __init__(self) -> None:
        from stdnum import luhn

        self._luhn = luhn
        self._serial = 0

    def next(self) -> str:
        self._serial += 1
        body = f"111{self._serial:011d}"
        return body + self._luhn.calc_check_digit(body)


def _seed(*, contracts: int, subscribers: int, months: int) -> tuple[list[Subscriber], dict]:
    """The ISP, its contracts and their history; returns the claimed subscribers (without
    sessions yet) and the row counts."""
    from django.db import connection, transaction
    from django.test.utils import override_settings
    from django.utils import timezone

    from accounts.models import Contract, Provider
    from accounts.services import contract_claim
    from billing.models import Invoice, InvoiceCounter
    from billing.recompute import contracts_recompute
    from payments.models import GatewayAccount, Payment
    from plans.models import Plan, Promotion, Zone

    provider = Provider.objects.create(
        code="111",
        name="KONA",
        handle_domain="kona",
        country="MX",
        currency="MXN",
        locale="es_MX",
        time_zone="America/Mexico_City",
        portal_host=PORTAL_HOST,
        support_phone="5511647608",
        tagline="Internet inalámbrico para tu comunidad",
        brand_color="#d2232a",
        legal_name="KONA Telecomunicaciones S.A. de C.V.",
        tax_id="RFC KTE150101AB1",
        tax_address="Av. Juárez 1, Centro, CDMX",
    )
    today = provider.today()
    GatewayAccount.objects.create(
        provider=provider,
        gateway="reference",
        reference_prefix="111",
        expiry_days=3,
        label="Efectivo en OXXO, 7-Eleven y farmacias",
    )
    zones = [
        Zone.objects.create(provider=provider, name=name)
        for name in ("Centro", "Norte", "Sur", "Oriente")
    ]
    plans = {}
    for name, down, up, price, mode in (
        ("Plan Básico", 10, 2, "250.00", "prepaid"),
        ("Plan Avanzado", 20, 5, "350.00", "prepaid"),
        ("Plan Plus", 50, 10, "500.00", "prepaid"),
        ("Hogar 10 Megas", 10, 2, "300.00", "postpaid"),
        ("Hogar 30 Megas", 30, 6, "450.00", "postpaid"),
    ):
        plans[name] = Plan.objects.create(
            provider=provider,
            name=name,
            download_mbps=down,
            upload_mbps=up,
            price=Decimal(price),
            period_days=30,
            billing_mode=mode,
        )
        plans[name].zones.set(zones)
    prepaid_plans = [plan for plan in plans.values() if plan.billing_mode == "prepaid"]
    postpaid_plans = [plan for plan in plans.values() if plan.billing_mode == "postpaid"]
    Promotion.objects.create(
        provider=provider,
        title="Una semana de regalo",
        text="Adquiere cualquier plan este mes y te regalamos 7 días.",
        starts_on=today - datetime.timedelta(days=10),
        ends_on=today + datetime.timedelta(days=20),
        effect="bonus_days",
        bonus_days=7,
    )
    north = Promotion.objects.create(
        provider=provider,
        title="10 % en el Plan Avanzado",
        text="Solo en la zona Norte.",
        starts_on=today - datetime.timedelta(days=3),
        ends_on=today + datetime.timedelta(days=30),
        effect="discount",
        discount_percent=Decimal("10.00"),
    )
    north.zones.set([zones[1]])
    north.plans.set([plans["Plan Avanzado"]])

    rows = []
    for i in range(contracts):
        prepaid = i % 2 == 0
        k = i // 2  # rank among the contracts of its kind
        plan = prepaid_plans[k % 3] if prepaid else postpaid_plans[k % 2]
        rows.append(
            Contract(
                provider=provider,
                number=str(100_000 + i),
                holder_name=f"Abonado {i:05d} Pérez",
                installation_address=f"Calle {i % 300} #{i % 97}, Col. Centro",
                phone=f"+5255{10_000_000 + i:08d}",
                email=f"abonado{i}@example.com" if i % 4 < 2 else "",
                zone=zones[i % 4],
                plan=plan,
                billing_mode=plan.billing_mode,
                paid_until=today + datetime.timedelta(days=_prepaid_end(k)) if prepaid else None,
                ip_address=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            )
        )
    Contract.objects.bulk_create(rows, batch_size=2000)

    # Claimed before the recompute, which suspends some of them (a claim wants an active
    # contract). MD5: 128 Argon2id hashes would take seconds, and no one signs in here.
    claimed = rows[:subscribers]
    users = {}
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for number, contract in enumerate(claimed):
            users[contract.pk] = contract_claim(
                contract_id=contract.pk, name=f"abonado{number:03d}", password=PASSWORD
            )

    # Invoice numbers are gapless per ISP in the order they were issued: month by month,
    # contract by contract.
    first_number = 18154
    numbers: dict[tuple[int, int], int] = {}
    postpaid_rows = [(i, row) for i, row in enumerate(rows) if row.billing_mode == "postpaid"]
    for back in reversed(range(months)):
        for i, row in postpaid_rows:
            if back < _months_of(i, months):
                numbers[row.pk, back] = first_number + len(numbers)
    InvoiceCounter.objects.create(provider=provider, next_number=first_number + len(numbers))

    references = _References()
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        # Consistent by construction: no foreign-key trigger per row (as recompute_bench).
        cursor.execute("SET session_replication_role = replica")
        try:
            numbered = list(enumerate(rows))
            for start in range(0, contracts, 500):
                with transaction.atomic():
                    _history_seed(
                        rows=numbered[start : start + 500],
                        months=months,
                        today=today,
                        provider=provider,
                        numbers=numbers,
                        references=references,
                        counts=counts,
                    )
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")

    # A pending reference (shown on Inicio) for one in four claimed subscribers.
    expires_at = timezone.now() + datetime.timedelta(days=3)
    pending = []
    for number, contract in enumerate(claimed):
        if number % 8 == 0 and contract.billing_mode == "prepaid":
            pending.append(
                Payment(
                    provider=provider,
                    contract=contract,
                    gateway="reference",
                    method="cash",
                    plan=contract.plan,
                    amount=contract.plan.price,
                    currency="MXN",
                    reference=references.next(),
                    expires_at=expires_at,
                )
            )
        elif number % 8 == 1:
            invoice = Invoice.objects.filter(contract=contract).order_by("-number").first()
            if invoice.amount_paid < invoice.total:
                pending.append(
                    Payment(
                        provider=provider,
                        contract=contract,
                        gateway="reference",
                        method="cash",
                        invoice=invoice,
                        amount=invoice.total - invoice.amount_paid,
                        currency="MXN",
                        reference=references.next(),
                        expires_at=expires_at,
                    )
                )
    Payment.objects.bulk_create(pending)
    counts["pending references"] = len(pending)

    counts["ServiceChange (recompute)"] = contracts_recompute(provider=provider)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")

    last_invoices = dict(
        Invoice.objects.filter(contract__in=claimed)
        .order_by("contract_id", "-number")
        .distinct("contract_id")
        .values_list("contract_id", "number")
    )
    result = []
    for number, contract in enumerate(claimed):
        result.append(
            Subscriber(
                username=users[contract.pk].username,
                mode=contract.billing_mode,
                contract_number=contract.number,
                address=f"10.20.{number // 250}.{number % 250 + 1}",
                last_invoice=last_invoices.get(contract.pk),
            )
        )
    return result, {"Contract": contracts, "claimed logins": len(result), **counts}


def _history_seed(*, rows, months, today, provider, numbers, references, counts) -> None:
    """The months of history of these contracts, by bulk inserts."""
    from django.utils import timezone

    from billing.models import Invoice, InvoiceLine, LedgerEntry, ServicePeriod
    from payments.models import Payment

    def at_three_pm(day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(15), tzinfo=provider.tzinfo)

    entries, periods, payments, invoices, lines = [], [], [], [], []
    for i, contract in rows:
        plan = contract.plan
        history = _months_of(i, months)
        if contract.billing_mode == "prepaid":
            end = today + datetime.timedelta(days=_prepaid_end(i // 2))
            description = f"{plan.name} 30 días"
            for back in reversed(range(history)):
                ends_on = end - datetime.timedelta(days=30 * back)
                starts_on = ends_on - datetime.timedelta(days=30)
                paid_on = starts_on - datetime.timedelta(days=1)
                reference = references.next()
                paid = LedgerEntry(
                    provider=provider,
                    contract=contract,
                    kind="payment",
                    amount=plan.price,
                    currency="MXN",
                    occurred_on=paid_on,
                    description=f"Pago Referencia de pago {reference}",
                )
                entries.append(paid)
                entries.append(
                    LedgerEntry(
                        provider=provider,
                        contract=contract,
                        kind="charge",
                        amount=-plan.price,
                        currency="MXN",
                        occurred_on=paid_on,
                        description=description,
                    )
                )
                periods.append(
                    ServicePeriod(
                        contract=contract,
                        plan=plan,
                        starts_on=starts_on,
                        ends_on=ends_on,
                        paid_by=paid,
                        description=description,
                    )
                )
                paid_at = at_three_pm(paid_on)
                payments.append(
                    Payment(
                        provider=provider,
                        contract=contract,
                        gateway="reference",
                        method="cash",
                        plan=plan,
                        amount=plan.price,
                        currency="MXN",
                        status="paid",
                        reference=reference,
                        expires_at=paid_at + datetime.timedelta(days=2),
                        paid_at=paid_at,
                        paid_amount=plan.price,
                        ledger_entry=paid,
                    )
                )
        else:
            # The last invoice is open for 3 in 5, the one before too for 1 in 10.
            unpaid = 1 if (i // 2) % 5 >= 2 else 0
            if (i // 2) % 10 == 3:
                unpaid = 2
            for back in reversed(range(history)):
                issued = _month_start(today, back)
                period_end = _month_start(today, back - 1) - datetime.timedelta(days=1)
                items = [(f"{plan.name} {issued:%m/%Y}", plan.price)]
                if back % 6 == 5:
                    items.append(("Visita técnica", Decimal("150.00")))
                total = sum((amount for _, amount in items), Decimal("0"))
                invoice = Invoice(
                    provider=provider,
                    contract=contract,
                    number=numbers[contract.pk, back],
                    issue_date=issued,
                    due_date=issued + datetime.timedelta(days=provider.invoice_due_days),
                    period_start=issued,
                    period_end=period_end,
                    total=total,
                    currency="MXN",
                )
                invoices.append(invoice)
                lines += [
                    InvoiceLine(invoice=invoice, description=text, amount=amount)
                    for text, amount in items
                ]
                entries.append(
                    LedgerEntry(
                        provider=provider,
                        contract=contract,
                        kind="charge",
                        amount=-total,
                        currency="MXN",
                        occurred_on=issued,
                        description=f"Factura Nº {invoice.number}",
                        invoice=invoice,
                    )
                )
                if back < unpaid:
                    continue
                invoice.amount_paid = total
                paid_on = min(issued + datetime.timedelta(days=7), today)
                reference = references.next()
                paid = LedgerEntry(
                    provider=provider,
                    contract=contract,
                    kind="payment",
                    amount=total,
                    currency="MXN",
                    occurred_on=paid_on,
                    description=f"Pago Referencia de pago {reference}",
                    invoice=invoice,
                )
                entries.append(paid)
                paid_at = min(at_three_pm(paid_on), timezone.now())
                payments.append(
                    Payment(
                        provider=provider,
                        contract=contract,
                        gateway="reference",
                        method="cash",
                        invoice=invoice,
                        amount=total,
                        currency="MXN",
                        status="paid",
                        reference=reference,
                        expires_at=paid_at + datetime.timedelta(days=2),
                        paid_at=paid_at,
                        paid_amount=total,
                        ledger_entry=paid,
                    )
                )
    # Parents first: bulk_create fills each child's foreign key from its saved parent.
    for model, objects in (
        (Invoice, invoices),
        (InvoiceLine, lines),
        (LedgerEntry, entries),
        (ServicePeriod, periods),
        (Payment, payments),
    ):
        model.objects.bulk_create(objects, batch_size=2000)
        counts[model.__name__] = counts.get(model.__name__, 0) + len(objects)


def _sessions(subscribers: list[Subscriber]) -> None:
    """A session per subscriber, as a sign-in leaves it, through the settings' engine."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import authenticate, login
    from django.http import HttpRequest
    from django.middleware.csrf import CSRF_ALLOWED_CHARS
    from django.test.utils import override_settings
    from django.utils.crypto import get_random_string

    from accounts.models import User

    engine = import_module(settings.SESSION_ENGINE)
    users = User.objects.in_bulk([each.username for each in subscribers], field_name="username")
    for each in subscribers:
        request = HttpRequest()
        request.META["REMOTE_ADDR"] = each.address
        request.session = engine.SessionStore()
        # Signed in as the login form does (allauth's adapter asks `authenticate`): the
        # session records the backend that answers first, which reads it back on every page.
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            user = authenticate(request, username=each.username, password=PASSWORD)
        assert user == users[each.username], each.username
        login(request, user)
        request.session.save()
        each.cookie = request.session.session_key
        each.csrf_secret = get_random_string(32, allowed_chars=CSRF_ALLOWED_CHARS)


# --- CPU accounting ------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(comm, ppid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.index("(") + 1 : text.rindex(")")], int(
        text[text.rindex(")") + 2 :].split()[1]
    )


def _cpu_seconds(pid: int) -> float | None:
    """A process's CPU time so far: its time on a CPU from /proc/<pid>/schedstat (in ns;
    utime + stime in /proc/<pid>/stat count the same in ticks of 10 ms, too coarse for a
    turn of a fraction of a second)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except FileNotFoundError:  # a kernel without schedstat
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, ValueError, IndexError):
        return None


def _machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) ticks of every core so far (/proc/stat's first line)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, sum(fields[:8])


class CpuMeter:
    """CPU seconds of the processes that answer requests, by group: gunicorn (master and
    workers), postgres (this bench database's backends and the server's own processes,
    not other databases' backends), redis (redis-server).

    Sampled every half second in a thread: a process that exits during the window
    (a backend closed by CONN_MAX_AGE) counts up to its last sample, and one that starts
    counts from zero. Also the whole machine's busy time, to tell what others took.
    """

    def __init__(self, *, gunicorn_pid: int | None, database: str) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.database = database
        self._titles: dict[int, str | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _group(self, pid: int, comm: str, ppid: int) -> str | None:
        if self.gunicorn_pid and self.gunicorn_pid in (pid, ppid):
            return "gunicorn"
        if comm == "redis-server":
            return "redis"
        if comm == "postgres":
            if pid not in self._titles:
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    title = ""
                # A client backend's title names its database and its client's address.
                if f" {self.database} " in title:
                    self._titles[pid] = "postgres"
                elif "(" in title or "[local]" in title:
                    self._titles[pid] = None
                else:
                    self._titles[pid] = "postgres"
            return self._titles[pid]
        return None

    def _sample(self) -> dict[int, tuple[str, float]]:
        seen = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            stat = _proc_stat(int(name))
            group = stat and self._group(int(name), *stat)
            seconds = _cpu_seconds(int(name)) if group else None
            if seconds is not None:
                seen[int(name)] = (group, seconds)
        return seen

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._last.update(self._sample())

    def start(self) -> None:
        self._first = self._sample()
        self._last = dict(self._first)
        self._machine = _machine_busy_ticks()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        busy, total = _machine_busy_ticks()
        result = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
        for pid, (group, seconds) in self._last.items():
            result[group] += seconds - self._first.get(pid, (group, 0.0))[1]
        result["machine busy"] = (busy - self._machine[0]) / TICKS
        result["machine total"] = (total - self._machine[1]) / TICKS
        return result


def _wait_for_quiet(max_wait: float, *, threshold: float = 0.15) -> float:
    """Wait until less than `threshold` of the machine was busy over one second (nothing of
    ours runs now); returns that share."""
    deadline = time.monotonic() + max_wait
    while True:
        busy, total = _machine_busy_ticks()
        time.sleep(1.0)
        busy2, total2 = _machine_busy_ticks()
        share = (busy2 - busy) / max(1, total2 - total)
        if share < threshold or time.monotonic() >= deadline:
            return share


# --- load generators -----------------------------------------------------------------


@dataclass
class Load:
    """What a run of the load generator saw."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    client_cpu: float  # the load generator's own CPU seconds
    error_kinds: dict = field(default_factory=dict)
    target_rate: float | None = None
    lag_p99_ms: float | None = None  # open loop: p99 of how late requests left the client

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, math.ceil(share * len(sorted_values)) - 1)]


def _lua_string(raw: bytes) -> str:
    return (
        '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b}" for b in raw) + '"'
    )


WRK_SCRIPT = """
-- Written by bench/pages_bench.py: each connection sends the next request of the list.
local requests = {%s}
local count = #requests
local next_index = 0
bad = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  next_index = math.random(count) - 1
end

function request()
  next_index = next_index %% count + 1
  return requests[next_index]
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local not_200 = 0
  for _, thread in ipairs(threads) do not_200 = not_200 + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "not_200": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    not_200, latency:percentile(50), latency:percentile(99)))
end
"""


def _wrk(port: int, raws: list[bytes], *, connections: int, seconds: float, tmp: Path) -> Load:
    script = tmp / "pages.lua"
    script.write_text(WRK_SCRIPT % ", ".join(_lua_string(raw) for raw in raws))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [
            "wrk",
            "--threads",
            "1",  # one thread drives 32 connections at these rates; the cores are the server's
            "--connections",
            str(connections),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--script",
            str(script),
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    data = json.loads(line)
    kinds = {
        name: data[name]
        for name in ("connect", "read", "write", "timeout", "not_200")
        if data[name]
    }
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=sum(kinds.values()),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        client_cpu=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        error_kinds=kinds,
    )


async def _fetch(port: int, raw: bytes, timeout: float) -> int:
    """One request on its own connection; the answer's status (read to the end)."""

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(raw)
            answer = await reader.read()
        finally:
            writer.close()
        return int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0

    return await asyncio.wait_for(exchange(), timeout)


async def _answered(port: int, raw: bytes, kinds: dict[str, int]) -> bool:
    """One request; True when answered 200, else its failure counted in `kinds`."""
    try:
        status = await _fetch(port, raw, 10.0)
    except (TimeoutError, OSError) as error:
        kinds[type(error).__name__] = kinds.get(type(error).__name__, 0) + 1
        return False
    if status != 200:
        kinds["not_200"] = kinds.get("not_200", 0) + 1
        return False
    return True


def _python_closed(port: int, raws: list[bytes], *, connections: int, seconds: float) -> Load:
    """`connections` loops, each sending its next request when the last one is answered."""
    latencies: list[float] = []
    kinds: dict[str, int] = {}

    async def one_connection(offset: int, deadline: float) -> None:
        index = offset
        while time.perf_counter() < deadline:
            raw = raws[index % len(raws)]
            index += connections
            started = time.perf_counter()
            if await _answered(port, raw, kinds):
                latencies.append(time.perf_counter() - started)

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(one_connection(n, deadline) for n in range(connections)))
        return time.perf_counter() - started

    cpu = time.process_time()
    elapsed = asyncio.run(run())
    latencies.sort()
    return Load(
        requests=len(latencies) + sum(kinds.values()),
        seconds=elapsed,
        errors=sum(kinds.values()),
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        client_cpu=time.process_time() - cpu,
        error_kinds=kinds,
    )


def _python_paced(port: int, raws: list[bytes], *, rate: float, seconds: float) -> Load:
    """Open loop: request n starts at n / rate whatever became of the others; its latency
    runs from that scheduled instant, so a stall is charged to every request it delays."""
    latencies: list[float] = []
    lags: list[float] = []  # how late the client itself sent: it must stay small
    kinds: dict[str, int] = {}

    async def one(raw: bytes, scheduled: float) -> None:
        lags.append(time.perf_counter() - scheduled)
        if await _answered(port, raw, kinds):
            latencies.append(time.perf_counter() - scheduled)

    async def run() -> float:
        total = max(1, int(rate * seconds))
        tasks = []
        started = time.perf_counter() + 0.05
        for n in range(total):
            scheduled = started + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(raws[n % len(raws)], scheduled)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - started

    cpu = time.process_time()
    elapsed = asyncio.run(run())
    latencies.sort()
    lags.sort()
    return Load(
        requests=len(latencies) + sum(kinds.values()),
        seconds=elapsed,
        errors=sum(kinds.values()),
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        client_cpu=time.process_time() - cpu,
        error_kinds=kinds,
        target_rate=rate,
        lag_p99_ms=_percentile(lags, 0.99) * 1000,
    )


# --- the server ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, subscriber: Subscriber | None, path: str) -> tuple[int, bytes, int]:
    """(status, body decoded, bytes of the body on the wire)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_raw_request(subscriber, path))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, _, wire = answer.partition(b"\r\n\r\n")
    body = gzip.decompress(wire) if re.search(rb"(?im)^content-encoding:\s*gzip", head) else wire
    return int(head[9:12]), body, len(wire)


@contextlib.contextmanager
def _serve(*, port: int, workers: int | None, log: Path):
    """scripts/web.sh as production runs it (it migrates, then execs gunicorn: the pid
    is gunicorn's master), until the block ends."""
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["BIND"] = f"127.0.0.1:{port}"
    env.pop("LOG_LEVEL", None)
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603
            ["sh", str(REPO / "scripts" / "web.sh")],  # noqa: S607
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise SystemExit(f"web.sh exited with {server.returncode}:\n{_tail(log)}")
            with contextlib.suppress(OSError):
                if _get(port, None, "/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer /healthz in 180 s:\n{_tail(log)}")
            time.sleep(0.5)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _gunicorn_workers(master: int) -> int:
    return sum(
        1
        for name in os.listdir("/proc")
        if name.isdigit() and (_proc_stat(int(name)) or ("", 0))[1] == master
    )


def _check_pages(port: int, pages: list[Page], subscribers: list[Subscriber]) -> dict[str, int]:
    """Every request of every page once: 200, and the subscriber's own contract (or
    invoice) on it, not a sign-in page or someone else's. Returns the mean size of the
    body on the wire (gzipped when the page is)."""
    sizes = {}
    for page in pages:
        total = 0
        requests = page.requests(subscribers)
        for subscriber, path in requests:
            status, body, wire = _get(port, subscriber, path)
            if status != 200:
                raise SystemExit(f"{page.label}: {path} answered {status} for {subscriber}")
            if subscriber is not None:
                expected = page.marker.format(
                    contract=subscriber.contract_number,
                    invoice=subscriber.last_invoice,
                    username=subscriber.username,
                )
                if expected.encode() not in body:
                    title = re.search(rb"<title>(.*?)</title>", body, re.S)
                    raise SystemExit(
                        f"{page.label}: {path} does not show {expected!r} (page title: "
                        f"{title[1].decode().strip() if title else body[:200]!r})"
                    )
            total += wire
        sizes[page.slug] = total // len(requests)
    return sizes


# --- reporting -----------------------------------------------------------------------


def _machine() -> list[str]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()  # noqa: S607
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty=+uncommitted changes"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return [
        f"date: {date}",
        f"code: {commit}",
        f"machine: nproc {os.cpu_count()}, {model}, {memory:.0f} GiB, {platform.platform()}",
        f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def _versions(client: str) -> str:
    import django
    import gunicorn
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (postgres,) = cursor.fetchone()
    redis_version = "?"
    with contextlib.suppress(Exception):
        import redis

        redis_version = redis.Redis.from_url(os.environ["CACHE_URL"]).info()["redis_version"]
    wrk = ""
    if client == "wrk":
        wrk = (
            ", "
            + subprocess.run(  # noqa: S603
                ["wrk", "--version"],  # noqa: S607
                capture_output=True,
                text=True,
            ).stdout.split(" [")[0]
        )
    return (
        f"versions: Python {sys.version.split()[0]}, Django {django.get_version()}, gunicorn "
        f"{gunicorn.__version__}, PostgreSQL {postgres}, Redis {redis_version}{wrk}"
    )


def _settings_line() -> str:
    from django.conf import settings

    database = settings.DATABASES["default"]
    return (
        f"settings: portal.settings.production (DEBUG {settings.DEBUG}), SESSION_ENGINE "
        f"{settings.SESSION_ENGINE}, CACHES {settings.CACHES['default']['BACKEND']}, "
        f"CONN_MAX_AGE {database['CONN_MAX_AGE']}, CONN_HEALTH_CHECKS "
        f"{database['CONN_HEALTH_CHECKS']}, SECURE_SSL_REDIRECT {settings.SECURE_SSL_REDIRECT}"
    )


def _ms(seconds: float, requests: int) -> float:
    return seconds * 1000 / requests if requests else math.nan


# --- the runs ------------------------------------------------------------------------


def _run_server(args, *, subscribers, pages, tmp: Path) -> None:
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: no wrk on PATH (Debian: apt-get install wrk)")
    print(_versions(client))
    print(_settings_line())
    port = _free_port()
    log = tmp / "gunicorn.log"
    with _serve(port=port, workers=args.workers, log=log) as server:
        workers = _gunicorn_workers(server.pid)
        print(
            f"server: scripts/web.sh → gunicorn, {workers} workers (WEB_CONCURRENCY "
            f"{args.workers or 'unset: 2 per CPU'}), 127.0.0.1:{port}, Host {PORTAL_HOST}; "
            f"load: {client}, {args.connections} connections, {args.duration:g} s per page "
            f"after {args.warmup:g} s of warm-up; open loop at {args.paced_share:.0%} of each "
            f"page's rate",
            flush=True,
        )
        sizes = _check_pages(port, pages, subscribers)
        # The load generators share the cores with the server: a little priority over it
        # (for this thread and wrk, started from it; gunicorn started before) keeps them
        # sending on time, as clients on other machines would.
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, -5)
        for page in pages:  # every worker imports, compiles and caches what pages need
            for subscriber, path in page.requests(subscribers)[: 4 * workers] * 2:
                _get(port, subscriber, path)
        meter = CpuMeter(gunicorn_pid=server.pid, database=BENCH_DATABASE)
        closed: dict[str, tuple[Load, dict]] = {}
        paced: dict[str, tuple[Load, dict]] = {}
        for page in pages:
            raws = [_raw_request(s, path) for s, path in page.requests(subscribers)]

            def load(seconds: float, raws=raws) -> Load:
                if client == "wrk":
                    return _wrk(port, raws, connections=args.connections, seconds=seconds, tmp=tmp)
                return _python_closed(port, raws, connections=args.connections, seconds=seconds)

            # On a shared machine another job may start mid-run: the run is done again
            # (--retries) when others took more than NOISY of the machine meanwhile, and
            # the quietest attempt is kept.
            kept = math.inf
            for attempt in range(1 + args.retries):
                _wait_for_quiet(args.quiet_wait)
                load(args.warmup)
                meter.start()
                result = load(args.duration)
                closed_run = (result, meter.stop())
                meter.start()
                slow = _python_paced(
                    port, raws, rate=args.paced_share * result.rate, seconds=args.duration
                )
                paced_run = (slow, meter.stop())
                noise = max(_others(*closed_run), _others(*paced_run))
                if noise < kept:
                    kept = noise
                    closed[page.slug], paced[page.slug] = closed_run, paced_run
                print(
                    f"  {page.label}: {result.rate:,.0f} req/s, p99 {result.p99_ms:.1f} ms; at "
                    f"{slow.target_rate:,.0f} req/s p99 {slow.p99_ms:.1f} ms; others took up "
                    f"to {noise:.0%} of the machine",
                    flush=True,
                )
                if noise <= NOISY:
                    break
                if attempt < args.retries:
                    print("    (again: too much else running)", flush=True)
        failed = re.findall(r'" (5\d\d) ', log.read_text(errors="replace"))
        memory = _gunicorn_memory(server.pid)
    _report_server(pages, closed, paced, sizes, failed=len(failed))
    print(memory)


def _gunicorn_memory(master: int) -> str:
    """RSS and PSS (each shared page counted once, split among its sharers) of gunicorn's
    master and workers, after the load: what --preload changes."""
    pids = [master] + [
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit() and (_proc_stat(int(name)) or ("", 0))[1] == master
    ]
    rss, pss = [], []
    for pid in pids:
        fields = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                name, value, *_unit = line.split()
                fields[name.rstrip(":")] = int(value) / 1024
        rss.append(fields.get("Rss", 0.0))
        pss.append(fields.get("Pss", 0.0))
    workers = ", ".join(f"{value:.0f}" for value in rss[1:])
    return (
        f"gunicorn memory after the load: master RSS {rss[0]:.0f} MB, workers RSS {workers} MB; "
        f"PSS of all {len(pids)} processes {sum(pss):.0f} MB"
    )


def _others(load: Load, cpu: dict[str, float]) -> float:
    """The share of all cores that processes other than the server's and the load
    generator's took during a run."""
    ours = cpu["gunicorn"] + cpu["postgres"] + cpu["redis"] + load.client_cpu
    return max(0.0, cpu["machine busy"] - ours) / cpu["machine total"]


def _report_server(pages, closed, paced, sizes, *, failed: int) -> None:
    base_rate = closed["healthz"][0].rate
    print()
    print("Closed loop (CPU in ms per request; others: what every other process took, % of")
    print("all cores, while the page ran)")
    print()
    print(
        "| page | req/s | p50 ms | p99 ms | errors | CPU gunicorn | CPU PostgreSQL | CPU Redis "
        "| CPU total | × /healthz rate | load generator | others | KB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for page in pages:
        result, cpu = closed[page.slug]
        n = result.requests
        total = cpu["gunicorn"] + cpu["postgres"] + cpu["redis"]
        others = _others(result, cpu)
        print(
            f"| {page.label} | {result.rate:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} "
            f"| {_errors(result)} | {_ms(cpu['gunicorn'], n):.2f} | {_ms(cpu['postgres'], n):.2f} "
            f"| {_ms(cpu['redis'], n):.2f} | **{_ms(total, n):.2f}** "
            f"| {result.rate / base_rate:.2f} | {_ms(result.client_cpu, n):.2f} | {others:.0%} "
            f"| {sizes[page.slug] / 1024:.1f} |"
        )
    print()
    print(f"Open loop at a share of each page's closed-loop rate (goal p99 ≤ {GOAL_P99_MS:g} ms)")
    print()
    print(
        "| page | target req/s | done req/s | p50 ms | p99 ms | errors | CPU total ms/req "
        "| load generator | client lag p99 ms | others | p99 goal |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for page in pages:
        result, cpu = paced[page.slug]
        total = cpu["gunicorn"] + cpu["postgres"] + cpu["redis"]
        met = result.p99_ms <= GOAL_P99_MS and not result.errors
        print(
            f"| {page.label} | {result.target_rate:,.0f} | {result.rate:,.0f} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {_errors(result)} "
            f"| {_ms(total, result.requests):.2f} | {_ms(result.client_cpu, result.requests):.2f} "
            f"| {result.lag_p99_ms:.1f} | {_others(result, cpu):.0%} "
            f"| {'met' if met else 'MISSED'} |"
        )
    print()
    print(
        f"budget: ≤ {GOAL_CPU_MS} ms of CPU per page request in all (gunicorn + PostgreSQL + "
        f"Redis); answers 5xx in gunicorn's access log: {failed}"
    )


def _errors(result: Load) -> str:
    if not result.errors:
        return "0"
    return f"{result.errors} ({', '.join(f'{k} {v}' for k, v in result.error_kinds.items())})"


def _profile_top(profiler: cProfile.Profile, key: str, count: int) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(count)
    text = out.getvalue().replace(f"{REPO}/.venv/lib/python3.11/site-packages/", "")
    text = text.replace(f"{REPO}/", "")
    # pstats' header (the totals, "Ordered by", the restriction) without its blank lines.
    return re.sub(r"\n\s*\n", "\n", text.strip())


def _run_in_process(args, *, subscribers, pages) -> None:
    from django.conf import settings
    from django.db import connection

    from portal.wsgi import application

    print(_versions("python"))
    print(_settings_line())
    print(
        f"in-process: portal.wsgi.application called directly, {args.requests} requests per "
        f"page (in up to {ROUNDS} turns, the pages alternating) after {args.requests // 4} of "
        f"warm-up; CPU in ms per request"
    )

    def environ(subscriber: Subscriber | None, path: str) -> dict:
        values = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": PORTAL_HOST,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in _headers(subscriber).items():
            values["HTTP_" + name.upper().replace("-", "_")] = value
        return values

    def call(values: dict) -> int:
        statuses = []
        body = application(
            {**values, "wsgi.input": io.BytesIO()},
            lambda status, headers, exc_info=None: statuses.append(status),
        )
        try:
            for _chunk in body:
                pass
        finally:
            body.close()  # request_finished: as gunicorn does after every answer
        return int(statuses[0][:3])

    class Counter:
        statements = 0

        def __call__(self, execute, sql, params, many, context):
            self.statements += 1
            return execute(sql, params, many, context)

    meter = CpuMeter(gunicorn_pid=None, database=BENCH_DATABASE)
    environs = {
        page.slug: [environ(s, path) for s, path in page.requests(subscribers)] for page in pages
    }
    for page in pages:
        for n in range(max(10, args.requests // 4)):
            status = call(environs[page.slug][n % len(environs[page.slug])])
            if status != 200:
                raise SystemExit(f"{page.label}: answered {status}")
    # The pages take turns, ROUNDS times a share of the requests each: a drift of the
    # machine's speed (other jobs, the host) then weighs on every page alike.
    totals = {
        page.slug: dict.fromkeys(("here", "postgres", "redis", "wall", "sql"), 0.0)
        for page in pages
    }
    others = []
    rounds = max(1, min(ROUNDS, args.requests // 100))
    per_round = max(1, args.requests // rounds)
    for _round in range(rounds):
        _wait_for_quiet(args.quiet_wait)
        for page in pages:
            counter = Counter()
            meter.start()
            wall, cpu = time.perf_counter(), time.process_time()
            with connection.execute_wrapper(counter):
                for n in range(per_round):
                    call(environs[page.slug][n % len(environs[page.slug])])
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            servers = meter.stop()
            total = totals[page.slug]
            total["here"] += cpu
            total["postgres"] += servers["postgres"]
            total["redis"] += servers["redis"]
            total["wall"] += wall
            total["sql"] += counter.statements
            ours = cpu + servers["postgres"] + servers["redis"]
            others.append(max(0.0, servers["machine busy"] - ours) / servers["machine total"])
    if args.profile:
        profile_dir = Path(args.profile)
        profile_dir.mkdir(parents=True, exist_ok=True)
        for page in pages:
            # cProfile's default clock (wall time): a CPU clock costs a system call per
            # function call, which multiplies the overhead and favours call-heavy code.
            # Waiting on PostgreSQL and Redis shows as psycopg's and redis's reads.
            profiler = cProfile.Profile()
            profiler.enable()
            for n in range(args.requests):
                call(environs[page.slug][n % len(environs[page.slug])])
            profiler.disable()
            target = profile_dir / f"{page.slug}.prof"
            profiler.dump_stats(target)
            calls = pstats.Stats(profiler).total_calls / args.requests
            print(f"\n--- cProfile of {page.label}, {args.requests} requests ({target}) ---")
            # A count the machine's speed does not move: compare versions by it.
            print(f"{calls:,.0f} Python calls per request")
            print(_profile_top(profiler, "cumulative", 25))
            # The cumulative list is mostly middleware wrapping middleware; where the time
            # is actually spent shows better by each function's own time.
            print("\n--- the same, by own time ---")
            print(_profile_top(profiler, "tottime", 15))
    print()
    print(
        "| page | wall ms/req | CPU here | CPU PostgreSQL | CPU Redis | CPU total | × /healthz "
        "CPU | SQL statements/req |"
    )
    print("|---|---|---|---|---|---|---|---|")
    base = None
    n = per_round * rounds
    for page in pages:
        total = totals[page.slug]
        cpu = total["here"] + total["postgres"] + total["redis"]
        base = base or cpu
        print(
            f"| {page.label} | {_ms(total['wall'], n):.2f} | {_ms(total['here'], n):.2f} "
            f"| {_ms(total['postgres'], n):.2f} | {_ms(total['redis'], n):.2f} "
            f"| **{_ms(cpu, n):.2f}** | {cpu / base:.1f} | {total['sql'] / n:.1f} |"
        )
    print()
    print(
        f"CPU here: this process (process_time: the view, middleware, templates, the ORM and "
        f"the drivers); SQL statements: those through Django's cursor (the connection's health "
        f"check, a SELECT 1 per request, is not one of them); session engine "
        f"{settings.SESSION_ENGINE}; other processes took {max(others):.0%} of the machine at "
        f"most during a page's turn"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~5 s per page, for iterating")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per page and run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each page")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pages", default="", help="comma-separated slugs (healthz is kept)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--workers", type=int, help="WEB_CONCURRENCY (default: web.sh's)")
    parser.add_argument("--paced-share", type=float, default=0.7)
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="wait up to this for an idle machine"
    )
    parser.add_argument("--retries", type=int, default=2, help="runs again a page others disturbed")
    parser.add_argument("--contracts", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=128)
    parser.add_argument("--months", type=int, default=36, help="longest history (≥ 12)")
    parser.add_argument("--in-process", action="store_true", help="no server: WSGI calls here")
    parser.add_argument("--requests", type=int, default=400, help="--in-process: per page")
    parser.add_argument("--profile", metavar="DIR", help="--in-process: a cProfile per page")
    parser.add_argument("--keep", action="store_true", help="leave the database")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.requests = 5.0, 1.0, 100
        args.quiet_wait = min(args.quiet_wait, 10.0)
    if args.profile and not args.in_process:
        parser.error("--profile goes with --in-process")
    if args.months < 12:
        parser.error("--months: 12 or more")
    wanted = {slug for slug in args.pages.split(",") if slug}
    unknown = wanted - {page.slug for page in PAGES}
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    pages = [page for page in PAGES if not wanted or page.slug in wanted | {"healthz"}]

    started = time.monotonic()
    for line in _machine():
        print(line, flush=True)
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    redis_server = os.environ.get("REDIS_BENCH_URL", "redis://127.0.0.1:6379").rstrip("/")
    _postgres_admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    _postgres_admin(admin_url, f"CREATE DATABASE {BENCH_DATABASE}")
    with tempfile.TemporaryDirectory(prefix="antena-pages-bench-") as tmp:
        _configure(
            database_url=admin_url.rsplit("/", 1)[0] + "/" + BENCH_DATABASE,
            redis_server=redis_server,
            tmp=Path(tmp),
        )
        _redis_flush(redis_server)
        try:
            import django

            django.setup()
            from django.conf import settings
            from django.core.management import call_command

            assert settings.DATABASES["default"]["NAME"] == BENCH_DATABASE
            assert not settings.DEBUG
            call_command("migrate", verbosity=0, interactive=False)
            call_command("collectstatic", verbosity=0, interactive=False)
            began = time.monotonic()
            subscribers, counts = _seed(
                contracts=args.contracts, subscribers=args.subscribers, months=args.months
            )
            _sessions(subscribers)
            print(
                f"set-up ({time.monotonic() - began:.0f} s): "
                + ", ".join(f"{value:,} {name}" for name, value in counts.items()),
                flush=True,
            )
            if args.in_process:
                _run_in_process(args, subscribers=subscribers, pages=pages)
            else:
                _run_server(args, subscribers=subscribers, pages=pages, tmp=Path(tmp))
        finally:
            from django.db import connections

            connections.close_all()
            if args.keep:
                print(f"kept: {os.environ['DATABASE_URL']} (DROP DATABASE {BENCH_DATABASE})")
            else:
                _postgres_admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
            _redis_flush(redis_server)
    print(f"\nwall time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
