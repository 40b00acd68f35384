from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import Contract
from billing.imports import COLUMNS, contracts_import
from core.audit import Channel, audit_context
from notifications.services import contracts_invite


class Command(BaseCommand):
    help = (
        "Create or update contracts from a UTF-8 CSV with the columns "
        + ", ".join(COLUMNS)
        + ". When any line is wrong nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change, writing nothing.",
        )
        parser.add_argument(
            "--invite",
            action="store_true",
            help=(
                "Send each active, unclaimed contract of the file not invited before its "
                "number and its ISP's portal by SMS (from the worker, paced)."
            ),
        )

    def handle(self, *args, file: Path, dry_run: bool, invite: bool, **options):
        try:
            with file.open("rb") as rows_file, audit_context(channel=Channel.COMMAND):
                report = contracts_import(rows_file=rows_file, dry_run=dry_run)
        except OSError as error:
            raise CommandError(f"No se puede leer {file}: {error.strerror}") from None
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            raise CommandError(report.summary())
        self.stdout.write(report.summary())
        if invite and not dry_run:
            keys = Q(pk__in=[])
            for provider_id, number in report.contract_keys:
                keys |= Q(provider_id=provider_id, number=number)
            with audit_context(channel=Channel.COMMAND):
                invited = contracts_invite(
                    contract_ids=list(Contract.objects.filter(keys).values_list("pk", flat=True)),
                    again=False,
                    actor=None,
                )
            self.stdout.write(f"Invitaciones por enviar: {invited}.")
