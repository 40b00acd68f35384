"""Contract CSV import: every line is checked first, then all of it is written or nothing.

The file format is a stable interface (DESIGN.md): UTF-8 with a header row and the columns
in `COLUMNS`, and any of `OPTIONAL_COLUMNS` (an absent one keeps the stored value). Used
by `manage.py import_contracts` and by "Importar CSV" in the admin.

Vigencia and status are not written as given: a vigencia later than the contract's
becomes an opening service period, "suspended" a hold by the ISP and "active" its lifting,
"cancelled" a cancellation (billing.services.service_orders_apply); the recompute then
derives the contract's vigencia, plan and status, so importing the same file again after
it changes nothing.
"""

import dataclasses
import datetime
import ipaddress
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Contract, Provider, User
from accounts.services import contracts_phone_changed_notify
from core.audit import audit_action, audit_changes, audit_entries_record, audit_entry_new
from core.bulk import rows_insert, rows_update
from core.csvfile import CsvFile, CsvRecord, FileRefused, LineError, value_shown
from core.dates import FIRST_YEAR, LAST_YEAR, year_accepted
from core.locks import rows_locked
from core.phones import phone_normalize
from plans.models import Plan, Zone

from .models import ServiceChange, ServiceHold
from .recompute import contracts_recompute
from .services import ServiceOrder, service_orders_apply

CONTRACT_IMPORTED = audit_action(
    "contract.imported", gettext_lazy("Importado de un CSV de contratos")
)

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
OPTIONAL_COLUMNS = ("ip_address",)
MAX_LINES = 20_000
MAX_BYTES = 5 * 1024 * 1024
# Rows per query: keeps `IN (...)` lists and bulk writes under SQLite's parameter limit.
BATCH_SIZE = 500
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass
class ImportReport:
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = dataclasses.field(default_factory=list)
    # The contracts the file names, as (provider id, number), once imported.
    contract_keys: list[tuple[int, str]] = dataclasses.field(default_factory=list)

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
    # The zone's and the plan's names, as the file gives them.
    names: dict[str, str]
    # The vigencia and status the file gives, carried out as service orders.
    vigencia: datetime.date | None
    status: str


def contracts_import(
    *,
    rows_file: IO[bytes],
    dry_run: bool = False,
    providers: QuerySet[Provider] | None = None,
    actor: User | None = None,
) -> ImportReport:
    """Create or update contracts on (provider, contract number) from a CSV file.

    `providers` are the ISPs the file may name (staff of one ISP: theirs); None: any.
    Every contract created or changed gets an audit row with its values before and after.

    When any line is wrong nothing is written and the report lists every wrong line.
    Importing the same file again changes nothing. `user` and `claimed_at` are never
    touched. With `dry_run` the file is checked and counted, and nothing is written.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        csv_file = CsvFile(
            rows_file.read(MAX_BYTES + 1),
            columns=COLUMNS,
            optional=OPTIONAL_COLUMNS,
            max_bytes=MAX_BYTES,
            max_lines=MAX_LINES,
        )
        records = list(csv_file.records())
    except FileRefused as refused:
        report.errors.extend(refused.errors)
        return report
    rows, errors = _rows_validate(
        records, providers=Provider.objects.all() if providers is None else providers
    )
    if errors:
        report.errors.extend(errors)
        return report
    if dry_run:
        _changes_apply(rows=rows, report=report, write=False, actor=actor)
        return report
    try:
        with transaction.atomic():
            _changes_apply(rows=rows, report=report, write=True, actor=actor)
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
    report.contract_keys = [(row.provider.pk, row.number) for row in rows]
    logger.info(
        "contracts imported created=%s updated=%s unchanged=%s",
        report.created,
        report.updated,
        report.unchanged,
    )
    return report


def _rows_validate(
    records: list[CsvRecord], *, providers: QuerySet[Provider]
) -> tuple[list[_ContractRow], list[LineError]]:
    errors = []
    providers = {provider.code: provider for provider in providers}
    zones = {
        (zone.provider_id, zone.name): zone
        for zone in Zone.objects.filter(provider__in=providers.values())
    }
    plans = {
        (plan.provider_id, plan.name): plan
        for plan in Plan.objects.filter(provider__in=providers.values())
    }
    first_seen: dict[tuple[str, str], int] = {}
    rows = []
    for record in records:
        line = record.line
        if record.problems:
            errors.extend(LineError(line, problem) for problem in record.problems)
            continue
        value = record.values
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
        values = {
            "holder_name": value["holder_name"],
            "installation_address": value["installation_address"],
            "phone": phone_normalize(value["phone"], country=provider.country),
            "email": value["email"],
            "zone_id": zones[(provider.pk, value["zone"])].pk,
            "plan_id": plans[(provider.pk, value["plan"])].pk,
            "billing_mode": value["billing_mode"],
        }
        if "ip_address" in value:
            # As the database gives it back (2001:DB8::1 is 2001:db8::1), so that the
            # same file imported again changes nothing.
            address = value["ip_address"]
            values["ip_address"] = str(ipaddress.ip_address(address)) if address else None
        rows.append(
            _ContractRow(
                line=line,
                provider=provider,
                number=value["contract_number"],
                names={"zone": value["zone"], "plan": value["plan"]},
                values=values,
                vigencia=(
                    datetime.date.fromisoformat(value["paid_until"])
                    if value["paid_until"]
                    else None
                ),
                status=value["status"],
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
    elif value["paid_until"] and not year_accepted(
        datetime.date.fromisoformat(value["paid_until"])
    ):
        yield _("paid_until %(value)s está fuera de los años aceptados (%(first)s a %(last)s).") % {
            "value": value_shown(value["paid_until"]),
            "first": FIRST_YEAR,
            "last": LAST_YEAR,
        }
    if value.get("ip_address") and not _is_ip_address(value["ip_address"]):
        yield _("ip_address %(value)s no es una dirección IP válida.") % {
            "value": value_shown(value["ip_address"])
        }
    if value["status"] not in Contract.Status.values:
        yield _("status %(value)s no es válido; usa active, suspended o cancelled.") % {
            "value": value_shown(value["status"])
        }


def _is_ip_address(text: str) -> bool:
    """An IPv4 or IPv6 address the database can keep (no zone such as %eth0)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


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
        contracts = Contract.objects.filter(pk__in=batch).select_related("zone", "plan", "provider")
        if lock:
            contracts = rows_locked(contracts)
        for contract in contracts:
            existing[(contract.provider_id, contract.number)] = contract
    return existing


def _changes_apply(
    *, rows: list[_ContractRow], report: ImportReport, write: bool, actor: User | None
) -> None:
    """Count (and with `write`, make and audit) the creations and updates the rows ask for."""
    existing = _contracts_existing(rows=rows, lock=write)
    held = set(
        ServiceHold.objects.filter(
            contract_id__any=[contract.pk for contract in existing.values()], lifted_at=None
        ).values_list("contract_id", flat=True)
    )
    plans = Plan.objects.in_bulk({row.values["plan_id"] for row in rows})
    to_create = []
    to_update: dict[tuple[str, ...], list[Contract]] = defaultdict(list)
    audited: list[tuple[Contract, dict[str, list]]] = []
    orders: list[ServiceOrder] = []
    for row in rows:
        contract = existing.get((row.provider.pk, row.number))
        if contract is None:
            status = (
                Contract.Status.CANCELLED
                if row.status == Contract.Status.CANCELLED
                else Contract.Status.ACTIVE
            )
            contract = Contract(
                provider=row.provider, number=row.number, status=status, **row.values
            )
            to_create.append(contract)
            audited.append((contract, audit_changes({}, _audited(row.values, row.names))))
            orders.append(
                ServiceOrder(
                    contract=contract,
                    vigencia=row.vigencia,
                    held=row.status == Contract.Status.SUSPENDED,
                    reason=_("Suspendido en el archivo de contratos"),
                )
            )
            continue
        # The plan changes through the service order, with its periods still to run.
        values = {name: new for name, new in row.values.items() if name != "plan_id"}
        plan = plans[row.values["plan_id"]] if row.values["plan_id"] != contract.plan_id else None
        order = _service_order(row=row, contract=contract, held=contract.pk in held, plan=plan)
        changed = tuple(name for name, new in values.items() if getattr(contract, name) != new)
        if not changed and order is None:
            report.unchanged += 1
            continue
        if order is not None:
            orders.append(order)
        if not changed:
            audited.append((contract, {}))
            continue
        before = _audited(
            {name: getattr(contract, name) for name in changed},
            {"zone": contract.zone.name, "plan": contract.plan.name},
        )
        for name in changed:
            setattr(contract, name, values[name])
        to_update[changed].append(contract)
        audited.append(
            (
                contract,
                audit_changes(before, _audited({n: values[n] for n in changed}, row.names)),
            )
        )
    report.created = len(to_create)
    report.updated = len(audited) - len(to_create)
    if not write:
        return
    rows_insert(Contract, objects=to_create)
    now = timezone.now()
    # One UPDATE per set of changed columns (a price change touches the same few in every
    # line), of those columns only.
    for changed, contracts in to_update.items():
        for contract in contracts:
            contract.updated_at = now
        rows_update(Contract, objects=contracts, fields=[*changed, "updated_at"])
    audit_entries_record(
        entries=[
            audit_entry_new(action=CONTRACT_IMPORTED, actor=actor, target=contract, changes=changes)
            for contract, changes in audited
            if changes
        ]
    )
    service_orders_apply(orders=orders, actor=actor)
    # Contracts changed otherwise (a billing mode, say) follow now, not at the next run.
    ordered = {order.contract.pk for order in orders}
    contracts_recompute(
        contract_ids=[contract.pk for contract, _changes in audited if contract.pk not in ordered],
        cause=ServiceChange.Reason.STAFF,
    )
    # The old number of a claimed contract hears that its codes go elsewhere now.
    contracts_phone_changed_notify(
        changes=[
            (contract, changes["phone"][0]) for contract, changes in audited if "phone" in changes
        ]
    )


def _service_order(
    *, row: _ContractRow, contract: Contract, held: bool, plan: Plan | None
) -> ServiceOrder | None:
    """What the file's vigencia and status ask of an existing contract's service, or None.

    A vigencia moves forward, never back: re-importing an old export cannot undo a
    payment. "active" asks for no hold, not for service: a prepaid contract without credit
    stays suspended until it pays.
    """
    vigencia = row.vigencia
    if vigencia is not None and contract.paid_until is not None and vigencia <= contract.paid_until:
        vigencia = None
    cancelled = None
    if (row.status == Contract.Status.CANCELLED) != (contract.status == Contract.Status.CANCELLED):
        cancelled = row.status == Contract.Status.CANCELLED
    hold = None
    if (
        row.status != Contract.Status.CANCELLED
        and (row.status == Contract.Status.SUSPENDED) != held
    ):
        hold = row.status == Contract.Status.SUSPENDED
    if vigencia is None and cancelled is None and hold is None and plan is None:
        return None
    return ServiceOrder(
        contract=contract,
        vigencia=vigencia,
        held=hold,
        reason=_("Suspendido en el archivo de contratos") if hold else "",
        plan=plan,
        cancelled=cancelled,
    )


def _audited(values: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Contract values as the audit shows them: the zone and plan by name, not by id."""
    shown = {}
    for name, value in values.items():
        if name in ("zone_id", "plan_id"):
            shown[name.removesuffix("_id")] = names[name.removesuffix("_id")]
        else:
            shown[name] = value
    return shown
