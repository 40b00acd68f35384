"""Webhook acknowledgement latency: 50 concurrent signed deliveries on gunicorn + PostgreSQL.

    .venv/bin/python bench/webhook_bench.py [--rounds 40] [--concurrency 50] [--workers 4]
                                            [--worker-nice 10] [--sustained-seconds 10]

Creates its own database (antena_bench) on the PostgreSQL at BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/antena_bench), migrates it, creates one ISP with a Stripe
account and one pending OXXO payment per delivery, and starts the production processes:
`scripts/web.sh` (gunicorn, sync workers, access log on) and `scripts/worker.sh` (Celery,
concurrency 2, log level INFO) with `portal.settings.production`, Redis databases 14/15.

Burst: `--rounds` times, 50 Stripe-signed `payment_intent.succeeded` deliveries are released
together, and each one's time from its connect() to the last byte of its 2xx is recorded.
Every delivery is stored, verified and queued; the worker credits it (ledger, service period)
after the answer. Then a sustained run keeps 50 deliveries in flight for 10 s. A tenth of the
burst events are sent twice (the duplicate path). It waits for the worker to credit every
payment, checks each was credited exactly once, prints p50/p95/p99/max and the CPU each
process spent per delivery, and drops the database.

The load generator is one thread with non-blocking sockets and requests built and signed
before the clock starts, so that it takes as little as possible of the cores it shares with
the server. The worker runs at `scripts/worker.sh`'s CPU priority, nice 10 below the web
processes as in production; `--worker-nice N` sets it (`WORKER_NICE`; 0: the same priority).
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_bench_only"
PORT = 8765
ADDRESS = ("127.0.0.1", PORT)
TICKS = os.sysconf("SC_CLK_TCK")


def _env(database_url: str) -> dict:
    return {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-" + "x" * 50,
        # A fixed Fernet key (32 bytes, url-safe base64): required under production.
        "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1iZW5jaC1vbmx5LWJlbmNoLW9ubHk=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "CACHE_URL": "redis://127.0.0.1:6379/15",
    }


def _psql(admin_url: str, sql: str) -> str:
    return subprocess.run(  # noqa: S603
        ["psql", admin_url, "-q", "-At", "-c", sql],  # noqa: S607
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout


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


def _request(body: bytes) -> bytes:
    """The whole HTTP request, signed now (Stripe's tolerance is 300 s)."""
    timestamp = int(time.time())
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    head = (
        "POST /webhooks/stripe/111/ HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Stripe-Signature: t={timestamp},v1={digest}\r\n"
        # As the TLS-terminating proxy in front of gunicorn says it.
        "X-Forwarded-Proto: https\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class _Flight:
    request: bytes
    started: float
    sock: socket.socket
    received: bytearray = field(default_factory=bytearray)


class LoadGenerator:
    """Sends requests on non-blocking sockets from one thread; each result is
    (seconds from connect() to the last byte of the answer, HTTP status)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.in_flight = 0

    def _start(self, request: bytes) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        flight = _Flight(request=request, started=time.perf_counter(), sock=sock)
        sock.connect_ex(ADDRESS)
        self.selector.register(sock, selectors.EVENT_WRITE, flight)
        self.in_flight += 1

    def _step(self, results: list[tuple[float, int]]) -> None:
        for key, events in self.selector.select(timeout=30):
            flight: _Flight = key.data
            sock = flight.sock
            if events & selectors.EVENT_WRITE:
                sock.sendall(flight.request)  # under 1 KiB: fits the socket buffer
                self.selector.modify(sock, selectors.EVENT_READ, flight)
                continue
            chunk = sock.recv(65536)
            flight.received += chunk
            status = self._complete(flight.received, closed=not chunk)
            if status is not None:
                results.append((time.perf_counter() - flight.started, status))
                self.selector.unregister(sock)
                sock.close()
                self.in_flight -= 1

    @staticmethod
    def _complete(received: bytearray, *, closed: bool) -> int | None:
        head, separator, body = bytes(received).partition(b"\r\n\r\n")
        if not separator:
            if closed:
                raise ConnectionError("connection closed before an answer")
            return None
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        lengths = [
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        ]
        length = lengths[0] if lengths else None
        if length is None:
            return status if closed else None
        return status if len(body) >= length else None

    def burst(self, requests: list[bytes]) -> list[tuple[float, int]]:
        """All requests released together; returns when every answer is in."""
        results: list[tuple[float, int]] = []
        for request in requests:
            self._start(request)
        while self.in_flight:
            self._step(results)
        return results

    def sustained(self, requests, in_flight: int, seconds: float) -> list[tuple[float, int]]:
        """Keeps `in_flight` requests open until `seconds` have passed."""
        results: list[tuple[float, int]] = []
        requests = iter(requests)
        deadline = time.perf_counter() + seconds
        while True:
            while self.in_flight < in_flight and time.perf_counter() < deadline:
                request = next(requests, None)
                if request is None:
                    break
                self._start(request)
            if not self.in_flight:
                return results
            self._step(results)


def _percentiles(latencies: list[float]) -> str:
    latencies = sorted(latencies)

    def at(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))]

    return (
        f"p50 {statistics.median(latencies):.1f}  p95 {at(0.95):.1f}  p99 {at(0.99):.1f}  "
        f"max {latencies[-1]:.1f} ms"
    )


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


class CpuMeter:
    """CPU seconds spent by each part of the system between start() and stop()."""

    def __init__(self, admin_url: str, database: str, web: int, worker: int) -> None:
        self.admin_url, self.database, self.web, self.worker = admin_url, database, web, worker

    def _postgres_backends(self) -> list[int]:
        out = _psql(
            self.admin_url,
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.database}' "
            "AND pid <> pg_backend_pid()",
        )
        return [int(pid) for pid in out.split()]

    def _sample(self) -> dict:
        redis_pid = int(
            subprocess.run(
                ["redis-cli", "info", "server"],  # noqa: S607
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            .stdout.split("process_id:")[1]
            .split()[0]
        )
        return {
            "web (gunicorn)": {p: _cpu_seconds(p) for p in [self.web, *_children(self.web)]},
            "worker (Celery)": {p: _cpu_seconds(p) for p in [self.worker, *_children(self.worker)]},
            "PostgreSQL backends": {p: _cpu_seconds(p) for p in self._postgres_backends()},
            "Redis": {redis_pid: _cpu_seconds(redis_pid)},
            "load generator": {os.getpid(): time.process_time()},
        }

    @staticmethod
    def _every_process() -> dict[int, tuple[str, float]]:
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
        return found

    def start(self) -> None:
        self.before, self.machine_before = self._sample(), _machine_busy()
        self.load_before = os.getloadavg()[0]
        self.processes_before = self._every_process()

    def stop(self, deliveries: int, elapsed: float) -> str:
        after, machine_after = self._sample(), _machine_busy()
        ours = {pid for pids in after.values() for pid in pids}
        others: dict[str, float] = {}
        for pid, (name, cpu) in self._every_process().items():
            if pid not in ours:
                spent = cpu - self.processes_before.get(pid, (name, 0.0))[1]
                others[name] = others.get(name, 0.0) + spent
        busiest = sorted(others.items(), key=lambda item: -item[1])[:3]
        lines = []
        accounted = 0.0
        for part, pids in after.items():
            seconds = sum(cpu - self.before[part].get(pid, 0.0) for pid, cpu in pids.items())
            accounted += seconds
            lines.append(f"{part} {seconds / deliveries * 1000:.2f}")
        busy = machine_after[0] - self.machine_before[0]
        total = machine_after[1] - self.machine_before[1]
        lines.append(f"everything else on the machine {(busy - accounted) / deliveries * 1000:.2f}")
        lines[-1] += " (most: " + ", ".join(f"{n} {c:.1f} s" for n, c in busiest) + ")"
        return (
            f"  CPU ms per delivery: {', '.join(lines)}; machine busy {busy / total:.0%} "
            f"of {os.cpu_count()} cores over {elapsed:.1f} s; load average "
            f"{self.load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )


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


def _wait_for_web(process: subprocess.Popen) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit("gunicorn exited; see its log above")
        try:
            probe = http.client.HTTPConnection(*ADDRESS, timeout=1)
            probe.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if probe.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not answer /healthz")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (Compose: 4)")
    parser.add_argument(
        "--worker-nice", type=int, default=10, help="WORKER_NICE of scripts/worker.sh"
    )
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
    # The broker and the cache: a wake-up key left by a previous run would outlive the
    # task it stood for, which this removes.
    for database in ("14", "15"):
        subprocess.run(  # noqa: S603
            ["redis-cli", "-n", database, "flushdb"],  # noqa: S607
            check=True,
            stdout=subprocess.DEVNULL,
        )
    processes = []
    logs = tempfile.TemporaryDirectory(prefix="webhook-bench-")
    try:
        warm_up_count = 4 * args.concurrency
        burst_count = args.rounds * args.concurrency
        sustained_count = int(max(4000, 800 * args.sustained_seconds))
        payments = _prepare(env, warm_up_count + burst_count + sustained_count)
        bodies = [_event(public_id, intent, n) for n, (public_id, intent) in enumerate(payments)]
        warm_up_bodies = bodies[:warm_up_count]
        burst_bodies = bodies[warm_up_count : warm_up_count + burst_count]
        sustained_bodies = bodies[warm_up_count + burst_count :]
        # Every tenth delivery repeats an earlier event: the duplicate path.
        for index in range(10, len(burst_bodies), 10):
            burst_bodies[index] = burst_bodies[index - 5]
        web_log = Path(logs.name) / "web.log"
        with web_log.open("w") as log:
            processes.append(
                subprocess.Popen(  # noqa: S603
                    ["sh", "scripts/web.sh"],  # noqa: S607
                    cwd=ROOT,
                    env={
                        **env,
                        "WEB_CONCURRENCY": str(args.workers),
                        "BIND": f"{ADDRESS[0]}:{PORT}",
                    },
                    stdout=subprocess.DEVNULL,  # the access log
                    stderr=log,
                )
            )
            processes.append(
                subprocess.Popen(  # noqa: S603
                    ["sh", "scripts/worker.sh"],  # noqa: S607
                    cwd=ROOT,
                    env={
                        **env,
                        "CELERY_CONCURRENCY": "2",
                        "LOG_LEVEL": "INFO",
                        "WORKER_NICE": str(args.worker_nice),
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        try:
            _wait_for_web(processes[0])
        except SystemExit:
            print(web_log.read_text(), file=sys.stderr)
            raise
        generator = LoadGenerator()
        meter = CpuMeter(admin_url, name, web=processes[0].pid, worker=processes[1].pid)

        # Warm-up: every gunicorn worker opens its database and Redis connections.
        for start in range(0, warm_up_count, args.concurrency):
            generator.burst([_request(b) for b in warm_up_bodies[start : start + args.concurrency]])
        time.sleep(2)

        # Signed before the clock starts, so the generator spends its CPU on sending.
        burst_requests = [_request(body) for body in burst_bodies]
        meter.start()
        started = time.perf_counter()
        results = []
        for round_number in range(args.rounds):
            chunk = burst_requests[
                round_number * args.concurrency : (round_number + 1) * args.concurrency
            ]
            results += generator.burst(chunk)
        burst_cpu = meter.stop(len(results), time.perf_counter() - started)
        burst_latencies = [seconds * 1000 for seconds, _status in results]
        burst_statuses = sorted({status for _seconds, status in results})
        worst_of_each_burst = [
            max(burst_latencies[n : n + args.concurrency])
            for n in range(0, len(burst_latencies), args.concurrency)
        ]

        sustained_requests = [_request(body) for body in sustained_bodies]
        meter.start()
        started = time.perf_counter()
        sustained = generator.sustained(
            sustained_requests, args.concurrency, args.sustained_seconds
        )
        elapsed = time.perf_counter() - started
        sustained_cpu = meter.stop(len(sustained), elapsed)
        sustained_latencies = [seconds * 1000 for seconds, _status in sustained]
        sustained_statuses = sorted({status for _seconds, status in sustained})

        expected = warm_up_count + len(set(burst_bodies)) + len(sustained)
        drained = time.perf_counter()
        paid = entries = 0
        while time.perf_counter() - drained < 600:
            paid, entries = _credited(env)
            if paid >= expected:
                break
            time.sleep(1)
        print(
            f"machine: {os.cpu_count()} cores; gunicorn {args.workers} sync workers "
            f"(scripts/web.sh); Celery worker concurrency 2 (scripts/worker.sh, "
            f"nice {args.worker_nice}); PostgreSQL; Redis"
        )
        print(
            f"burst: {args.rounds} rounds x {args.concurrency} deliveries released together "
            f"= {len(results)}, HTTP {burst_statuses}: {_percentiles(burst_latencies)}; "
            f"slowest of each burst: median {statistics.median(worst_of_each_burst):.1f} ms"
        )
        print(burst_cpu)
        print(
            f"sustained: {args.concurrency} in flight for {elapsed:.1f} s = {len(sustained)} "
            f"deliveries ({len(sustained) / elapsed:.0f}/s), HTTP {sustained_statuses}: "
            f"{_percentiles(sustained_latencies)}"
        )
        print(sustained_cpu)
        print(
            f"credited by the worker: {paid} payments, {entries} ledger payment entries "
            f"(expected {expected}, warm-up included; drained "
            f"{time.perf_counter() - drained:.1f} s after the load)"
        )
        if not paid == entries == expected:
            print("NOT credited exactly once", file=sys.stderr)
            return 1
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        _psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
        logs.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
