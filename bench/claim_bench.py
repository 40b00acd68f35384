"""The claim and reset answers, when the data match and when they do not.

    .venv/bin/python bench/claim_bench.py [--rounds 300]

The codes leave from the worker (core.outbox), so the answer for data that match should
cost what the answer for data that do not: a stranger timing it learns nothing. Runs
on portal.settings.test with a throw-away SQLite file, local-memory cache and rate limits
lifted, the outbox handed to a worker that is not there (nothing is sent). Each kind of
request alternates with the others, round after round; the table gives the median and p95
wall time and the CPU per request of this process (the web's whole cost here: SQLite is
in-process), beside a trivial view measured the same way.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent


def _configure(workdir: Path) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["LOG_LEVEL"] = "ERROR"
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="antena-claim-bench-") as tmp:
        _configure(Path(tmp))
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        from core.tasks import outbox_run_task
        from portal.celery import app as celery_app

        setup_test_environment()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        settings.ACCOUNT_RATE_LIMITS = False  # every request of the bench comes from one address
        celery_app.conf.task_always_eager = False
        outbox_run_task.apply_async = mock.Mock()  # a worker elsewhere: nothing is sent

        requests = {
            "claim, data match": (
                "/cuenta/crear/",
                {"provider_code": "111", "number": "1001", "phone": "5512345678"},
            ),  # noqa: E501
            "claim, no such contract": (
                "/cuenta/crear/",
                {"provider_code": "111", "number": "9999", "phone": "5512345678"},
            ),  # noqa: E501
            "reset, account exists": ("/cuenta/recuperar/", {"login": "juan@kona"}),
            "reset, no such account": ("/cuenta/recuperar/", {"login": "nadie@kona"}),
            "trivial view (GET /healthz)": ("/healthz", None),
        }
        samples = {name: ([], []) for name in requests}
        for _round in range(args.rounds + 20):
            for name, (url, data) in requests.items():
                client = Client()
                wall, cpu = time.perf_counter(), time.process_time()
                response = client.post(url, data) if data is not None else client.get(url)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert response.status_code in (200, 302), (name, response.status_code)
                if _round >= 20:  # warm-up rounds left out
                    samples[name][0].append(wall)
                    samples[name][1].append(cpu)
        print(f"{'request':32} {'median':>9} {'p95':>9} {'CPU/request':>12}")
        for name, (walls, cpus) in samples.items():
            p95 = statistics.quantiles(walls, n=100, method="inclusive")[94]
            print(
                f"{name:32} {statistics.median(walls) * 1000:8.2f}ms {p95 * 1000:8.2f}ms "
                f"{statistics.mean(cpus) * 1000:10.2f}ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
