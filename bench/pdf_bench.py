"""Invoice PDF timings: the first rendering of a fresh invoice, and the download of a stored one.

    .venv/bin/python bench/pdf_bench.py [--renders 30] [--downloads 200] [--check]

Runs on portal.settings.test with a throw-away SQLite file and MEDIA_ROOT in a temporary
directory (never the repository's db.sqlite3 or media/), loads `seed_demo`, then measures
as Interatos' postpaid subscriber laura@interatos (contract 2002):

(a) `billing.pdf.invoice_pdf_render` of a freshly issued one-page invoice, after warm-ups;
(b) GET /facturas/<n>/pdf/ of an already stored PDF through Django's test Client, logged
    in as the owner, reading the whole streamed body.

--check exits with status 1 when a median or p95 misses its goal.
"""

import argparse
import datetime
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
RENDER_GOAL_S = 0.4
DOWNLOAD_GOAL_S = 0.020


def _configure(workdir: Path) -> None:
    """Environment read by portal.settings.base, set before Django starts."""
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["LOG_LEVEL"] = "WARNING"
    # Locmem cache and eager tasks, whatever the shell says.
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)


def _stats(samples: list[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=100, method="inclusive")[94]
    return median, p95


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--render-warmups", type=int, default=3)
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--download-warmups", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()

    # WhiteNoise under the test settings, with no collectstatic run: irrelevant here.
    warnings.filterwarnings("ignore", message="No directory at:")
    with tempfile.TemporaryDirectory(prefix="antena-pdf-bench-") as tmp:
        workdir = Path(tmp)
        _configure(workdir)

        import django

        django.setup()

        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client, override_settings
        from django.test.utils import setup_test_environment
        from pypdf import PdfReader

        from accounts.models import Contract
        from billing.models import Invoice
        from billing.pdf import invoice_pdf_ensure, invoice_pdf_render
        from billing.services import LineSpec, invoice_issue

        assert Path(settings.MEDIA_ROOT).is_relative_to(workdir), settings.MEDIA_ROOT
        assert str(settings.DATABASES["default"]["NAME"]).startswith(tmp)

        setup_test_environment()  # "testserver" in ALLOWED_HOSTS, locmem e-mail
        call_command("migrate", verbosity=0, interactive=False)
        # Issuing renders each PDF after commit (eagerly here). Keep that out of the set-up
        # and of (a), so that the first timed call is the first rendering in this process.
        no_render_on_issue = mock.patch("billing.services.outbox_enqueue")
        with no_render_on_issue:
            call_command("seed_demo", stdout=io.StringIO())

        contract = Contract.objects.select_related("provider", "user").get(
            provider__code="222", number="2002"
        )
        owner = contract.user
        today = contract.provider.today()

        # (a) First rendering of fresh invoices.
        cold = None
        render_samples: list[float] = []
        with no_render_on_issue:
            for run in range(args.render_warmups + args.renders):
                issued = invoice_issue(
                    contract=contract,
                    lines=[LineSpec(description="PLAN 6 MEGAS", amount=Decimal("2590.00"))],
                    issue_date=today,
                    due_date=today + datetime.timedelta(days=20),
                    period_start=today,
                    period_end=today + datetime.timedelta(days=30),
                )
                invoice = Invoice.objects.select_related("provider", "contract").get(pk=issued.pk)
                started = time.perf_counter()
                content = invoice_pdf_render(invoice=invoice)
                elapsed = time.perf_counter() - started
                assert len(PdfReader(io.BytesIO(content)).pages) == 1
                if run == 0:
                    cold = elapsed
                if run >= args.render_warmups:
                    render_samples.append(elapsed)

        # (b) Download of a stored PDF through the real view, as the owner.
        invoice = Invoice.objects.filter(contract=contract).order_by("-number").first()
        invoice_pdf_ensure(invoice=invoice)
        assert invoice.pdf, "the PDF should be stored before the download runs"
        url = f"/facturas/{invoice.number}/pdf/"
        download_samples: list[float] = []
        # Production serves static files from the manifest, not by re-scanning the disk.
        with override_settings(WHITENOISE_AUTOREFRESH=False):
            client = Client()
            client.force_login(owner)
            for run in range(args.download_warmups + args.downloads):
                started = time.perf_counter()
                response = client.get(url)
                body = b"".join(response.streaming_content)
                response.close()
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.status_code
                assert body.startswith(b"%PDF"), body[:20]
                if run >= args.download_warmups:
                    download_samples.append(elapsed)

        render_median, render_p95 = _stats(render_samples)
        download_median, download_p95 = _stats(download_samples)
        rows = [
            (
                "(a) first render, one-page PDF",
                len(render_samples),
                render_median,
                render_p95,
                RENDER_GOAL_S,
            ),
            (
                f"(b) GET /facturas/<n>/pdf/ ({len(body) // 1024} KiB)",
                len(download_samples),
                download_median,
                download_p95,
                DOWNLOAD_GOAL_S,
            ),
        ]
        print(f"Invoice PDFs — {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        header = f"{'measurement':<36} {'runs':>5} {'median':>10} {'p95':>10} {'goal':>10}  ok"
        print(header)
        print("-" * len(header))
        missed = False
        for name, runs, median, p95, goal in rows:
            ok = median <= goal and p95 <= goal
            missed = missed or not ok
            print(
                f"{name:<36} {runs:>5} {_ms(median):>10} {_ms(p95):>10} {_ms(goal):>10}  "
                f"{'yes' if ok else 'NO'}"
            )
        print(f"(the first render in this process, a warm-up, not counted: {_ms(cold)})")
        return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
