"""Webhook acknowledgement latency: 50 concurrent signed deliveries on gunicorn + PostgreSQL.

    .venv/bin/python bench/webhook_bench.py [--rounds 40] [--concurrency 50] [--workers 4]

Creates its own database (antena_bench) on the PostgreSQL at BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/antena_bench), migrates it, creates one ISP with a Stripe
account and one pending OXXO payment per delivery, starts gunicorn (sync workers, the app
preloaded) and a Celery worker on Redis (databases 14/15), as in production.

Burst: `--rounds` times, 50 Stripe-signed `payment_intent.succeeded` deliveries are released
at the same instant (a barrier) and each one's time to the 2xx is recorded. Every delivery is
stored, verified and queued; the worker credits it (ledger, service period) after the answer.
Then a sustained run keeps 50 deliveries in flight for 10 s. A tenth of the events are sent
twice (the duplicate path). It waits for the worker to credit every payment, checks each was
credited exactly once, prints p50/p95/p99/max, and drops the database.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_bench_only"
PORT = 8765


def _env(database_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "CACHE_URL": "redis://127.0.0.1:6379/15",
    }


def _psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-q", "-c", sql], check=True)  # noqa: S603, S607


def _prepare(env: dict, count: int) -> list[tuple[str, str]]:
    """Migrate and create `count` pending payments; returns (payment public id, intent id)."""
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    script = f"""
import datetime, json
from decimal import Decimal
from django.utils import timezone
from accounts.models import Contract, Provider
from plans.models import Plan, Zone
from payments.models import GatewayAccount, Payment
provider = Provider.objects.create(code="111", name="KONA", handle_domain="kona", country="MX",
                                   currency="MXN", locale="es_MX")
zone = Zone.objects.create(provider=provider, name="Centro")
plan = Plan.objects.create(provider=provider, name="Plan Básico", download_mbps=10,
                           upload_mbps=2, price=Decimal("250.00"), period_days=30)
account = GatewayAccount(provider=provider, gateway="stripe")
account.credentials = {{"secret_key": "sk_test_bench", "webhook_secret": "{WEBHOOK_SECRET}"}}
account.save()
contracts = Contract.objects.bulk_create(
    Contract(provider=provider, number=str(1000 + n), holder_name="Bench", installation_address="x",
             phone="+525512345678", zone=zone, plan=plan) for n in range({count}))
payments = Payment.objects.bulk_create(
    Payment(provider=provider, contract=contracts[n], gateway="stripe",
            method="oxxo", amount=Decimal("250.00"), currency="MXN", plan=plan,
            external_id=f"pi_bench_{{n}}", reference=f"{{n:014d}}", status="pending",
            expires_at=timezone.now() + datetime.timedelta(days=3))
    for n in range({count}))
print(json.dumps([[str(p.public_id), p.external_id] for p in payments]))
"""
    out = subprocess.run(  # noqa: S603
        [python, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _event(public_id: str, intent_id: str, number: int) -> bytes:
    return json.dumps(
        {
            "id": f"evt_bench_{number}",
            "object": "event",
            "created": int(time.time()),
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": 25000,
                    "amount_received": 25000,
                    "currency": "mxn",
                    "status": "succeeded",
                    "metadata": {"payment_public_id": public_id},
                }
            },
        }
    ).encode()


def _sign(body: bytes) -> str:
    timestamp = int(time.time())
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


_local = threading.local()
# Signatures made before the clock starts, so the load generator spends its CPU on sending.
_SIGNED: dict[bytes, str] = {}


def _deliver(body: bytes) -> tuple[float, int]:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    signature = _SIGNED.get(body) or _sign(body)
    started = time.perf_counter()
    connection.request(
        "POST",
        "/webhooks/stripe/111/",
        body=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signature,
            "Host": "127.0.0.1",
        },
    )
    response = connection.getresponse()
    response.read()
    return time.perf_counter() - started, response.status


def _percentiles(latencies: list[float]) -> str:
    latencies = sorted(latencies)

    def at(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))]

    return (
        f"p50 {statistics.median(latencies):.1f}  p95 {at(0.95):.1f}  p99 {at(0.99):.1f}  "
        f"max {latencies[-1]:.1f} ms"
    )


def _burst(bodies: list[bytes], concurrency: int) -> list[tuple[float, int]]:
    barrier = threading.Barrier(concurrency)

    def one(body: bytes) -> tuple[float, int]:
        barrier.wait()
        return _deliver(body)

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, bodies))


def _credited(env: dict) -> tuple[int, int]:
    script = (
        "from payments.models import Payment; from billing.models import LedgerEntry; "
        "print(Payment.objects.filter(status='paid').count(), "
        "LedgerEntry.objects.filter(kind='payment').count())"
    )
    out = subprocess.run(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout.split()
    return int(out[-2]), int(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sustained-seconds", type=float, default=10)
    args = parser.parse_args()
    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/antena_bench"
    )
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    name = database_url.rsplit("/", 1)[1]
    _psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
    _psql(admin_url, f"CREATE DATABASE {name}")
    env = _env(database_url)
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, stdout=subprocess.DEVNULL)  # noqa: S603, S607
    processes = []
    try:
        burst_count = args.rounds * args.concurrency
        sustained_count = 4000
        payments = _prepare(env, burst_count + sustained_count)
        bodies = [_event(public_id, intent, n) for n, (public_id, intent) in enumerate(payments)]
        burst_bodies = bodies[:burst_count]
        # Every tenth delivery repeats an earlier event: the duplicate path.
        for index in range(10, len(burst_bodies), 10):
            burst_bodies[index] = burst_bodies[index - 5]
        bin_dir = ROOT / ".venv" / "bin"
        processes.append(
            subprocess.Popen(  # noqa: S603
                [
                    str(bin_dir / "gunicorn"),
                    "portal.wsgi",
                    "--preload",
                    "--bind",
                    f"127.0.0.1:{PORT}",
                    "--workers",
                    str(args.workers),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        processes.append(
            subprocess.Popen(  # noqa: S603
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "portal",
                    "worker",
                    "--loglevel=WARNING",
                    "--concurrency=2",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        for _ in range(200):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
                probe.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                probe.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        _SIGNED.update((body, _sign(body)) for body in bodies)
        for _ in range(2 * args.workers):  # warm-up: each worker opens its DB connection
            _burst([b"{}"] * args.concurrency, args.concurrency)

        results = []
        for round_number in range(args.rounds):
            chunk = burst_bodies[
                round_number * args.concurrency : (round_number + 1) * args.concurrency
            ]
            results += _burst(chunk, args.concurrency)
        burst_latencies = [seconds * 1000 for seconds, _status in results]
        statuses = sorted({status for _seconds, status in results})

        sustained_bodies = iter(bodies[burst_count:])
        deadline = time.perf_counter() + args.sustained_seconds
        sustained = []

        def keep_sending(_thread: int) -> None:
            for body in sustained_bodies:
                if time.perf_counter() > deadline:
                    return
                sustained.append(_deliver(body))

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(keep_sending, range(args.concurrency)))
        elapsed = time.perf_counter() - started
        sustained_latencies = [seconds * 1000 for seconds, _status in sustained]

        expected = len(set(burst_bodies)) + len(sustained)
        drained = time.perf_counter()
        paid = entries = 0
        while time.perf_counter() - drained < 300:
            paid, entries = _credited(env)
            if paid >= expected:
                break
            time.sleep(1)
        print(
            f"machine: {os.cpu_count()} cores; gunicorn {args.workers} sync workers "
            f"(--preload); Celery worker concurrency 2; PostgreSQL; Redis"
        )
        print(
            f"burst: {args.rounds} rounds x {args.concurrency} simultaneous deliveries "
            f"= {len(results)}, HTTP {statuses}: {_percentiles(burst_latencies)}"
        )
        print(
            f"sustained: {args.concurrency} in flight for {elapsed:.1f} s = {len(sustained)} "
            f"deliveries ({len(sustained) / elapsed:.0f}/s): {_percentiles(sustained_latencies)}"
        )
        print(
            f"credited by the worker: {paid} payments, {entries} ledger payment entries "
            f"(expected {expected}; drained {time.perf_counter() - drained:.1f} s after the load)"
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        _psql(admin_url, f"DROP DATABASE IF EXISTS {name}")


if __name__ == "__main__":
    sys.exit(main())
