"""Every write of payments. `payment_confirm` is the only way money lands."""

import datetime
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Contract, Provider, User
from billing.models import Invoice, LedgerEntry, ServiceChange
from billing.recompute import contracts_recompute
from billing.services import (
    Extension,
    invoices_settle,
    ledger_entries_record,
    ledger_entry_new,
    ledger_record,
    prepaid_extend,
)
from core.audit import audit_action, audit_entries_record, audit_entry_new
from core.bulk import rows_insert, rows_update
from core.locks import rows_locked
from core.money import money_format, money_quantize
from notifications.models import Kind
from notifications.services import Message, notifications_send
from plans.models import Plan, Promotion
from plans.selectors import promotions_active_for, promotions_by_plan

from .gateways import GatewayError, PaymentUrls, RemotePayment, Started, adapter_for
from .models import (
    Gateway,
    GatewayAccount,
    Payment,
    PaymentEvent,
    PaymentPromise,
    ProcessedEvent,
)
from .selectors import Standing, account_standing, promise_key_prepaid

logger = logging.getLogger(__name__)

PAYMENT_CONFIRMED_BY_HAND = audit_action(
    "payment.confirmed_by_hand", gettext_lazy("Pago confirmado a mano")
)
PROMISE_MADE = audit_action("promise.made", gettext_lazy("Promesa de pago"))


class PaymentError(Exception):
    """A refused payment operation; the message is safe to show the subscriber."""


def _event_new(
    payment: Payment, kind: str, *, source: str, actor: User | None = None, note: str = ""
) -> PaymentEvent:
    """One line of a payment's history, not yet written."""
    return PaymentEvent(
        payment_id=payment.pk,
        kind=kind,
        source=source,
        actor_id=actor.pk if actor is not None else None,
        note=note[:300],
    )


def _event(payment: Payment, kind: str, *, source: str, actor: User | None = None, note=""):
    _event_new(payment, kind, source=source, actor=actor, note=note).save(force_insert=True)


def _promotion_for(*, contract: Contract, plan: Plan) -> Promotion | None:
    """The running promotion with an effect on this plan, the one ending soonest."""
    applicable = promotions_by_plan(
        plans=[plan], promotions=promotions_active_for(contract=contract)
    )[plan.pk]
    return next((p for p in applicable if p.effect != Promotion.Effect.NONE), None)


def _amount_for(*, contract: Contract, plan: Plan | None, invoice: Invoice | None):
    if plan is not None:
        promotion = _promotion_for(contract=contract, plan=plan)
        amount = plan.price
        bonus_days = 0
        if promotion and promotion.effect == Promotion.Effect.DISCOUNT:
            amount = money_quantize(plan.price * (100 - promotion.discount_percent) / 100)
        if promotion and promotion.effect == Promotion.Effect.BONUS_DAYS:
            bonus_days = promotion.bonus_days
        return amount, promotion, bonus_days
    return invoice.amount_due, None, 0


@transaction.atomic
def _payment_pending(
    *, contract: Contract, account: GatewayAccount, method: str, plan, invoice
) -> Payment:
    """The pending payment for this plan/invoice and method, or a new one."""
    rows_locked(Contract.objects.filter(pk=contract.pk)).first()
    amount, promotion, bonus_days = _amount_for(contract=contract, plan=plan, invoice=invoice)
    if amount <= 0:
        raise PaymentError(_("No hay nada que pagar."))
    existing = rows_locked(
        Payment.objects.filter(
            contract=contract,
            plan=plan,
            invoice=invoice,
            gateway=account.gateway,
            method=method,
            status=Payment.Status.PENDING,
        )
    ).first()
    if existing is not None:
        if not existing.is_expired and existing.amount == amount:
            return existing
        existing.status = (
            Payment.Status.EXPIRED if existing.is_expired else Payment.Status.CANCELLED
        )
        existing.save(update_fields=["status"])
        _event(existing, existing.status, source="system", note=_("reemplazado por uno nuevo"))
    return Payment.objects.create(
        provider_id=contract.provider_id,
        contract=contract,
        gateway=account.gateway,
        method=method,
        plan=plan,
        promotion=promotion,
        bonus_days=bonus_days,
        invoice=invoice,
        amount=amount,
        currency=contract.provider.currency,
    )


def _payment_is_ready(payment: Payment) -> bool:
    return bool(payment.reference or payment.checkout_url or payment.voucher_url)


@transaction.atomic
def _payment_started(payment: Payment, started: Started) -> Payment:
    payment.reference = started.reference
    payment.external_id = started.external_id
    payment.voucher_url = started.voucher_url
    payment.checkout_url = started.checkout_url
    payment.barcode_url = started.barcode_url
    payment.expires_at = started.expires_at
    payment.save(
        update_fields=[
            "reference",
            "external_id",
            "voucher_url",
            "checkout_url",
            "barcode_url",
            "expires_at",
        ]
    )
    _event(payment, PaymentEvent.Kind.CREATED, source=payment.gateway)
    return payment


def payment_start(
    *,
    contract: Contract,
    gateway: str,
    method: str,
    urls_for: Callable[[Payment], PaymentUrls],
    plan: Plan | None = None,
    invoice: Invoice | None = None,
) -> Payment:
    """A reference or checkout for a plan (Adquirir) or an invoice (PAGAR).

    Asking again while one is pending for the same thing returns the same one. The
    gateway is called outside any transaction with the payment's idempotency key, so a
    retry after a timeout gets the charge the gateway may already have made, not a second.
    """
    if (plan is None) == (invoice is None):
        raise ValueError("pay for a plan or for an invoice")
    account = GatewayAccount.objects.filter(
        provider_id=contract.provider_id, gateway=gateway, is_enabled=True
    ).first()
    adapter = adapter_for(gateway) if account else None
    if adapter is None or method not in adapter.methods:
        raise PaymentError(_("Ese medio de pago no está disponible."))
    payment = _payment_pending(
        contract=contract, account=account, method=method, plan=plan, invoice=invoice
    )
    if _payment_is_ready(payment):
        return payment
    for _attempt in range(5):
        try:
            started = adapter.start(
                payment=payment, account=account, urls=urls_for(payment), method=method
            )
        except GatewayError as error:
            if error.final:
                Payment.objects.filter(pk=payment.pk).update(idempotency_key=uuid.uuid4())
            raise
        try:
            return _payment_started(payment, started)
        except IntegrityError:
            # A self-issued reference collided with another one: draw again.
            if gateway != Gateway.REFERENCE:
                raise
    raise GatewayError("could not draw a unique reference")


@dataclass(frozen=True)
class Confirmation:
    payment: Payment
    outcome: str  # credited | already_paid | held

    @property
    def credited(self) -> bool:
        return self.outcome == "credited"


# What crediting reads and writes of a payment; the rest is loaded only if asked for.
CONFIRM_FIELDS = (
    "pk",
    "contract_id",
    "gateway",
    "plan_id",
    "bonus_days",
    "invoice_id",
    "amount",
    "currency",
    "status",
    "reference",
    "expires_at",
    "paid_at",
    "paid_amount",
    "paid_late",
    "ledger_entry_id",
)


@dataclass(frozen=True)
class PaymentReport:
    """What one route (webhook, settlement line, agent) says arrived for one payment."""

    payment_id: int
    amount: Decimal
    currency: str
    paid_at: datetime.datetime
    note: str = ""
    # Where this report came from, when it is not the call's `source` (one batch of
    # webhooks holds several gateways').
    source: str = ""


@transaction.atomic
def payment_confirm(
    *,
    payment_id: int,
    amount: Decimal,
    currency: str,
    paid_at: datetime.datetime,
    source: str,
    actor: User | None = None,
    note: str = "",
) -> Confirmation:
    """Credit a payment exactly once, whatever route reports it and however often.

    `payments_confirm` with one report: see there.
    """
    report = PaymentReport(
        payment_id=payment_id, amount=amount, currency=currency, paid_at=paid_at, note=note
    )
    return payments_confirm(reports=[report], source=source, actor=actor)[0]


@transaction.atomic
def payments_confirm(
    *, reports: Sequence[PaymentReport], source: str, actor: User | None = None
) -> list[Confirmation]:
    """Credit payments exactly once, whatever route reports them and however often.

    The only way money lands. Locks the contracts, then the payments (each set by primary
    key, always in that order), and handles the reports in the order given, as
    if one after the other: each payment is written to the ledger, then extends prepaid
    service (plus a promotion's bonus days) or settles its contract's invoices oldest
    first; overpayment stays as credit. A payment already paid is not credited again. A
    different amount or currency is held for review, not credited. Cash paid after the
    reference expired is still money: it is credited and flagged. Every report leaves a
    payment event. Returns one confirmation per report.

    The writes are set-wise (one INSERT or UPDATE for many rows), so a settlement file
    can credit hundreds of payments in one call. A report's own `source`, when it has
    one, is what its payment event records instead of the call's.
    """
    payment_ids = {report.payment_id for report in reports}
    # Contracts first, then payments, each set by primary key: the order in which asking
    # for a reference (`_payment_pending`) takes them too, so the two never deadlock.
    contract_ids = set(
        Payment.objects.filter(pk__any=payment_ids).values_list("contract_id", flat=True)
    )
    contracts = {
        contract.pk: contract
        for contract in rows_locked(Contract.objects.filter(pk__any=contract_ids)).only(
            "pk", "provider_id"
        )
    }
    payments = {
        payment.pk: payment
        for payment in rows_locked(Payment.objects.filter(pk__any=payment_ids)).only(
            *CONFIRM_FIELDS
        )
    }
    if len(payments) != len(payment_ids):
        raise Payment.DoesNotExist("a reported payment does not exist")
    # A batch holds hundreds of payments of a few plans and one or two ISPs: those are
    # loaded once, not joined to every row.
    providers = Provider.objects.in_bulk({contract.provider_id for contract in contracts.values()})
    plans = Plan.objects.in_bulk({payment.plan_id for payment in payments.values()} - {None})
    for contract in contracts.values():
        contract.provider = providers[contract.provider_id]
    for payment in payments.values():
        payment.contract = contracts[payment.contract_id]
        if payment.plan_id:
            payment.plan = plans[payment.plan_id]
    paid_late_note = _("pagado después de vencer")
    confirmations = []
    events = []
    changed: dict[int, Payment] = {}
    credited: list[tuple[Payment, PaymentReport]] = []
    for report in reports:
        payment = payments[report.payment_id]
        said_by = report.source or source
        if payment.status == Payment.Status.PAID:
            events.append(
                _event_new(
                    payment,
                    PaymentEvent.Kind.DUPLICATE,
                    source=said_by,
                    actor=actor,
                    note=report.note,
                )
            )
            confirmations.append(Confirmation(payment=payment, outcome="already_paid"))
            continue
        amount = money_quantize(report.amount)
        payment.paid_amount = amount
        payment.paid_at = report.paid_at
        changed[payment.pk] = payment
        if report.currency.upper() != payment.currency or amount != payment.amount:
            payment.status = Payment.Status.HELD
            events.append(
                _event_new(
                    payment,
                    PaymentEvent.Kind.HELD,
                    source=said_by,
                    actor=actor,
                    note=_(
                        "recibido %(amount)s %(currency)s, esperado %(expected)s "
                        "%(expected_currency)s"
                    )
                    % {
                        "amount": amount,
                        "currency": report.currency.upper(),
                        "expected": payment.amount,
                        "expected_currency": payment.currency,
                    },
                )
            )
            logger.warning("payment held for review payment_id=%s source=%s", payment.pk, said_by)
            confirmations.append(Confirmation(payment=payment, outcome="held"))
            continue
        payment.paid_late = payment.status in (
            Payment.Status.EXPIRED,
            Payment.Status.CANCELLED,
        ) or (payment.expires_at is not None and report.paid_at > payment.expires_at)
        payment.status = Payment.Status.PAID
        credited.append((payment, report))
        note = report.note
        if payment.paid_late:
            note = note + (" · " if note else "") + paid_late_note
        events.append(
            _event_new(payment, PaymentEvent.Kind.PAID, source=said_by, actor=actor, note=note)
        )
        confirmations.append(Confirmation(payment=payment, outcome="credited"))
    _credits_record(credited=credited, actor=actor)
    _receipts_send(credited=[payment for payment, _report in credited])
    rows_update(
        Payment,
        objects=list(changed.values()),
        fields=["status", "paid_at", "paid_amount", "paid_late", "ledger_entry"],
    )
    rows_insert(PaymentEvent, objects=events)
    if actor is not None:
        # A person said these were paid (an agent, staff): who, from where and what.
        audit_entries_record(
            entries=[
                audit_entry_new(
                    action=PAYMENT_CONFIRMED_BY_HAND,
                    actor=actor,
                    target=confirmation.payment,
                    provider_id=confirmation.payment.contract.provider_id,
                    changes={"paid_amount": [None, str(money_quantize(report.amount))]},
                    note=f"{confirmation.outcome} · {report.note}",
                    target_repr=confirmation.payment.reference or str(confirmation.payment.pk),
                )
                for report, confirmation in zip(reports, confirmations, strict=True)
            ]
        )
    if len(reports) == 1:
        if credited:
            logger.info(
                "payment credited payment_id=%s source=%s late=%s",
                credited[0][0].pk,
                source,
                credited[0][0].paid_late,
            )
    else:
        logger.info(
            "payments confirmed reports=%s credited=%s source=%s",
            len(reports),
            len(credited),
            source,
        )
    return confirmations


def _receipts_send(*, credited: list[Payment]) -> None:
    """ "Pago recibido" for every credited payment, whatever its route: the amount and the
    new vigencia (or the invoice paid). Written with the credit, sent after the commit."""
    if not credited:
        return
    vigencias = dict(
        Contract.objects.filter(pk__any={payment.contract_id for payment in credited}).values_list(
            "pk", "paid_until"
        )
    )
    invoice_numbers = dict(
        Invoice.objects.filter(
            pk__any={payment.invoice_id for payment in credited if payment.invoice_id}
        ).values_list("pk", "number")
    )
    messages = []
    for payment in credited:
        contract = payment.contract
        if payment.invoice_id:
            detail = _("Factura Nº %(number)s.") % {"number": invoice_numbers[payment.invoice_id]}
        else:
            vigencia = vigencias[contract.pk]
            detail = _("Vigencia: %(date)s.") % {"date": vigencia.strftime("%d/%m/%Y")}
        messages.append(
            Message(
                contract_id=contract.pk,
                kind=Kind.PAYMENT_RECEIVED,
                event=f"payment:{payment.pk}",
                values={
                    "monto": money_format(payment.paid_amount, provider=contract.provider),
                    "detalle": detail,
                },
            )
        )
    notifications_send(messages=messages)


def _credits_record(*, credited: list[tuple[Payment, PaymentReport]], actor: User | None) -> None:
    """The ledger entries, service periods and invoice settlements of credited payments."""
    entries = []
    extensions = []
    invoice_credits = []
    # Translated once per call: a settlement batch credits hundreds alike.
    payment_word = _("Pago")
    gateway_labels = {value: str(label) for value, label in Gateway.choices}
    plan_descriptions: dict[tuple[int, int], str] = {}
    for payment, report in credited:
        contract = payment.contract
        provider = contract.provider
        paid_on = timezone.localtime(report.paid_at, provider.tzinfo).date()
        payment.ledger_entry = ledger_entry_new(
            contract=contract,
            kind=LedgerEntry.Kind.PAYMENT,
            amount=payment.paid_amount,
            description=f"{payment_word} {gateway_labels[payment.gateway]} "
            f"{payment.reference}".strip(),
            created_by=actor,
            reason=report.note,
            invoice_id=payment.invoice_id,
            occurred_on=paid_on,
        )
        entries.append(payment.ledger_entry)
        if payment.plan_id:
            plan = payment.plan
            days = plan.period_days + payment.bonus_days
            if (plan.pk, days) not in plan_descriptions:
                plan_descriptions[plan.pk, days] = _("%(plan)s %(days)s días") % {
                    "plan": plan.name,
                    "days": days,
                }
            description = plan_descriptions[plan.pk, days]
            entries.append(
                ledger_entry_new(
                    contract=contract,
                    kind=LedgerEntry.Kind.CHARGE,
                    amount=-payment.paid_amount,
                    description=description,
                    occurred_on=paid_on,
                )
            )
            extensions.append(
                Extension(
                    contract=contract,
                    plan=plan,
                    description=description,
                    days=days,
                    paid_by=payment.ledger_entry,
                )
            )
        else:
            invoice_credits.append((contract.pk, payment.paid_amount))
    ledger_entries_record(entries=entries)
    if extensions:
        prepaid_extend(extensions=extensions, actor=actor)
    if invoice_credits:
        invoices_settle(credits=invoice_credits)
        # An invoice paid may restore a postpaid service cut for it.
        contracts_recompute(
            contract_ids={contract_id for contract_id, _amount in invoice_credits},
            cause=ServiceChange.Reason.PAYMENT,
        )


@transaction.atomic
def payment_cancel(*, payment: Payment, actor: User | None) -> Payment:
    payment = rows_locked(Payment.objects).get(pk=payment.pk)
    if payment.status != Payment.Status.PENDING:
        raise PaymentError(_("Solo se puede cancelar una referencia pendiente."))
    payment.status = Payment.Status.CANCELLED
    payment.save(update_fields=["status"])
    _event(payment, PaymentEvent.Kind.CANCELLED, source="subscriber", actor=actor)
    return payment


def payments_expire(*, now: datetime.datetime | None = None) -> int:
    """Mark pending payments past their expiry as expired. Returns how many."""
    now = now or timezone.now()
    expired = 0
    for payment_id in Payment.objects.filter(
        status=Payment.Status.PENDING, expires_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            payment = rows_locked(Payment.objects).get(pk=payment_id)
            if payment.status == Payment.Status.PENDING:
                payment.status = Payment.Status.EXPIRED
                payment.save(update_fields=["status"])
                _event(payment, PaymentEvent.Kind.EXPIRED, source="system")
                expired += 1
    return expired


@dataclass(frozen=True)
class WebhookFact:
    """A verified gateway fact, and the ISP whose gateway account reported it."""

    provider_id: int
    gateway: str
    remote: RemotePayment


@transaction.atomic
def webhooks_apply(*, facts: Sequence[WebhookFact]) -> list[str]:
    """Process verified gateway facts, each event once ever, in order; one outcome each.

    A fact whose (ISP, gateway, event id) was seen before, in this call or any earlier
    one, is "duplicate": an event id another ISP's endpoint received says nothing of this
    ISP's. A fact that says "not paid" is not recorded, so it cannot use up the
    event id of the delivery that will say "paid". A paid fact about no payment of that
    ISP is "unknown_payment". The others go through one `payments_confirm` together
    (each payment event names its gateway): "credited", "already_paid" or "held".
    """
    outcomes: list[str] = [""] * len(facts)
    # (ISP, gateway, event id): its first fact
    fresh: dict[tuple[int, str, str], int] = {}
    for position, fact in enumerate(facts):
        key = (fact.provider_id, fact.gateway, fact.remote.event_id)
        if not fact.remote.paid:
            outcomes[position] = "not_paid"
        elif key in fresh:
            outcomes[position] = "duplicate"
        else:
            fresh[key] = position
    seen = set(
        ProcessedEvent.objects.filter(event_id__any={event for *_isp, event in fresh}).values_list(
            "provider_id", "gateway", "event_id"
        )
    )
    # Events recorded before they were per ISP have none: such an event is a duplicate
    # for every ISP, as it was then.
    legacy = {(gateway, event) for provider_id, gateway, event in seen if provider_id is None}
    for key in list(fresh):
        if key in seen or key[1:] in legacy:
            outcomes[fresh.pop(key)] = "duplicate"
    # Sorted: two drains recording some of the same events (a gateway's retries) take
    # their index entries in the same order and so never deadlock.
    events = sorted(fresh)
    try:
        with transaction.atomic():
            rows_insert(
                ProcessedEvent,
                objects=[
                    ProcessedEvent(provider_id=provider_id, gateway=gateway, event_id=event)
                    for provider_id, gateway, event in events
                ],
            )
    except IntegrityError:
        # Another delivery of one of these events was recorded meanwhile: one at a time,
        # each waiting for the other's transaction to say whether it is a duplicate.
        for key in events:
            try:
                with transaction.atomic():
                    ProcessedEvent.objects.create(
                        provider_id=key[0], gateway=key[1], event_id=key[2]
                    )
            except IntegrityError:
                outcomes[fresh.pop(key)] = "duplicate"
    positions = sorted(fresh.values())
    payment_ids = _payments_for_facts([facts[position] for position in positions])
    reported: list[tuple[int, PaymentReport]] = []
    for position, payment_id in zip(positions, payment_ids, strict=True):
        if payment_id is None:
            outcomes[position] = "unknown_payment"
            continue
        fact = facts[position]
        reported.append(
            (
                position,
                PaymentReport(
                    payment_id=payment_id,
                    amount=fact.remote.amount,
                    currency=fact.remote.currency,
                    paid_at=fact.remote.paid_at or timezone.now(),
                    source=f"webhook:{fact.gateway}",
                ),
            )
        )
    if reported:
        confirmations = payments_confirm(
            reports=[report for _position, report in reported], source="webhook"
        )
        for (position, _report), confirmation in zip(reported, confirmations, strict=True):
            outcomes[position] = confirmation.outcome
    return outcomes


def _payments_for_facts(facts: Sequence[WebhookFact]) -> list[int | None]:
    """The id of our payment each fact talks about, or None: found by our public id
    when the gateway sent it back as metadata, else by the gateway's own id, and only
    among the payments of that ISP and gateway. One query per gateway account.
    """
    wanted: dict[tuple[int, str], tuple[set, set]] = {}
    for fact in facts:
        public_ids, external_ids = wanted.setdefault(
            (fact.provider_id, fact.gateway), (set(), set())
        )
        if fact.remote.payment_public_id:
            public_ids.add(_uuid_or_none(fact.remote.payment_public_id))
        elif fact.remote.external_id:
            external_ids.add(fact.remote.external_id)
    found: dict[tuple[int, str], tuple[dict, dict]] = {}
    for (provider_id, gateway), (public_ids, external_ids) in wanted.items():
        by_public_id, by_external_id = {}, {}
        public_ids.discard(None)
        rows = Payment.objects.filter(provider_id=provider_id, gateway=gateway).filter(
            Q(public_id__any=public_ids) | Q(external_id__any=external_ids)
        )
        for payment_id, public_id, external_id in rows.values_list(
            "pk", "public_id", "external_id"
        ):
            by_public_id[public_id] = payment_id
            if external_id:
                by_external_id[external_id] = payment_id
        found[provider_id, gateway] = (by_public_id, by_external_id)
    payment_ids = []
    for fact in facts:
        by_public_id, by_external_id = found[fact.provider_id, fact.gateway]
        if fact.remote.payment_public_id:
            payment_ids.append(by_public_id.get(_uuid_or_none(fact.remote.payment_public_id)))
        else:
            payment_ids.append(by_external_id.get(fact.remote.external_id))
    return payment_ids


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def promise_eligibility(*, contract: Contract, standing: Standing | None = None) -> str | None:
    """The period a payment promise would cover, or None when none is allowed now.

    `standing`: the contract's `account_standing` when the caller has read it already
    (Inicio shows its balance); otherwise it is read here, only when the contract's own
    fields leave the question open."""
    provider = contract.provider
    # A contract suspended for want of credit needs a promise most; one suspended by the
    # ISP or cancelled gets none.
    if provider.promises_per_period == 0 or contract.status == Contract.Status.CANCELLED:
        return None
    today = provider.today()
    if contract.promise_until and contract.promise_until >= today:
        return None
    prepaid = contract.billing_mode == Contract.BillingMode.PREPAID
    if prepaid and contract.paid_until and contract.paid_until > today:
        return None
    standing = standing or account_standing(contract=contract)
    if contract.status == Contract.Status.SUSPENDED and standing.on_hold:
        return None
    if prepaid:
        key = promise_key_prepaid(contract=contract)
    elif standing.overdue_invoice is None:
        return None
    else:
        key = f"factura:{standing.overdue_invoice}"
    if standing.promises_used >= provider.promises_per_period:
        return None
    return key


@transaction.atomic
def payment_promise_make(*, contract: Contract, actor: User) -> PaymentPromise:
    """Promesa de pago: service continues N days; recorded and audited."""
    contract = rows_locked(Contract.objects.select_related("provider")).get(pk=contract.pk)
    key = promise_eligibility(contract=contract)
    if key is None:
        raise PaymentError(_("Ya usaste tu promesa de pago de este periodo o no la necesitas."))
    today = contract.provider.today()
    ends_on = today + datetime.timedelta(days=contract.provider.promise_days)
    promise = PaymentPromise.objects.create(
        contract=contract, period_key=key, starts_on=today, ends_on=ends_on, created_by=actor
    )
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=PROMISE_MADE,
                actor=actor,
                target=contract,
                changes={"promise_until": [contract.promise_until, ends_on]},
                note=key,
            )
        ]
    )
    contract.promise_until = ends_on
    contract.save(update_fields=["promise_until", "updated_at"])
    # A contract suspended for want of credit is restored now; when the promise ends
    # unpaid, the beat's recompute suspends it again.
    contracts_recompute(contract_ids=[contract.pk], cause=ServiceChange.Reason.PROMISE)
    ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=Decimal("0"),
        description=_("Promesa de pago hasta el %(date)s") % {"date": ends_on.strftime("%d/%m/%Y")},
        created_by=actor,
        reason=_("promesa de pago"),
    )
    logger.info("payment promise contract_id=%s until=%s", contract.pk, ends_on)
    return promise
