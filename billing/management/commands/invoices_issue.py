import datetime

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Provider
from billing.invoicing import invoices_issue_due
from core.audit import Channel, audit_context


class Command(BaseCommand):
    help = (
        "Issue the postpaid invoices whose billing day is --date (default: each ISP's "
        "today), once per contract and period: run it for every day of a month to catch up."
    )

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="CODE", help="only this ISP's contracts")
        parser.add_argument("--date", metavar="YYYY-MM-DD", help="the billing day to issue")

    def handle(self, *args, provider=None, date=None, **options):
        selected = None
        if provider is not None:
            selected = Provider.objects.filter(code=provider).first()
            if selected is None:
                raise CommandError(f"No hay un proveedor con el código {provider!r}.")
        on = None
        if date is not None:
            try:
                on = datetime.date.fromisoformat(date)
            except ValueError:
                raise CommandError(f"--date {date!r} no es una fecha AAAA-MM-DD.") from None
        with audit_context(channel=Channel.COMMAND):
            issued = invoices_issue_due(provider=selected, on=on)
        self.stdout.write(f"Facturas emitidas: {issued}.")
