"""Every write of billing: ledger entries, invoices, prepaid periods. Each leaves a trace."""

import datetime
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Required, TypedDict, Unpack

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Contract, Provider, User
from core.audit import audit_action, audit_change_label, audit_entries_record, audit_entry_new
from core.bulk import rows_insert, rows_update
from core.dates import FIRST_YEAR, LAST_YEAR, year_accepted
from core.locks import rows_locked
from core.models import AppendOnlyError
from core.money import money_quantize
from core.outbox import outbox_enqueue
from notifications.services import notifications_withdraw
from plans.models import Plan

from .models import (
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LedgerEntry,
    ServiceChange,
    ServiceHold,
    ServicePeriod,
)
from .recompute import contracts_recompute, service_changes_record

logger = logging.getLogger(__name__)

INVOICE_ISSUED = audit_action("invoice.issued", gettext_lazy("Factura emitida"))
INVOICE_VOIDED = audit_action("invoice.voided", gettext_lazy("Factura anulada"))
LEDGER_ADJUSTED = audit_action("ledger.adjusted", gettext_lazy("Ajuste manual del balance"))
LEDGER_REVERSED = audit_action("ledger.reversed", gettext_lazy("Movimiento del balance revertido"))
VIGENCIA_EXTENDED = audit_action(
    "contract.vigencia_extended", gettext_lazy("Vigencia extendida por un pago")
)


class BillingError(Exception):
    """A refused billing operation; the message is safe to show staff."""


class LedgerValues(TypedDict, total=False):
    """What an entry says: `contract`, `kind`, `amount` and `description` are required."""

    contract: Required[Contract]
    kind: Required[LedgerEntry.Kind]
    amount: Required[Decimal]
    description: Required[str]
    created_by: User | None
    reason: str
    invoice_id: int | None
    reverses: LedgerEntry | None
    occurred_on: datetime.date | None


def ledger_entry_new(
    *,
    contract: Contract,
    kind: LedgerEntry.Kind,
    amount: Decimal,
    description: str,
    created_by: User | None = None,
    reason: str = "",
    invoice_id: int | None = None,
    reverses: LedgerEntry | None = None,
    occurred_on: datetime.date | None = None,
) -> LedgerEntry:
    """One entry, not yet written: `ledger_entries_record` appends it."""
    return LedgerEntry(
        provider_id=contract.provider_id,
        contract_id=contract.pk,
        kind=kind,
        amount=money_quantize(amount),
        currency=contract.provider.currency,
        occurred_on=occurred_on or contract.provider.today(),
        description=description[:200],
        reason=reason[:300],
        created_by_id=created_by.pk if created_by is not None else None,
        invoice_id=invoice_id,
        reverses_id=reverses.pk if reverses is not None else None,
    )


def ledger_entries_record(*, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Append entries made by `ledger_entry_new`, in order.

    The only place ledger rows are created. Each entry gets its id (PostgreSQL, SQLite).
    """
    if any(entry.pk is not None for entry in entries):
        raise AppendOnlyError("ledger entries are append-only")
    return rows_insert(LedgerEntry, objects=entries)


def ledger_record(**values: Unpack[LedgerValues]) -> LedgerEntry:
    """Append one entry; the arguments are those of `ledger_entry_new`."""
    return ledger_entries_record(entries=[ledger_entry_new(**values)])[0]


@transaction.atomic
def ledger_reverse(*, entry: LedgerEntry, created_by: User | None, reason: str) -> LedgerEntry:
    """Cancel a manual entry with an opposite one; an entry is reversed at most once.

    An invoice's charge is undone by voiding the invoice, and a payment credited to a
    plan or an invoice by an adjustment: reversing them here would leave the invoice or
    the vigencia saying otherwise.
    """
    if entry.invoice_id is not None or hasattr(entry, "payment"):
        raise BillingError(
            _(
                "Este movimiento está ligado a una factura o a un pago: anula la factura o "
                "registra un ajuste."
            )
        )
    reversal = _ledger_reverse(entry=entry, created_by=created_by, reason=reason)
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=LEDGER_REVERSED,
                actor=created_by,
                target=reversal.contract,
                changes={"amount": [str(-reversal.amount), str(reversal.amount)]},
                note=f"{reversal.description} · {reason}",
            )
        ]
    )
    return reversal


def _ledger_reverse(*, entry: LedgerEntry, created_by: User | None, reason: str) -> LedgerEntry:
    if not reason.strip():
        raise BillingError(_("Indica el motivo de la reversión."))
    entry = rows_locked(LedgerEntry.objects.select_related("contract__provider")).get(pk=entry.pk)
    if entry.kind == LedgerEntry.Kind.REVERSAL:
        raise BillingError(_("Una reversión no se revierte: registra un ajuste."))
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise BillingError(_("Este movimiento ya fue revertido."))
    return ledger_record(
        contract=entry.contract,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=-entry.amount,
        description=_("Reversión: %(description)s") % {"description": entry.description},
        created_by=created_by,
        reason=reason,
        invoice_id=entry.invoice_id,
        reverses=entry,
    )


@transaction.atomic
def ledger_adjust(
    *, contract: Contract, amount: Decimal, reason: str, created_by: User
) -> LedgerEntry:
    """A manual adjustment by staff: who and why are required."""
    if not reason.strip():
        raise BillingError(_("Indica el motivo del ajuste."))
    if money_quantize(amount) == 0:
        raise BillingError(_("El ajuste no puede ser cero."))
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=LEDGER_ADJUSTED,
                actor=created_by,
                target=contract,
                changes={"amount": [None, str(money_quantize(amount))]},
                note=reason,
            )
        ]
    )
    return ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=amount,
        description=_("Ajuste manual"),
        created_by=created_by,
        reason=reason,
    )


@dataclass(frozen=True)
class LineSpec:
    description: str
    amount: Decimal


def _invoice_number_take(*, provider_id: int) -> int:
    """The next number for the provider, under a lock held until the transaction ends."""
    InvoiceCounter.objects.get_or_create(provider_id=provider_id)
    counter = rows_locked(InvoiceCounter.objects).get(provider_id=provider_id)
    number = counter.next_number
    InvoiceCounter.objects.filter(pk=counter.pk).update(next_number=F("next_number") + 1)
    return number


@transaction.atomic
def invoice_issue(
    *,
    contract: Contract,
    lines: list[LineSpec],
    due_date: datetime.date,
    issue_date: datetime.date | None = None,
    period_start: datetime.date | None = None,
    period_end: datetime.date | None = None,
    created_by: User | None = None,
    second_due_date: datetime.date | None = None,
    second_due_surcharge: Decimal = Decimal("0"),
) -> Invoice:
    """Issue an invoice: take the next number, write its lines and its charge.

    The PDF is rendered once, after commit, and stored.
    """
    if not lines:
        raise BillingError(_("Una factura necesita al menos una línea."))
    provider = contract.provider
    issue_date = issue_date or provider.today()
    if due_date < issue_date:
        raise BillingError(_("El vencimiento no puede ser anterior a la emisión."))
    total = money_quantize(sum((line.amount for line in lines), Decimal("0")))
    if total <= 0:
        raise BillingError(_("El total de la factura debe ser mayor que cero."))
    invoice = Invoice.objects.create(
        provider=provider,
        contract=contract,
        number=_invoice_number_take(provider_id=provider.pk),
        issue_date=issue_date,
        due_date=due_date,
        period_start=period_start,
        period_end=period_end,
        total=total,
        currency=provider.currency,
        created_by=created_by,
        second_due_date=second_due_date,
        second_due_total=(
            money_quantize(total * (100 + second_due_surcharge) / 100) if second_due_date else None
        ),
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice, description=line.description, amount=money_quantize(line.amount)
        )
        for line in lines
    )
    ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.CHARGE,
        amount=-total,
        description=_("Factura Nº %(number)s") % {"number": invoice.number},
        created_by=created_by,
        invoice_id=invoice.pk,
        occurred_on=issue_date,
    )
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=INVOICE_ISSUED,
                actor=created_by,
                target=invoice,
                changes={
                    "number": [None, str(invoice.number)],
                    "total": [None, str(total)],
                    "due_date": [None, due_date.isoformat()],
                },
                note=_("Contrato %(number)s") % {"number": contract.number},
            )
        ]
    )
    from .tasks import invoice_pdf_render

    outbox_enqueue(task=invoice_pdf_render, kwargs={"invoice_id": invoice.pk})
    logger.info("invoice issued provider=%s number=%s", provider.code, invoice.number)
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, reason: str, created_by: User | None) -> Invoice:
    """ANULADA: the invoice stays, with its reason; its charge is reversed."""
    if not reason.strip():
        raise BillingError(_("Indica el motivo de la anulación."))
    invoice = rows_locked(Invoice.objects).get(pk=invoice.pk)
    if invoice.status == Invoice.Status.VOID:
        raise BillingError(_("La factura ya está anulada."))
    if invoice.amount_paid > 0:
        raise BillingError(_("La factura tiene pagos aplicados: revierte los pagos primero."))
    invoice.status = Invoice.Status.VOID
    invoice.void_reason = reason[:300]
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "void_reason", "voided_at"])
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=INVOICE_VOIDED,
                actor=created_by,
                target=invoice,
                changes={"status": [Invoice.Status.ISSUED, Invoice.Status.VOID]},
                note=reason,
            )
        ]
    )
    charge = invoice.ledger_entries.get(kind=LedgerEntry.Kind.CHARGE)
    _ledger_reverse(entry=charge, created_by=created_by, reason=reason)
    notifications_withdraw(events=[(invoice.contract_id, invoice.reminder_event)])
    logger.info("invoice voided id=%s", invoice.pk)
    return invoice


@transaction.atomic
def invoices_settle(*, credits: Sequence[tuple[int, Decimal]]) -> None:
    """Apply money to each contract's open invoices, oldest due first, in the order given.

    `credits` are (contract id, amount) pairs; what is left over stays as credit in the
    ledger. The open invoices of all the contracts are locked at once, by primary key.
    """
    contract_ids = {contract_id for contract_id, _amount in credits}
    open_by_contract: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in rows_locked(
        Invoice.objects.filter(contract_id__any=contract_ids, status=Invoice.Status.ISSUED)
    ):
        open_by_contract[invoice.contract_id].append(invoice)
    paid: dict[int, Invoice] = {}
    for contract_id, amount in credits:
        remaining = money_quantize(amount)
        invoices = sorted(
            open_by_contract[contract_id], key=lambda i: (i.due_date, i.issue_date, i.number)
        )
        for invoice in invoices:
            if remaining <= 0:
                break
            share = min(remaining, invoice.amount_due)
            if share > 0:
                invoice.amount_paid += share
                paid[invoice.pk] = invoice
                remaining -= share
    # The invoices are locked since they were read: what they owe now is written as is.
    rows_update(Invoice, objects=list(paid.values()), fields=["amount_paid"])
    notifications_withdraw(
        events=[
            (invoice.contract_id, invoice.reminder_event)
            for invoice in paid.values()
            if invoice.amount_due == 0
        ]
    )


def invoice_store_pdf(*, invoice: Invoice, content: bytes) -> None:
    """Keep the rendered PDF; the first rendering wins and later ones are discarded."""
    with transaction.atomic():
        locked = rows_locked(Invoice.objects).get(pk=invoice.pk)
        if locked.pdf:
            invoice.pdf = locked.pdf
            return
        locked.pdf.save(
            f"factura-{locked.provider_id}-{locked.number}.pdf", ContentFile(content), save=False
        )
        locked.save(update_fields=["pdf"])
        invoice.pdf = locked.pdf


@dataclass(frozen=True)
class Extension:
    """A prepaid period to add: `days` defaults to the plan's period."""

    contract: Contract
    plan: Plan
    description: str
    days: int | None = None
    paid_by: LedgerEntry | None = None


@transaction.atomic
def prepaid_extend(
    *, extensions: Sequence[Extension], actor: User | None = None
) -> list[ServicePeriod]:
    """Add prepaid periods, in order: a contract named twice gets them end to end.

    Each starts at max(today, paid_until) on the ISP's calendar; credit days go up at
    once. The contracts are locked at once, by primary key; the periods are one INSERT,
    then the contracts are recomputed (billing.recompute); with an `actor`, each
    contract's vigencia before and after is one audit row.
    """
    if any(
        (extension.plan.period_days if extension.days is None else extension.days) <= 0
        for extension in extensions
    ):
        raise BillingError(_("El periodo debe tener al menos un día."))
    # Only what the dates need: a settlement batch extends hundreds of contracts.
    vigencias: dict[int, datetime.date | None] = {}
    provider_of: dict[int, int] = {}
    names: dict[int, str] = {}
    for contract_id, provider_id, paid_until, number, holder_name in rows_locked(
        Contract.objects.filter(pk__any={extension.contract.pk for extension in extensions})
    ).values_list("pk", "provider_id", "paid_until", "number", "holder_name"):
        vigencias[contract_id] = paid_until
        provider_of[contract_id] = provider_id
        names[contract_id] = f"{number} · {holder_name}"
    vigencias_before = dict(vigencias)
    today_of = {
        provider.pk: provider.today()
        for provider in Provider.objects.filter(pk__in=set(provider_of.values()))
    }
    periods = []
    for extension in extensions:
        contract_id = extension.contract.pk
        days = extension.plan.period_days if extension.days is None else extension.days
        today = today_of[provider_of[contract_id]]
        paid_until = vigencias[contract_id]
        starts_on = max(today, paid_until) if paid_until else today
        vigencias[contract_id] = starts_on + datetime.timedelta(days=days)
        periods.append(
            ServicePeriod(
                contract_id=contract_id,
                plan_id=extension.plan.pk,
                starts_on=starts_on,
                ends_on=vigencias[contract_id],
                paid_by_id=extension.paid_by.pk if extension.paid_by is not None else None,
                description=extension.description[:200],
            )
        )
    rows_insert(ServicePeriod, objects=periods)
    # The vigencia is the end of the last period, which this one is: written here, one
    # UPDATE per date, as the recompute would write it. A period stacked on running credit
    # changes nothing else today; one that starts today may restore the service or switch
    # the plan, so those contracts are recomputed now (the subscriber sees "Activo" on the
    # next page, and the network hears it). Recomputing every contract of a settlement
    # batch cost its import a third more (docs/performance.md, "Recompute").
    by_vigencia: dict[datetime.date, list[int]] = defaultdict(list)
    for contract_id, paid_until in vigencias.items():
        by_vigencia[paid_until].append(contract_id)
    now = timezone.now()
    for paid_until, contract_ids in by_vigencia.items():
        Contract.objects.filter(pk__any=contract_ids).update(paid_until=paid_until, updated_at=now)
    starting_today = {
        period.contract_id
        for period in periods
        if period.starts_on == today_of[provider_of[period.contract_id]]
    }
    contracts_recompute(contract_ids=starting_today, cause=ServiceChange.Reason.PAYMENT)
    if actor is not None:
        _vigencias_audit(
            extensions=extensions,
            actor=actor,
            before=vigencias_before,
            after=vigencias,
            names=names,
            provider_of=provider_of,
        )
    if len(vigencias) == 1:
        ((contract_id, paid_until),) = vigencias.items()
        logger.info("prepaid extended contract_id=%s until=%s", contract_id, paid_until)
    else:
        logger.info("prepaid extended contracts=%s periods=%s", len(vigencias), len(periods))
    return periods


def _vigencias_audit(
    *,
    extensions: Sequence[Extension],
    actor: User,
    before: dict[int, datetime.date | None],
    after: dict[int, datetime.date],
    names: dict[int, str],
    provider_of: dict[int, int],
) -> None:
    """One audit row per contract whose vigencia a person moved (an agent's confirmation).

    Crediting by the gateways and by settlement files is not audited row by row: its
    service periods, ledger entries and payment events already keep, append-only, each
    vigencia's start and end, the payment and its source, and the file is audited when
    received and applied. A row per contract there cost a 100,000-line settlement file
    about a sixth more CPU (docs/performance.md).
    """
    descriptions: dict[int, list[str]] = defaultdict(list)
    contracts: dict[int, Contract] = {}
    for extension in extensions:
        descriptions[extension.contract.pk].append(extension.description)
        contracts[extension.contract.pk] = extension.contract
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=VIGENCIA_EXTENDED,
                actor=actor,
                target=contracts[contract_id],
                provider_id=provider_of[contract_id],
                changes={"paid_until": [before[contract_id], paid_until]},
                note=" · ".join(descriptions[contract_id]),
                target_repr=names[contract_id],
            )
            for contract_id, paid_until in after.items()
        ]
    )


HOLD = audit_change_label("hold", gettext_lazy("suspensión por el ISP"))
SERVICE_ORDERED = audit_action(
    "contract.service_ordered", gettext_lazy("Servicio cambiado por el ISP")
)


@dataclass(frozen=True)
class ServiceOrder:
    """What staff (in the admin or by an import) want of one contract's service; None
    leaves that part as it is.

    `vigencia`: service paid until then, by an opening period from the current vigencia
    (or from one plan period before it); never backwards. `held`: a hold (with `reason`)
    placed or lifted. `plan`: the plan from today on. `cancelled`: the contract cancelled,
    or back in service.
    """

    contract: Contract
    vigencia: datetime.date | None = None
    held: bool | None = None
    reason: str = ""
    plan: Plan | None = None
    cancelled: bool | None = None


@transaction.atomic
def service_orders_apply(*, orders: Sequence[ServiceOrder], actor: User | None) -> int:
    """Carry out staff's orders as periods, holds and plan changes, then recompute those
    contracts so that vigencia, plan and status follow at once; returns how many service
    changes were recorded. Every contract ordered gets an audit row of what it asked."""
    if not orders:
        return 0
    # Lock, then read what the orders are decided against.
    ids = [order.contract.pk for order in orders]
    contracts = {
        contract.pk: contract
        for contract in rows_locked(
            Contract.objects.filter(pk__any=ids).select_related("provider", "plan")
        )
    }
    holds = {
        hold.contract_id: hold
        for hold in ServiceHold.objects.filter(contract_id__any=ids, lifted_at=None)
    }
    # Decide.
    now = timezone.now()
    periods, holds_new, holds_lifted, plan_changes, audits = [], [], [], [], []
    cancelled, restored = [], []
    for order in orders:
        contract = contracts[order.contract.pk]
        today = contract.provider.today()
        asked: dict[str, list] = {}
        if order.vigencia is not None and not year_accepted(order.vigencia):
            raise BillingError(
                _("Indica una fecha entre los años %(first)s y %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        if order.vigencia is not None and (
            contract.paid_until is None or order.vigencia > contract.paid_until
        ):
            plan = order.plan or contract.plan
            starts_on = contract.paid_until or min(
                order.vigencia - datetime.timedelta(days=max(1, plan.period_days)), today
            )
            periods.append(
                ServicePeriod(
                    contract_id=contract.pk,
                    plan_id=plan.pk,
                    starts_on=starts_on,
                    ends_on=order.vigencia,
                    description=_("Vigencia dada por el ISP")[:200],
                )
            )
            asked["paid_until"] = [contract.paid_until, order.vigencia]
        if order.held is True and contract.pk not in holds:
            if not order.reason.strip():
                raise BillingError(_("Indica el motivo de la suspensión."))
            holds_new.append(
                ServiceHold(contract_id=contract.pk, reason=order.reason[:300], created_by=actor)
            )
            asked[HOLD] = [None, order.reason]
        elif order.held is False and contract.pk in holds:
            holds_lifted.append(holds[contract.pk].pk)
            asked[HOLD] = [holds[contract.pk].reason, None]
        if order.plan is not None and order.plan.pk != contract.plan_id:
            plan_changes.append((contract, order.plan, today))
            asked["plan"] = [contract.plan.name, order.plan.name]
        if order.cancelled is True and contract.status != Contract.Status.CANCELLED:
            cancelled.append(contract)
            asked["status"] = [contract.status, Contract.Status.CANCELLED]
        elif order.cancelled is False and contract.status == Contract.Status.CANCELLED:
            restored.append(contract.pk)
            asked["status"] = [Contract.Status.CANCELLED, None]
        if asked:
            audits.append(
                audit_entry_new(
                    action=SERVICE_ORDERED,
                    actor=actor,
                    target=contract,
                    changes=asked,
                    note=order.reason,
                )
            )
    # Write.
    rows_insert(ServicePeriod, objects=periods)
    rows_insert(ServiceHold, objects=holds_new)
    ServiceHold.objects.filter(pk__any=holds_lifted).update(lifted_at=now, lifted_by=actor)
    changes = _plans_change(plan_changes=plan_changes, now=now)
    for contract in cancelled:
        # The network cuts a cancelled contract as it would a suspended one.
        changes[contract.provider].append(
            _service_change_new(
                contract=contract,
                event=ServiceChange.Event.SUSPENDED,
                status_to=Contract.Status.CANCELLED,
                plan_id=contract.plan_id,
                now=now,
            )
        )
    for provider, records in changes.items():
        service_changes_record(provider=provider, changes=records)
    Contract.objects.filter(pk__any=[contract.pk for contract in cancelled]).update(
        status=Contract.Status.CANCELLED, updated_at=now
    )
    # Back from cancelled as the network left it, cut: the recompute below restores the
    # service, and tells it, if the contract has credit.
    Contract.objects.filter(pk__any=restored).update(
        status=Contract.Status.SUSPENDED, updated_at=now
    )
    audit_entries_record(entries=audits)
    recorded = sum(len(records) for records in changes.values())
    return recorded + contracts_recompute(
        contract_ids=ids, cause=ServiceChange.Reason.STAFF, now=now
    )


def _plans_change(
    *, plan_changes: list[tuple[Contract, Plan, datetime.date]], now: datetime.datetime
) -> defaultdict[Provider, list[ServiceChange]]:
    """The new plan from today on: the contract's, and that of its periods of the old plan
    still to run (so the recompute agrees; a period of another plan the subscriber bought
    keeps it). One UPDATE of each per new plan; each change recorded as staff's."""
    records: defaultdict[Provider, list[ServiceChange]] = defaultdict(list)
    by_plan: dict[int, list[tuple[Contract, datetime.date]]] = defaultdict(list)
    for contract, plan, today in plan_changes:
        by_plan[plan.pk].append((contract, today))
        records[contract.provider].append(
            _service_change_new(
                contract=contract,
                event=ServiceChange.Event.PLAN_CHANGED,
                status_to=contract.status,
                plan_id=plan.pk,
                now=now,
            )
        )
    for plan_id, contracts in by_plan.items():
        running = Q()
        for contract, today in contracts:
            running |= Q(contract_id=contract.pk, plan_id=contract.plan_id, ends_on__gt=today)
        ServicePeriod.objects.filter(running).update(plan_id=plan_id)
        Contract.objects.filter(pk__any=[contract.pk for contract, _today in contracts]).update(
            plan_id=plan_id, updated_at=now
        )
    return records


def _service_change_new(
    *, contract: Contract, event: str, status_to: str, plan_id: int, now: datetime.datetime
) -> ServiceChange:
    return ServiceChange(
        provider_id=contract.provider_id,
        contract_id=contract.pk,
        event=event,
        reason=ServiceChange.Reason.STAFF,
        status_from=contract.status,
        status_to=status_to,
        plan_from_id=contract.plan_id,
        plan_to_id=plan_id,
        paid_until=contract.paid_until,
        created_at=now,
    )
