import datetime
import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts import sms
from core import ratelimits
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres/redis skip on a bare dev box, and fail under REQUIRE_SERVICES=1."""
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    redis_up = _redis_reachable()
    missing = {"postgres": not on_postgres, "redis": not redis_up}
    for item in items:
        for marker, is_missing in missing.items():
            if item.get_closest_marker(marker) and is_missing:
                reason = f"{marker} not available (set DATABASE_URL / REDIS_URL)"
                if REQUIRE_SERVICES:
                    item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
                    item.user_properties.append(("missing_service", reason))
                else:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _fail_missing_service(request):
    reasons = [value for key, value in request.node.user_properties if key == "missing_service"]
    pytest.fail("REQUIRE_SERVICES=1 but " + "; ".join(reasons))


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Stored files (invoice PDFs, settlement uploads) go to the test's own directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _clean_slate():
    """Every test starts with no rate-limit counters and an empty SMS outbox."""
    cache.clear()
    ratelimits._under_limit_until.clear()
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def outbox_worker_elsewhere():
    """As in production: the outbox hands its messages to a worker (here: nowhere) instead
    of doing the work in the request. Yields the mocked `apply_async`."""
    from unittest import mock

    from core.tasks import outbox_run_task
    from portal.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    try:
        with mock.patch.object(outbox_run_task, "apply_async") as apply_async:
            yield apply_async
    finally:
        celery_app.conf.task_always_eager = True


@pytest.fixture
def admin_without_totp(settings):
    """Staff reach the admin without setting up TOTP (tests/accounts/test_admin_mfa.py
    covers it)."""
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def kona():
    return ProviderFactory(code="111", name="KONA", handle_domain="kona")


@pytest.fixture
def interatos():
    """The Argentine ISP of Wispro's portal: pesos written "$ 2.590,00", Córdoba time."""
    return ProviderFactory(
        code="222",
        name="Interatos",
        handle_domain="interatos",
        country="AR",
        currency="ARS",
        locale="es_AR",
        currency_format="¤ #,##0.00",
        time_zone="America/Argentina/Cordoba",
        support_phone="0351 555 1234",
    )


@pytest.fixture
def juan(kona):
    """A prepaid KONA subscriber in zone Norte with Plan Básico (30 days, $250)."""
    zone = ZoneFactory(provider=kona, name="Norte")
    plan = PlanFactory(provider=kona, name="Plan Básico", price=Decimal("250.00"), period_days=30)
    plan.zones.add(zone)
    user = UserFactory(provider=kona, username="juan@kona")
    ContractFactory(
        provider=kona,
        number="1002",
        user=user,
        zone=zone,
        plan=plan,
        paid_until=kona.today() + datetime.timedelta(days=5),
    )
    return user
