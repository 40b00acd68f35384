"""A real Celery worker on Redis, against the same PostgreSQL test database."""

import datetime
import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import VerificationCode
from accounts.tasks import verification_codes_purge
from portal.celery import app as celery_app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(settings):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    celery_app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if celery_app.control.ping(timeout=1.0):
                break
            assert process.poll() is None, process.stdout.read().decode()
        else:
            pytest.fail("the Celery worker did not answer within 60 s")
        yield process
    finally:
        celery_app.conf.task_always_eager = True
        process.terminate()
        process.wait(timeout=30)


def _code(*, expires_at):
    return VerificationCode.objects.create(
        purpose=VerificationCode.Purpose.CLAIM,
        token=os.urandom(8).hex(),
        code_hash="x" * 64,
        expires_at=expires_at,
    )


def test_the_worker_purges_expired_codes(worker):
    now = timezone.now()
    stale = _code(expires_at=now - datetime.timedelta(days=2))
    fresh = _code(expires_at=now + datetime.timedelta(minutes=5))

    result = verification_codes_purge.delay()

    assert result.get(timeout=60) == 1
    remaining = set(VerificationCode.objects.values_list("pk", flat=True))
    assert remaining == {fresh.pk}
    assert stale.pk not in remaining
