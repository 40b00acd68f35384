"""Contracts written before the recompute existed get what it derives them from: a
service period for a vigencia no period reaches (given in the admin or an import), and a
hold for a suspension that credit does not explain (every suspension then was staff's)."""

import datetime
import zoneinfo

from django.db import migrations
from django.db.models import Max
from django.utils import timezone


def forwards(apps, schema_editor):
    Contract = apps.get_model("accounts", "Contract")
    ServicePeriod = apps.get_model("billing", "ServicePeriod")
    ServiceHold = apps.get_model("billing", "ServiceHold")
    periods_end = dict(
        ServicePeriod.objects.values("contract_id")
        .annotate(end=Max("ends_on"))
        .values_list("contract_id", "end")
    )
    periods, holds = [], []
    for contract in Contract.objects.select_related("plan", "provider").iterator():
        end = periods_end.get(contract.pk)
        if contract.paid_until and (end is None or contract.paid_until > end):
            periods.append(
                ServicePeriod(
                    contract_id=contract.pk,
                    plan_id=contract.plan_id,
                    starts_on=end
                    or contract.paid_until
                    - datetime.timedelta(days=max(1, contract.plan.period_days)),
                    ends_on=contract.paid_until,
                    description="Vigencia inicial",
                )
            )
        if contract.status == "suspended":
            today = timezone.localdate(timezone=zoneinfo.ZoneInfo(contract.provider.time_zone))
            without_credit = contract.billing_mode == "prepaid" and (
                contract.paid_until is None or contract.paid_until <= today
            )
            if not without_credit:
                holds.append(ServiceHold(contract_id=contract.pk, reason="Suspendido por el ISP"))
    ServicePeriod.objects.bulk_create(periods, batch_size=500)
    ServiceHold.objects.bulk_create(holds, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_service_state"),
        ("billing", "0003_service_operated"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
