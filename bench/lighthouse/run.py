"""Lighthouse's mobile scores for the subscriber portal's sign-in, Inicio and Facturas.

    (cd bench/lighthouse && npm ci)       # once: Lighthouse 12.2.3, pinned (Node 20)
    .venv/bin/python bench/lighthouse/run.py [--runs 3] [--save DIR]

A throw-away SQLite file with the demo data (`migrate`, `seed_demo`), static files
collected into a temporary directory, and gunicorn from the venv on a free port of
127.0.0.1, with bench/lighthouse/settings.py (`make run`'s settings, DEBUG off, static
files as production serves them; `--settings portal.settings.local` for exactly `make
run`'s). The demo's subscribers sign in with requests (POST /accounts/login/ with the
CSRF token) and Lighthouse is handed the session cookie as an extra header.

Lighthouse runs with its default configuration, which is mobile (a Moto G Power's
screen, 4x CPU slowdown and slow 4G, simulated), the four categories, in Debian's
Chromium (CHROME_PATH, default /usr/bin/chromium; no browser is downloaded), headless.
Each page is measured `--runs` times: the table gives each category's median (the
performance score moves from run to run, the others should not), then every audit that
scored below 1 in any run, with how many runs it failed in.
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
TRIES = 3
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
DEMO = {
    "juan": ("juan@kona", "Kona-demo-2026"),
    "laura": ("laura@interatos", "Interatos-demo.2026"),
}
# (label, path, who is signed in or None)
PAGES = [
    ("login", "/accounts/login/", None),
    ("login, KONA (/p/111/)", "/p/111/accounts/login/", None),
    ("Inicio (juan, KONA prepaid)", "/", "juan"),
    ("Facturas (laura, Interatos postpaid)", "/facturas/", "laura"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def _session_cookie(base: str, login: str, password: str) -> str:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise SystemExit("no csrfmiddlewaretoken in the login page")
    answer = session.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": token[1], "login": login, "password": password},
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in as {login} failed: HTTP {answer.status_code}")
    return f"sessionid={session.cookies['sessionid']}"


def _warm_up(base: str, cookies: dict, workers: int) -> None:
    """Every page several times per worker, as a server that has been up a while: a
    worker's first request imports and compiles what the others then reuse."""
    for _, path, who in PAGES:
        headers = {"Cookie": cookies[who]} if who else {}
        for _ in range(4 * workers):
            answer = requests.get(base + path, headers=headers, timeout=30)
            answer.raise_for_status()
            for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', answer.text):
                requests.get(base + asset, timeout=30).raise_for_status()


def _lighthouse(url: str, cookie: str | None, out: Path, chrome: str) -> dict:
    command = [
        str(LIGHTHOUSE),
        url,
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json",
        f"--output-path={out}",
        "--chrome-flags=--headless=new --no-sandbox",
        "--quiet",
    ]
    if cookie:
        command.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    for attempt in range(1, TRIES + 1):
        out.unlink(missing_ok=True)
        result = subprocess.run(
            command,
            env={**os.environ, "CHROME_PATH": chrome},
            capture_output=True,
            text=True,
        )
        report = json.loads(out.read_text()) if out.exists() else {}
        error = report.get("runtimeError") or (
            f"exit {result.returncode}: {result.stderr[-4000:]}{result.stdout[-2000:]}"
            if result.returncode != 0 or not report
            else None
        )
        if error is None:
            return report
        # Chromium on a busy machine now and then loses the trace (NO_NAVSTART): again.
        print(f"lighthouse on {url}, try {attempt}/{TRIES}: {error}", file=sys.stderr)
    raise SystemExit(f"lighthouse failed on {url} {TRIES} times")


def _where(audit: dict, limit: int = 3) -> list[str]:
    """What an audit found wrong: its first elements (selector and axe's explanation) or
    URLs."""
    lines = []
    for item in audit.get("details", {}).get("items", [])[:limit]:
        node = item.get("node")
        if isinstance(node, dict):
            explanation = " ".join(node.get("explanation", "").split())
            lines.append(f"{node.get('selector', '')}: {explanation}".strip(": "))
        elif isinstance(item.get("url"), str):
            lines.append(item["url"])
    return lines


def _failed_audits(report: dict) -> list[tuple[str, str, str, float, str, tuple]]:
    """(category, audit id, title, weight, display value, where) of every audit below 1."""
    found = []
    for category in CATEGORIES:
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if audit["score"] is None or audit["score"] >= 1:
                continue
            found.append(
                (
                    category,
                    ref["id"],
                    audit["title"],
                    ref["weight"],
                    audit.get("displayValue", ""),
                    tuple(_where(audit)),
                )
            )
    return found


def _machine(chrome: str) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = [
        subprocess.run(command, capture_output=True, text=True).stdout.strip()
        for command in ([chrome, "--version"], ["node", "--version"])
    ]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return [
        f"date: {subprocess.run(['date'], capture_output=True, text=True).stdout.strip()}",
        f"load average (1, 5, 15 min): {load}",
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}",
        f"browser: {versions[0]}; Node {versions[1]}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page")
    parser.add_argument("--settings", default="bench.lighthouse.settings")
    parser.add_argument("--save", type=Path, help="keep every Lighthouse JSON report here")
    args = parser.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE} is missing: run `npm ci` in {HERE}")
    if not shutil.which(chrome):
        raise SystemExit(f"no Chromium at {chrome} (CHROME_PATH)")
    started = time.monotonic()
    for line in _machine(chrome):
        print(line)

    with tempfile.TemporaryDirectory(prefix="antena-lighthouse-") as tmp:
        tmp_path = Path(tmp)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": args.settings,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'lighthouse.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PORTAL_BASE_URL": base,
            "LOG_LEVEL": "ERROR",
        }
        for name in ("REDIS_URL", "CACHE_URL"):
            env.pop(name, None)
        _manage(env, "migrate", "--noinput")
        _manage(env, "seed_demo")
        if args.settings == "bench.lighthouse.settings":
            _manage(env, "collectstatic", "--noinput")
        workers = 2 * (os.cpu_count() or 1)
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "portal.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={workers}",
                "--error-logfile=-",
                "--log-level=warning",
            ],
            cwd=REPO,
            env=env,
        )
        try:
            _wait_until_up(base, server)
            print(f"server: gunicorn, {workers} workers, {args.settings}, {base}")
            cookies = {who: _session_cookie(base, *DEMO[who]) for who in DEMO}
            _warm_up(base, cookies, workers)
            setup = time.monotonic() - started
            reports: dict[str, list[dict]] = {label: [] for label, _, _ in PAGES}
            lighthouse_seconds = []
            for run in range(args.runs):
                for number, (label, path, who) in enumerate(PAGES):
                    out = tmp_path / f"lh-{number}-{run}.json"
                    began = time.monotonic()
                    report = _lighthouse(base + path, cookies.get(who), out, chrome)
                    lighthouse_seconds.append(time.monotonic() - began)
                    final = report.get("finalDisplayedUrl", report.get("finalUrl", ""))
                    if not final.endswith(path):
                        raise SystemExit(f"{path} ended at {final}: not signed in?")
                    reports[label].append(report)
                    if args.save:
                        args.save.mkdir(parents=True, exist_ok=True)
                        shutil.copy(out, args.save / f"{number}-{run}.json")
        finally:
            server.terminate()
            server.wait(timeout=30)

    first = next(iter(reports.values()))[0]
    print(
        f"lighthouse: {first['lighthouseVersion']}, default (mobile) config, "
        f"benchmarkIndex {first['environment']['benchmarkIndex']:.0f}, {args.runs} run(s)/page"
    )
    print()
    print("| page | performance | accessibility | best practices | SEO |")
    print("|---|---|---|---|---|")
    for label, page_reports in reports.items():
        cells = []
        for category in CATEGORIES:
            scores = [round(100 * r["categories"][category]["score"]) for r in page_reports]
            cell = f"{statistics.median(scores):.0f}"
            if min(scores) != max(scores):
                cell += f" ({min(scores)}–{max(scores)})"
            cells.append(cell)
        print(f"| {label} | {' | '.join(cells)} |")
    print()
    print("Audits below 1 (category, id, title, weight in its category, runs it failed in):")
    for label, page_reports in reports.items():
        failed: dict[tuple, int] = {}
        values: dict[tuple, list[str]] = {}
        where: dict[tuple, set[str]] = {}
        for report in page_reports:
            for category, audit_id, title, weight, value, found in _failed_audits(report):
                key = (category, audit_id, title, weight)
                failed[key] = failed.get(key, 0) + 1
                if value:
                    values.setdefault(key, []).append(value)
                where.setdefault(key, set()).update(found)
        print(f"\n{label}:")
        if not failed:
            print("  none")
        for key, count in sorted(failed.items(), key=lambda item: (item[0][0], -item[0][3])):
            category, audit_id, title, weight = key
            shown = f" [{', '.join(dict.fromkeys(values[key]))}]" if key in values else ""
            print(
                f"  {category}: {audit_id} — {title}{shown} "
                f"(weight {weight}, {count}/{args.runs} runs)"
            )
            for line in sorted(where[key]):
                print(f"      {line}")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"\nload average at the end (1, 5, 15 min): {load}")
    total = time.monotonic() - started
    print(
        f"\ntime: {total:.0f} s in all ({setup:.0f} s setup; each Lighthouse run "
        f"{statistics.median(lighthouse_seconds):.1f} s median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
