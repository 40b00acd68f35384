from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Provider
from core.audit import Channel, audit_context
from payments.models import SettlementLine
from payments.settlement import (
    COLUMNS,
    SETTLEMENT_PARSERS,
    FileRefused,
    settlement_file_import,
    settlement_line_text,
    settlement_needs_review,
    settlement_summary,
)

# Exit statuses: 0 every line credited or already applied; 1 the file was refused and
# nothing changed; 2 imported, but some lines are wrong or wait in the review queue.
NEEDS_REVIEW = 2


class Command(BaseCommand):
    help = (
        "Import a store's or bank's settlement file for one provider (generic format: a UTF-8 "
        "CSV with the columns " + ", ".join(COLUMNS) + "). Good lines are credited once, the "
        "others are reported and wait in the review queue. Prints every line not credited."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The settlement file.")
        parser.add_argument(
            "--provider", required=True, metavar="CODE", help="The ISP's code, e.g. 111."
        )
        parser.add_argument(
            "--format",
            default="generic",
            choices=sorted(SETTLEMENT_PARSERS),
            help="The file's layout (default: generic).",
        )

    def handle(self, *args, file: Path, provider: str, format: str, **options):
        found = Provider.objects.filter(code=provider).first()
        if found is None:
            raise CommandError(f"No hay un proveedor con el código {provider}.")
        try:
            raw = file.read_bytes()
        except OSError as error:
            raise CommandError(f"No se puede leer {file}: {error.strerror}") from None
        try:
            with audit_context(channel=Channel.COMMAND):
                settlement = settlement_file_import(
                    provider=found, raw=raw, filename=file.name, parser_name=format
                )
        except FileRefused as refused:
            for error in refused.errors:
                self.stderr.write(str(error))
            raise CommandError("El archivo no se importó; no se acreditó nada.") from None
        self.stdout.write(settlement_summary(settlement))
        not_credited = (
            SettlementLine.objects.filter(settlement_import=settlement)
            .exclude(outcome__in=[SettlementLine.Outcome.CREDITED])
            .order_by("line_number")
        )
        for line in not_credited.iterator(chunk_size=2000):
            self.stdout.write(settlement_line_text(line))
        if settlement_needs_review(settlement):
            raise CommandError(
                "Hay líneas con error o pendientes de revisión.", returncode=NEEDS_REVIEW
            )
