from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.imports import COLUMNS, contracts_import
from core.audit import Channel, audit_context


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

    def handle(self, *args, file: Path, dry_run: bool, **options):
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
