"""Contract CSV import: every line is checked first, then all of it is written or nothing.

The file format is a stable interface (DESIGN.md): UTF-8 with a header row and the columns
in `COLUMNS`. Used by `manage.py import_contracts` and by "Importar CSV" in the admin.
"""

import csv
import dataclasses
import datetime
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.phones import phone_normalize

from .models import Contract, Provider

logger = logging.getLogger(__name__)

COLUMNS = (
    "provider_code",
    "contract_number",
    "holder_name",
    "installation_address",
    "phone",
    "email",
    "zone",
    "plan",
    "billing_mode",
    "paid_until",
    "status",
)
MAX_LINES = 20_000
MAX_BYTES = 5 * 1024 * 1024
# Rows per query: keeps `IN (...)` lists and bulk writes under SQLite's parameter limit.
BATCH_SIZE = 500
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True)
class LineError:
    """One problem in the file; `line` is None when it is about the whole file."""

    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("línea %(line)s: %(message)s") % {"line": self.line, "message": self.message}


@dataclasses.dataclass
class ImportReport:
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return ngettext(
                "El archivo tiene %(count)s error; no se importó nada.",
                "El archivo tiene %(count)s errores; no se importó nada.",
                len(self.errors),
            ) % {"count": len(self.errors)}
        counts = {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}
        if self.dry_run:
            return (
                _(
                    "Archivo válido, no se guardó nada. Al importarlo: creados %(created)s, "
                    "actualizados %(updated)s, sin cambios %(unchanged)s."
                )
                % counts
            )
        return (
            _(
                "Contratos importados: creados %(created)s, actualizados %(updated)s, "
                "sin cambios %(unchanged)s."
            )
            % counts
        )


@dataclasses.dataclass(frozen=True)
class _ContractRow:
    line: int
    provider: Provider
    number: str
    # Contract attributes to set (`zone_id`, `plan_id` for the foreign keys). Never `user`
    # or `claimed_at`: they belong to the subscriber who claimed the contract.
    values: dict[str, Any]


class _FileRejected(Exception):
    def __init__(self, error: LineError) -> None:
        super().__init__(str(error))
        self.error = error


def contracts_import(*, rows_file: IO[bytes], dry_run: bool = False) -> ImportReport:
    """Create or update contracts on (provider, contract number) from a CSV file.

    When any line is wrong nothing is written and the report lists every wrong line.
    Importing the same file again changes nothing. `user` and `claimed_at` are never
    touched. With `dry_run` the file is checked and counted, and nothing is written.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        records = _records_read(rows_file)
    except _FileRejected as rejected:
        report.errors.append(rejected.error)
        return report
    rows, errors = _rows_validate(records)
    if errors:
        report.errors.extend(errors)
        return report
    if dry_run:
        _changes_apply(rows=rows, report=report, write=False)
        return report
    try:
        with transaction.atomic():
            _changes_apply(rows=rows, report=report, write=True)
    except IntegrityError:
        # Another import created one of these contracts between our read and our insert.
        return ImportReport(
            errors=[
                LineError(
                    None,
                    _(
                        "Otro proceso cambió estos contratos al mismo tiempo; no se importó "
                        "nada. Vuelve a intentarlo."
                    ),
                )
            ]
        )
    logger.info(
        "contracts imported created=%s updated=%s unchanged=%s",
        report.created,
        report.updated,
        report.unchanged,
    )
    return report


def _records_read(rows_file: IO[bytes]) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank record; the first one is the header."""
    raw = rows_file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise _FileRejected(
            LineError(
                None,
                _("El archivo pesa más de %(megabytes)s MB; divídelo en partes más pequeñas.")
                % {"megabytes": MAX_BYTES // (1024 * 1024)},
            )
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _FileRejected(
            LineError(
                raw[: error.start].count(b"\n") + 1,
                _("el archivo no está en UTF-8; guárdalo como «CSV UTF-8»."),
            )
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    last_line = 0
    try:
        for fields in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if last_line > MAX_LINES:
                raise _FileRejected(
                    LineError(
                        None,
                        _(
                            "El archivo tiene más de %(max_lines)s líneas; divídelo en partes "
                            "más pequeñas."
                        )
                        % {"max_lines": MAX_LINES},
                    )
                )
            # Spreadsheets leave empty lines and lines of bare commas at the end.
            if any(field.strip() for field in fields):
                records.append((first_line, fields))
    except csv.Error as error:
        raise _FileRejected(
            LineError(last_line + 1, _("el CSV está mal formado (%(error)s).") % {"error": error})
        ) from None
    if not records:
        raise _FileRejected(LineError(None, _("El archivo está vacío.")))
    return records


def _header_positions(*, line: int, header: list[str]) -> tuple[dict[str, int], list[LineError]]:
    names = [name.strip().lower() for name in header]
    errors = []
    missing = [column for column in COLUMNS if column not in names]
    extra = [name or "«»" for name in names if name not in COLUMNS]
    repeated = [column for column in COLUMNS if names.count(column) > 1]
    if missing:
        errors.append(
            LineError(line, _("faltan las columnas: %(columns)s") % {"columns": ", ".join(missing)})
        )
    if extra:
        errors.append(
            LineError(line, _("sobran las columnas: %(columns)s") % {"columns": ", ".join(extra)})
        )
    if repeated:
        errors.append(
            LineError(line, _("columnas repetidas: %(columns)s") % {"columns": ", ".join(repeated)})
        )
    if len(names) == 1 and ";" in names[0]:
        errors.append(LineError(line, _("separa las columnas con comas, no con punto y coma.")))
    return {name: position for position, name in enumerate(names)}, errors


def value_shown(value: str, *, limit: int = 60) -> str:
    """A value as it goes in a message: quoted, and cut when it is very long."""
    return "«" + (value if len(value) <= limit else value[: limit - 1] + "…") + "»"


def _rows_validate(
    records: list[tuple[int, list[str]]],
) -> tuple[list[_ContractRow], list[LineError]]:
    (header_line, header), *body = records
    positions, errors = _header_positions(line=header_line, header=header)
    if errors:
        return [], errors
    # accounts does not import plans (DESIGN.md: imports point one way): the contract's
    # foreign keys name the zone and plan models.
    zone_model = Contract._meta.get_field("zone").related_model
    plan_model = Contract._meta.get_field("plan").related_model
    providers = {provider.code: provider for provider in Provider.objects.all()}
    zones = {(zone.provider_id, zone.name): zone for zone in zone_model.objects.all()}
    plans = {(plan.provider_id, plan.name): plan for plan in plan_model.objects.all()}
    first_seen: dict[tuple[str, str], int] = {}
    rows = []
    for line, fields in body:
        if len(fields) != len(header):
            errors.append(
                LineError(
                    line,
                    _("tiene %(found)s columnas y el encabezado tiene %(expected)s.")
                    % {"found": len(fields), "expected": len(header)},
                )
            )
            continue
        value = {column: fields[positions[column]].strip() for column in COLUMNS}
        line_errors = list(
            _row_problems(value=value, providers=providers, zones=zones, plans=plans)
        )
        key = (value["provider_code"], value["contract_number"])
        if value["contract_number"] and key in first_seen:
            line_errors.append(
                _(
                    "contract_number %(number)s de provider_code %(code)s ya aparece en la línea "
                    "%(line)s."
                )
                % {
                    "number": value_shown(key[1]),
                    "code": value_shown(key[0]),
                    "line": first_seen[key],
                }
            )
        first_seen.setdefault(key, line)
        if line_errors:
            errors.extend(LineError(line, message) for message in line_errors)
            continue
        provider = providers[value["provider_code"]]
        rows.append(
            _ContractRow(
                line=line,
                provider=provider,
                number=value["contract_number"],
                values={
                    "holder_name": value["holder_name"],
                    "installation_address": value["installation_address"],
                    "phone": phone_normalize(value["phone"], country=provider.country),
                    "email": value["email"],
                    "zone_id": zones[(provider.pk, value["zone"])].pk,
                    "plan_id": plans[(provider.pk, value["plan"])].pk,
                    "billing_mode": value["billing_mode"],
                    "paid_until": (
                        datetime.date.fromisoformat(value["paid_until"])
                        if value["paid_until"]
                        else None
                    ),
                    "status": value["status"],
                },
            )
        )
    return rows, errors


def _row_problems(
    *,
    value: dict[str, str],
    providers: dict[str, Provider],
    zones: dict[tuple[int, str], Any],
    plans: dict[tuple[int, str], Any],
) -> Iterator[str]:
    """The message of every problem in one line, in column order."""

    def empty(column: str) -> str:
        return _("%(column)s está vacío.") % {"column": column}

    def too_long(column: str, limit: int) -> str:
        return _("%(column)s %(value)s pasa de %(limit)s caracteres.") % {
            "column": column,
            "value": value_shown(value[column]),
            "limit": limit,
        }

    provider = providers.get(value["provider_code"])
    if not value["provider_code"]:
        yield empty("provider_code")
    elif provider is None:
        yield _("provider_code %(value)s no es un proveedor conocido.") % {
            "value": value_shown(value["provider_code"])
        }
    for column, field_name in (
        ("contract_number", "number"),
        ("holder_name", "holder_name"),
        ("installation_address", "installation_address"),
    ):
        limit = Contract._meta.get_field(field_name).max_length
        if not value[column]:
            yield empty(column)
        elif len(value[column]) > limit:
            yield too_long(column, limit)
    if not value["phone"]:
        yield empty("phone")
    elif provider is not None and phone_normalize(value["phone"], country=provider.country) is None:
        yield _("phone %(value)s no es un celular válido para %(country)s.") % {
            "value": value_shown(value["phone"]),
            "country": provider.country,
        }
    if value["email"]:
        try:
            validate_email(value["email"])
        except ValidationError:
            yield _("email %(value)s no es un correo electrónico válido.") % {
                "value": value_shown(value["email"])
            }
    for column, known in (("zone", zones), ("plan", plans)):
        if not value[column]:
            yield empty(column)
        elif provider is not None and (provider.pk, value[column]) not in known:
            yield _("%(column)s %(value)s no existe en el proveedor %(code)s.") % {
                "column": column,
                "value": value_shown(value[column]),
                "code": provider.code,
            }
    if value["billing_mode"] not in Contract.BillingMode.values:
        yield _("billing_mode %(value)s no es válido; usa prepaid o postpaid.") % {
            "value": value_shown(value["billing_mode"])
        }
    if value["paid_until"] and not _is_date(value["paid_until"]):
        yield _("paid_until %(value)s no es una fecha válida AAAA-MM-DD.") % {
            "value": value_shown(value["paid_until"])
        }
    if value["status"] not in Contract.Status.values:
        yield _("status %(value)s no es válido; usa active, suspended o cancelled.") % {
            "value": value_shown(value["status"])
        }


def _is_date(text: str) -> bool:
    if not DATE_PATTERN.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


def _contracts_existing(*, rows: list[_ContractRow], lock: bool) -> dict[tuple[int, str], Contract]:
    """The contracts the file names that exist already, by (provider id, number).

    With `lock`, the rows are locked in primary-key order (STYLE.md), so two writers that
    lock several contracts never wait on each other in a circle.
    """
    numbers_by_provider: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        numbers_by_provider[row.provider.pk].append(row.number)
    ids = []
    for provider_id, numbers in numbers_by_provider.items():
        for batch in _batches(numbers):
            ids.extend(
                Contract.objects.filter(provider_id=provider_id, number__in=batch).values_list(
                    "pk", flat=True
                )
            )
    ids.sort()
    existing = {}
    for batch in _batches(ids):
        contracts = Contract.objects.filter(pk__in=batch).order_by("pk")
        if lock:
            contracts = contracts.select_for_update()
        for contract in contracts:
            existing[(contract.provider_id, contract.number)] = contract
    return existing


def _changes_apply(*, rows: list[_ContractRow], report: ImportReport, write: bool) -> None:
    """Count (and with `write`, make) the creations and updates the rows ask for."""
    existing = _contracts_existing(rows=rows, lock=write)
    to_create = []
    to_update = []
    for row in rows:
        contract = existing.get((row.provider.pk, row.number))
        if contract is None:
            to_create.append(Contract(provider=row.provider, number=row.number, **row.values))
            continue
        values = dict(row.values)
        # Once a contract has a vigencia, billing owns it (payments extend it): a file may
        # move it forward, never back, so re-importing an old export cannot undo a payment.
        if contract.paid_until and (
            values["paid_until"] is None or values["paid_until"] < contract.paid_until
        ):
            values["paid_until"] = contract.paid_until
        changed = [name for name, new in values.items() if getattr(contract, name) != new]
        if not changed:
            report.unchanged += 1
            continue
        for name in changed:
            setattr(contract, name, values[name])
        to_update.append((contract, changed))
    report.created = len(to_create)
    report.updated = len(to_update)
    if not write:
        return
    Contract.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    # One UPDATE per changed contract, of the changed columns only: bulk_update()'s CASE
    # over every column took 26 s for 20,000 rows on SQLite.
    for contract, changed in to_update:
        contract.save(update_fields=[*changed, "updated_at"])
