from django.core.management.base import BaseCommand, CommandError

from accounts.models import Provider
from billing.recompute import contracts_recompute
from core.audit import audit_context
from core.jobs import job_lock
from core.models import AuditEntry


class Command(BaseCommand):
    help = (
        "Recompute every contract's vigencia, plan in effect and service status from its "
        "service periods, promises and holds (what the beat does every five minutes), "
        "recording and sending each change. Safe to run at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="CODE", help="only this ISP's contracts")

    def handle(self, *args, provider=None, **options):
        selected = None
        if provider is not None:
            selected = Provider.objects.filter(code=provider).first()
            if selected is None:
                raise CommandError(f"No hay un proveedor con el código {provider!r}.")
        with (
            audit_context(channel=AuditEntry.Channel.COMMAND),
            job_lock("recompute_validity") as held,
        ):
            if not held:
                raise CommandError("El recálculo ya está en marcha en otro proceso.")
            changes = contracts_recompute(provider=selected)
        self.stdout.write(f"Cambios de servicio registrados: {changes}.")
