"""What finding the ISP of a request costs as one install serves more ISPs (issue 14).

    .venv/bin/python bench/portals_bench.py [--isps 1,20,100,500] [--calls 3000]

Every request to a portal asks `accounts.selectors.provider_for_host` (or `_for_code`)
which ISP it is for; the answer comes from one cache entry, the portals' map. This
measures that call's CPU per request against an empty cache read of the same Redis in the
same run (the floor: one round trip), with 1, 20, 100 and 500 active ISPs in the map.

The ISPs are written in a temporary SQLite database (the map is read from the database
once, then from the cache; the database does not enter the figures). Needs Redis
(REDIS_BENCH_URL, default redis://127.0.0.1:6379; database 13, emptied before and after).
"""

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isps", default="1,20,100,500")
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    scratch = tempfile.mkdtemp(prefix="portals-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["CACHE_URL"] = os.environ.get("REDIS_BENCH_URL", "redis://127.0.0.1:6379") + "/13"
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import Provider
    from accounts.selectors import provider_for_host

    def cpu_per_call(function) -> float:
        function()
        started = time.process_time()
        for _ in range(args.calls):
            function()
        return (time.process_time() - started) / args.calls * 1e6

    call_command("migrate", verbosity=0)
    now = datetime.datetime.now(datetime.UTC)
    print(f"date: {now:%Y-%m-%d %H:%M} UTC; CPU per call in µs, {args.calls} calls")
    print("| ISPs | provider_for_host | an empty cache read (floor) | map in Redis, bytes |")
    print("|---|---|---|---|")
    cache.clear()
    for count in [int(n) for n in args.isps.split(",")]:
        with transaction.atomic():
            Provider.objects.bulk_create(
                Provider(
                    code=str(1000 + n),
                    name=f"ISP {n}",
                    handle_domain=f"isp{n}",
                    portal_host=f"portal.isp{n}.example",
                    country="MX",
                    currency="MXN",
                )
                for n in range(count)
            )
            cache.clear()
            host = f"portal.isp{count // 2}.example"
            assert provider_for_host(host=host).name == f"ISP {count // 2}"
            size = sum(
                len(cache._cache.get_client().get(key) or b"")
                for key in cache._cache.get_client().keys("*")
            )
            found = cpu_per_call(lambda host=host: provider_for_host(host=host))
            floor = cpu_per_call(lambda: cache.get("nothing-here"))
            print(f"| {count} | {found:.1f} | {floor:.1f} | {size:,} |")
            transaction.set_rollback(True)
    cache.clear()
    shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
