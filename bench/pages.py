"""What a subscriber's phone and the server pay for the portal's pages.

    .venv/bin/python bench/pages.py [--rounds 40]

Two tables, on portal.settings.test with a throw-away SQLite file and the demo data
(`seed_demo`), the test settings' hasher replaced by the product's:

1. Sign-in: `POST /accounts/login/` with the right password, for an account whose hash
   is Argon2id with our parameters (accounts.hashers) and for one hashed with Django's
   PBKDF2 (each measured with its own hasher first, so nothing is rehashed), beside a
   trivial view (`GET /healthz`) measured the same way, alternating round after round:
   median and p95 wall time, and CPU per request of this process (the whole server cost:
   SQLite is in-process). The hash's memory is its `m` parameter.
2. First load of each subscriber page, signed in as the demo's prepaid and postpaid
   subscribers: the HTML and every stylesheet and script it links, raw and gzipped
   (level 6, as a server would), the bytes a phone downloads with an empty cache.
"""

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCT_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
DEMO = {
    "kona": ("juan@kona", "Kona-demo-2026"),
    "interatos": ("laura@interatos", "Interatos-demo.2026"),
}


def _configure(workdir: Path) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["LOG_LEVEL"] = "ERROR"
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)


def _timed(samples: dict, name: str, call) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    response = call()
    samples[name][0].append(time.perf_counter() - wall)
    samples[name][1].append(time.process_time() - cpu)
    assert response.status_code in (200, 302), (name, response.status_code)


def sign_in_table(rounds: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.test import Client, override_settings

    users = get_user_model().objects
    login, password = DEMO["kona"]
    pbkdf2_login = "pbkdf2@kona"
    if not users.filter(username=pbkdf2_login).exists():
        twin = users.get(username=login)
        twin.pk, twin.username, twin.email = None, pbkdf2_login, ""
        twin.save()
    users.filter(username=pbkdf2_login).update(
        password=make_password(password, hasher="pbkdf2_sha256")
    )
    users.filter(username=login).update(password=make_password(password))
    kinds = {
        "sign-in, Argon2id (19 MiB)": (PRODUCT_HASHERS, login),
        "sign-in, PBKDF2 (Django 5.2)": (list(reversed(PRODUCT_HASHERS)), pbkdf2_login),
        "trivial view (GET /healthz)": (PRODUCT_HASHERS, None),
    }
    samples = {name: ([], []) for name in kinds}
    for round_number in range(rounds + 3):
        for name, (hashers, account) in kinds.items():
            with override_settings(PASSWORD_HASHERS=hashers):
                call = _request(Client(), account, password)
                if round_number < 3:  # warm-up
                    call()
                else:
                    _timed(samples, name, call)
    assert users.get(username=pbkdf2_login).password.startswith("pbkdf2_sha256$")
    print(f"{'request':32} {'median':>9} {'p95':>9} {'CPU/request':>12}")
    for name, (walls, cpus) in samples.items():
        p95 = statistics.quantiles(walls, n=100, method="inclusive")[94]
        print(
            f"{name:32} {statistics.median(walls) * 1000:8.1f}ms {p95 * 1000:8.1f}ms "
            f"{statistics.mean(cpus) * 1000:10.1f}ms"
        )


def _request(client, account: str | None, password: str):
    if account is None:
        return lambda: client.get("/healthz")
    return lambda: client.post("/accounts/login/", {"login": account, "password": password})


ASSETS = re.compile(r'<(?:link[^>]+href|script[^>]+src)="([^"]+\.(?:css|js))"')


def page_bytes_table() -> None:
    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.test import Client

    pages = {
        "kona": [
            "/accounts/login/",
            "/",
            "/servicios/",
            "/estado-de-cuenta/",
            "/planes/",
            "/cuenta/",
            "/pagos/",
        ],
        "interatos": ["/", "/facturas/", "/estado-de-cuenta/", "/soporte/"],
    }
    print(f"\n{'page (first load)':40} {'raw':>8} {'gzipped':>8}")
    for isp, paths in pages.items():
        client = Client()
        signed_in = False
        for path in paths:
            if not signed_in and path != "/accounts/login/":
                login, password = DEMO[isp]
                response = client.post("/accounts/login/", {"login": login, "password": password})
                assert response.status_code == 302, response.status_code
                signed_in = True
            response = client.get(path, follow=True)
            assert response.status_code == 200, (path, response.status_code)
            html = response.content
            bodies = [html]
            for asset in ASSETS.findall(html.decode()):
                # The file as the server sends it (WhiteNoise serves it from disk).
                found = finders.find(asset.removeprefix(settings.STATIC_URL).split("?")[0])
                bodies.append(Path(found).read_bytes())
            raw = sum(len(body) for body in bodies)
            zipped = sum(len(gzip.compress(body, compresslevel=6)) for body in bodies)
            print(f"{isp + ' ' + path:40} {raw / 1024:6.1f}KB {zipped / 1024:6.1f}KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="antena-pages-bench-") as tmp:
        _configure(Path(tmp))
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test.utils import setup_test_environment

        setup_test_environment()
        settings.ACCOUNT_RATE_LIMITS = False  # every request of the bench comes from one address
        settings.PASSWORD_HASHERS = PRODUCT_HASHERS
        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        sign_in_table(args.rounds)
        page_bytes_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
