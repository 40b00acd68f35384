"""Platform staff pause and run the periodic jobs from the admin; a job runs once at a
time whoever starts it."""

import datetime

import pytest
import time_machine
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.jobs import job_lock
from core.tenancy import PLATFORM_ROLE
from tests.factories import ContractFactory, ProviderFactory, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_without_totp")]

AFTER_VIGENCIA = datetime.datetime(2026, 12, 5, 18, 0, tzinfo=datetime.UTC)


@pytest.fixture
def job():
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    return PeriodicTask.objects.create(
        name="recompute-validity", task="billing.tasks.recompute_validity_task", interval=every
    )


@time_machine.travel(AFTER_VIGENCIA, tick=False)
def test_run_now_from_the_admin_recomputes(client, job):
    contract = ContractFactory(
        provider=ProviderFactory(code="111"), paid_until=datetime.date(2026, 12, 1)
    )
    client.force_login(staff_of(None, PLATFORM_ROLE))

    response = client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "run_tasks", "_selected_action": [job.pk]},
    )

    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == "suspended"


@time_machine.travel(AFTER_VIGENCIA, tick=False)
def test_run_now_beside_a_running_job_does_nothing(client, job):
    contract = ContractFactory(
        provider=ProviderFactory(code="111"), paid_until=datetime.date(2026, 12, 1)
    )
    client.force_login(staff_of(None, PLATFORM_ROLE))
    with job_lock("recompute_validity") as held:
        assert held
        client.post(
            "/admin/django_celery_beat/periodictask/",
            {"action": "run_tasks", "_selected_action": [job.pk]},
        )
        contract.refresh_from_db()
        assert contract.status == "active"  # the other run has it


def test_a_paused_job_stays_paused_and_isp_staff_cannot_touch_it(client, job):
    from accounts.roles import ISP_ADMIN_ROLE

    client.force_login(staff_of(None, PLATFORM_ROLE))
    client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "disable_tasks", "_selected_action": [job.pk]},
    )
    job.refresh_from_db()
    assert job.enabled is False

    client.force_login(staff_of(ProviderFactory(code="222"), ISP_ADMIN_ROLE))
    client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "enable_tasks", "_selected_action": [job.pk]},
    )
    job.refresh_from_db()
    assert job.enabled is False
