"""Settlement files: the payments a store or bank collected, matched to our references.

A parser turns a file's bytes into lines (`SETTLEMENT_PARSERS`; the generic CSV of
DESIGN.md is "generic"). Every line is checked; the good lines are matched among the
provider's own payments only and go through `payments_confirm` 500 at a time, each batch
in one transaction with its report rows (a batch that is refused is redone line by line),
and every line is recorded with its outcome: the import's report. Unmatched and mismatched
lines wait in the review queue. A line's folio is spent once it reaches `payments_confirm`,
so importing the same file again, or another file with the same store operation, credits
nothing new.

Unlike the contract import, a file with some bad lines still applies its good ones (money
that arrived must land). A file that cannot be read at all (not UTF-8, wrong header) is
refused whole and changes nothing. Used by `manage.py import_settlement` and by
"Subir archivo" on the settlements admin.
"""

import dataclasses
import datetime
import hashlib
import itertools
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple, Protocol

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Provider, User
from billing.services import BillingError
from core.audit import audit_action, audit_entries_record, audit_entry_new
from core.bulk import rows_insert
from core.csvfile import CsvFile, FileRefused, LineError, value_shown
from core.dates import FIRST_YEAR, LAST_YEAR, year_accepted
from core.locks import rows_locked
from core.money import money_format

from .gateways.reference import reference_is_valid
from .models import Payment, SettlementImport, SettlementLine
from .services import Confirmation, PaymentError, PaymentReport, payment_confirm, payments_confirm

logger = logging.getLogger(__name__)

SETTLEMENT_RECEIVED = audit_action("settlement.received", gettext_lazy("Liquidación recibida"))
SETTLEMENT_APPLIED = audit_action("settlement.applied", gettext_lazy("Liquidación aplicada"))
SETTLEMENT_LINE_RESOLVED = audit_action(
    "settlement.line_resolved", gettext_lazy("Línea de liquidación resuelta")
)

COLUMNS = ("reference", "amount", "paid_at", "folio")
MAX_BYTES = 32 * 1024 * 1024
MAX_LINES = 200_000
# Lines per round of look-ups and bulk writes: keeps `IN (...)` lists under SQLite's limit.
BATCH_SIZE = 500
AMOUNT_PATTERN = re.compile(r"^\d+(\.\d{1,2})?$")
AMOUNT_LIMIT = Decimal("1e12")  # Payment.amount has 14 digits, 2 of them decimals
# How long one run may hold an import before another may carry it on (a run that died
# leaves its claim behind); a 200,000-line file takes a few minutes.
APPLY_CLAIM_SECONDS = 15 * 60
# Clocks of stores and banks drift; a payment from further ahead than this is a wrong date.
FUTURE_TOLERANCE = datetime.timedelta(hours=1)
REFERENCE_MAX = SettlementLine._meta.get_field("reference").max_length
FOLIO_MAX = SettlementLine._meta.get_field("folio").max_length
RAW_MAX = SettlementLine._meta.get_field("raw").max_length
MESSAGE_MAX = SettlementLine._meta.get_field("message").max_length

Outcome = SettlementLine.Outcome
REVIEW_OUTCOMES = (Outcome.UNMATCHED, Outcome.MISMATCH)
COUNT_FIELDS = {
    Outcome.CREDITED: "credited_count",
    Outcome.LATE: "late_count",
    Outcome.ALREADY_PAID: "already_paid_count",
    Outcome.UNMATCHED: "unmatched_count",
    Outcome.MISMATCH: "mismatch_count",
    Outcome.INVALID: "invalid_count",
}


@dataclasses.dataclass(frozen=True)
class ParsedLine:
    """A payment as the file tells it; not checked yet beyond its own format."""

    line_number: int
    reference: str
    amount: Decimal
    paid_at: datetime.datetime
    folio: str
    raw: str = ""


@dataclasses.dataclass(frozen=True)
class LineProblem:
    """A line the parser could not read; what could be read goes in the report."""

    line_number: int
    message: str
    reference: str = ""
    folio: str = ""
    raw: str = ""


class SettlementParser(Protocol):
    """A bank's or store's layout. `parse` raises FileRefused for an unreadable file."""

    name: str
    label: str

    def parse(self, raw: bytes) -> Iterator[ParsedLine | LineProblem]: ...


def _shown(value: str) -> str:
    return value_shown(value, limit=40)


class GenericCsvParser:
    """DESIGN.md's settlement CSV: UTF-8, a header row, `reference, amount, paid_at, folio`
    in any order; amount with a dot and up to 2 decimals; paid_at ISO 8601 with its offset."""

    name = "generic"
    label = gettext_lazy("CSV genérico (reference, amount, paid_at, folio)")

    def parse(self, raw: bytes) -> Iterator[ParsedLine | LineProblem]:
        csv_file = CsvFile(raw, columns=COLUMNS, max_bytes=MAX_BYTES, max_lines=MAX_LINES)
        for record in csv_file.records():
            value = record.values
            problems = list(record.problems)
            if not problems:
                amount, paid_at, problems = self._values(value)
            if problems:
                yield LineProblem(
                    record.line,
                    " ".join(problems),
                    reference=value.get("reference", "")[:REFERENCE_MAX],
                    folio=value.get("folio", "")[:FOLIO_MAX],
                    raw=record.raw[:RAW_MAX],
                )
                continue
            yield ParsedLine(
                line_number=record.line,
                reference=value["reference"],
                amount=amount,
                paid_at=paid_at,
                folio=value["folio"],
                raw=record.raw[:RAW_MAX],
            )

    @staticmethod
    def _values(
        value: dict[str, str],
    ) -> tuple[Decimal | None, datetime.datetime | None, list[str]]:
        problems = []
        amount = None
        if not value["amount"]:
            problems.append(_("amount está vacío."))
        elif not AMOUNT_PATTERN.match(value["amount"]):
            problems.append(
                _(
                    "amount %(value)s no es un importe válido: usa dígitos, punto decimal y a lo "
                    "más 2 decimales (p. ej. 250.00)."
                )
                % {"value": _shown(value["amount"])}
            )
        else:
            amount = Decimal(value["amount"])
        paid_at = None
        if not value["paid_at"]:
            problems.append(_("paid_at está vacío."))
        else:
            try:
                paid_at = datetime.datetime.fromisoformat(value["paid_at"])
            except ValueError:
                problems.append(
                    _(
                        "paid_at %(value)s no es una fecha y hora ISO 8601 "
                        "(p. ej. 2026-11-20T10:30:00-06:00)."
                    )
                    % {"value": _shown(value["paid_at"])}
                )
        return amount, paid_at, problems


SETTLEMENT_PARSERS: dict[str, SettlementParser] = {}


def settlement_parser_register(parser: SettlementParser) -> SettlementParser:
    SETTLEMENT_PARSERS[parser.name] = parser
    return parser


settlement_parser_register(GenericCsvParser())


def parser_choices() -> list[tuple[str, str]]:
    return [(name, str(parser.label)) for name, parser in SETTLEMENT_PARSERS.items()]


def _line_problems(parsed: ParsedLine, *, now: datetime.datetime) -> Iterator[str]:
    """What is wrong with a line whatever its layout: the rules every parser's lines obey."""
    if not parsed.reference:
        yield _("reference está vacío.")
    elif len(parsed.reference) > REFERENCE_MAX or not parsed.reference.isdigit():
        yield _("reference %(value)s no es una referencia válida: solo lleva dígitos.") % {
            "value": _shown(parsed.reference)
        }
    amount = parsed.amount
    if not amount.is_finite() or amount <= 0:
        yield _("amount %(value)s debe ser mayor que cero.") % {"value": _shown(str(amount))}
    elif amount.as_tuple().exponent < -2:
        yield _("amount %(value)s tiene más de 2 decimales.") % {"value": _shown(str(amount))}
    elif amount >= AMOUNT_LIMIT:
        yield _("amount %(value)s es demasiado grande.") % {"value": _shown(str(amount))}
    if not year_accepted(parsed.paid_at):
        yield _("paid_at %(value)s está fuera de los años aceptados (%(first)s a %(last)s).") % {
            "value": _shown(parsed.paid_at.isoformat()),
            "first": FIRST_YEAR,
            "last": LAST_YEAR,
        }
    elif timezone.is_naive(parsed.paid_at):
        yield _(
            "paid_at %(value)s no dice su zona horaria: agrega el desfase "
            "(p. ej. 2026-11-20T10:30:00-06:00)."
        ) % {"value": _shown(parsed.paid_at.isoformat())}
    elif parsed.paid_at > now + FUTURE_TOLERANCE:
        yield _("paid_at %(value)s está en el futuro.") % {
            "value": _shown(parsed.paid_at.isoformat())
        }
    if not parsed.folio:
        yield _("folio está vacío.")
    elif len(parsed.folio) > FOLIO_MAX:
        yield _("folio %(value)s pasa de %(limit)s caracteres.") % {
            "value": _shown(parsed.folio),
            "limit": FOLIO_MAX,
        }


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def settlement_file_import(
    *,
    provider: Provider,
    raw: bytes,
    filename: str,
    parser_name: str = "generic",
    uploaded_by: User | None = None,
) -> SettlementImport:
    """Import one settlement file for `provider` now; returns the import with its counts.

    `settlement_file_receive` then `settlement_import_apply`: see there.
    """
    settlement = settlement_file_receive(
        provider=provider,
        raw=raw,
        filename=filename,
        parser_name=parser_name,
        uploaded_by=uploaded_by,
    )
    return settlement_import_apply(settlement=settlement)


def _parser_named(name: str) -> SettlementParser:
    parser = SETTLEMENT_PARSERS.get(name)
    if parser is None:
        raise FileRefused(
            [
                LineError(
                    None,
                    _("Formato desconocido %(name)s; usa uno de: %(names)s.")
                    % {"name": _shown(name), "names": ", ".join(SETTLEMENT_PARSERS)},
                )
            ]
        )
    return parser


def settlement_file_receive(
    *,
    provider: Provider,
    raw: bytes,
    filename: str,
    parser_name: str = "generic",
    uploaded_by: User | None = None,
) -> SettlementImport:
    """Check that the file can be read as a whole and keep it; nothing is credited yet.

    Raises FileRefused, writing nothing, when it cannot. The import it returns is
    unfinished until `settlement_import_apply` has run (the admin upload queues that).
    """
    parser = _parser_named(parser_name)
    # Read it all before writing anything: a file refused half-way must change nothing.
    for _item in parser.parse(raw):
        pass
    digest = hashlib.sha256(raw).hexdigest()
    settlement = SettlementImport(
        provider=provider,
        parser=parser.name,
        filename=filename[:255],
        sha256=digest,
        uploaded_by=uploaded_by,
    )
    settlement.upload.save(f"{provider.code}-{digest[:16]}.csv", ContentFile(raw), save=False)
    with transaction.atomic():
        settlement.save()
        audit_entries_record(
            entries=[
                audit_entry_new(
                    action=SETTLEMENT_RECEIVED,
                    actor=uploaded_by,
                    target=settlement,
                    note=f"{settlement.filename} · SHA-256 {digest}",
                )
            ]
        )
    return settlement


def settlement_import_apply(
    *, settlement: SettlementImport, part: int = 0, parts: int = 1
) -> SettlementImport:
    """Apply every line of a received file and record its outcome; returns the import.

    Bad lines are recorded as invalid; good ones go through `payments_confirm` 500 at a
    time or are recorded with the reason they were not sent. Run again on an import that
    stopped half-way, it carries on where it stopped: lines already recorded are skipped.
    While one run applies a part of an import, another run of the same part returns at
    once (parts are told apart by `part` and `parts`: keep SETTLEMENT_APPLY_PARTS while
    imports are unfinished).

    With `parts` > 1, this run applies only part number `part` of the lines, so that
    several workers can apply one file at once (`settlement_import_queue`). Lines are
    parted by reference, so the lines paying one payment stay in one part, in file
    order; a folio that several lines give is held by the same line whichever part
    looks. The run that records the file's last line stores the counts and finishes
    the import.
    """
    if not 0 <= part < parts:
        raise ValueError(f"part {part} of {parts}")
    claim = f"settlement-apply:{settlement.pk}:{part}/{parts}"
    if not cache.add(claim, "applying", timeout=APPLY_CLAIM_SECONDS):
        logger.info(
            "settlement import already being applied import_id=%s part=%s/%s",
            settlement.pk,
            part,
            parts,
        )
        return settlement
    try:
        return _settlement_apply(settlement, part=part, parts=parts)
    finally:
        cache.delete(claim)


def _part_of(item: ParsedLine | LineProblem, parts: int) -> int:
    # crc32, not hash(): every worker process must part the lines alike.
    return zlib.crc32(item.reference.encode()) % parts if parts > 1 else 0


def _settlement_apply(settlement: SettlementImport, *, part: int, parts: int) -> SettlementImport:
    provider = settlement.provider
    # A file object of its own (not the field's, which two runs holding the same import
    # object would share and close under each other).
    with settlement.upload.storage.open(settlement.upload.name, "rb") as upload:
        raw = upload.read()
    parser = _parser_named(settlement.parser)
    # "Now" for every check of the file is when it arrived, so that a run carrying on
    # later, or another part, judges each line as the first run did.
    now = settlement.created_at
    line_total, folio_holders = _folio_holders(parser.parse(raw), provider=provider, now=now)
    done = set(
        SettlementLine.objects.filter(settlement_import=settlement).values_list(
            "line_number", flat=True
        )
    )
    items = (
        item
        for item in parser.parse(raw)
        if item.line_number not in done and _part_of(item, parts) == part
    )
    applier = _LineApplier(
        settlement=settlement, provider=provider, now=now, folio_holders=folio_holders
    )
    for batch in _batches(items, BATCH_SIZE):
        applier.apply(batch)
    if SettlementLine.objects.filter(settlement_import=settlement).count() < line_total:
        # Another part is still applying its lines; the last one to finish counts.
        logger.info("settlement part applied import_id=%s part=%s/%s", settlement.pk, part, parts)
        return settlement
    _counts_store(settlement)
    previous = settlement_previous(settlement)
    logger.info(
        "settlement imported import_id=%s provider=%s lines=%s credited=%s late=%s "
        "already_paid=%s unmatched=%s mismatch=%s invalid=%s repeated_file_of=%s",
        settlement.pk,
        provider.code,
        settlement.line_count,
        settlement.credited_count,
        settlement.late_count,
        settlement.already_paid_count,
        settlement.unmatched_count,
        settlement.mismatch_count,
        settlement.invalid_count,
        previous.pk if previous else None,
    )
    return settlement


def _folio_holders(
    items: Iterable[ParsedLine | LineProblem], *, provider: Provider, now: datetime.datetime
) -> tuple[int, dict[str, int]]:
    """How many lines the file has, and for each folio given by more than one good
    line, the line that holds it: the first good one.

    Only a good line holds its folio: a store's corrected line after a wrong one with
    the same folio still lands. Good is what `_LineApplier.apply` checks: no problem of
    its own, and a reference that is a payment of this provider or has a right check
    digit. Worked out for the whole file before any part applies its lines.
    """
    line_total = 0
    first: dict[str, tuple[int, str]] = {}
    repeated: dict[str, list[tuple[int, str]]] = {}
    for item in items:
        line_total += 1
        if isinstance(item, LineProblem) or any(_line_problems(item, now=now)):
            continue
        line = (item.line_number, item.reference)
        if item.folio not in first:
            first[item.folio] = line
        else:
            repeated.setdefault(item.folio, [first[item.folio]]).append(line)
    mistyped = {
        reference
        for lines in repeated.values()
        for _line_number, reference in lines
        if not reference_is_valid(reference)
    }
    known = _payments_by_reference(mistyped, provider=provider) if mistyped else {}
    holders = {}
    for folio, lines in repeated.items():
        for line_number, reference in lines:
            if reference in known or reference_is_valid(reference):
                holders[folio] = line_number
                break
    return line_total, holders


def _payments_by_reference(references: set[str], *, provider: Provider) -> dict[str, int]:
    """The ids of this provider's payments with these references.

    The provider is compared here rather than in SQL: given both conditions, SQLite
    (no statistics) walks every payment of the provider instead of the reference
    index. References are unique across providers, so this is the same set.
    """
    rows = (
        Payment.objects.filter(reference__any=references)
        .order_by()
        .values_list("reference", "pk", "provider_id")
    )
    return {
        reference: payment_id
        for reference, payment_id, provider_id in rows
        if provider_id == provider.pk
    }


class _SpentFolio(NamedTuple):
    """The line that spent a folio, as much of it as a repeated line needs."""

    reference: str
    amount: Decimal
    settlement_import_id: int
    line_number: int
    payment_id: int | None


class _LineApplier:
    """Checks and applies the lines of one import, a batch at a time, in file order."""

    def __init__(
        self,
        *,
        settlement: SettlementImport,
        provider: Provider,
        now: datetime.datetime,
        folio_holders: dict[str, int],
    ) -> None:
        self.settlement = settlement
        self.provider = provider
        self.source = f"settlement:{settlement.pk}"
        self.now = now
        self.folio_holders = folio_holders
        self.unmatched_message = _("Ningún pago de %(provider)s tiene esta referencia.") % {
            "provider": provider.name
        }

    def _line(self, item: ParsedLine | LineProblem, **values) -> SettlementLine:
        return SettlementLine(
            settlement_import_id=self.settlement.pk,
            provider_id=self.provider.pk,
            line_number=item.line_number,
            reference=item.reference[:REFERENCE_MAX],
            folio=item.folio[:FOLIO_MAX],
            **values,
        )

    def _invalid(self, item: ParsedLine | LineProblem, message: str) -> SettlementLine:
        return self._line(
            item, outcome=Outcome.INVALID, message=message[:MESSAGE_MAX], raw=item.raw[:RAW_MAX]
        )

    def apply(self, batch: list[ParsedLine | LineProblem]) -> None:
        recorded: list[SettlementLine] = []
        good: list[ParsedLine] = []
        candidates = [item for item in batch if isinstance(item, ParsedLine)]
        payment_ids = _payments_by_reference(
            {item.reference for item in candidates}, provider=self.provider
        )
        for item in batch:
            if isinstance(item, LineProblem):
                recorded.append(self._invalid(item, item.message))
                continue
            problems = list(_line_problems(item, now=self.now))
            if (
                not problems
                and item.reference not in payment_ids
                and not reference_is_valid(item.reference)
            ):
                # Not a reference we know, and its check digit says it was mistyped. (A
                # gateway's own references, such as OxxoPay's, match above as they are.)
                problems.append(
                    _(
                        "reference %(value)s no es una referencia válida: el dígito "
                        "verificador no coincide."
                    )
                    % {"value": _shown(item.reference)}
                )
            # Only a good line holds its folio (see `_folio_holders`).
            holder = self.folio_holders.get(item.folio, item.line_number)
            if not problems and holder != item.line_number:
                problems.append(
                    _("folio %(folio)s ya aparece en la línea %(line)s.")
                    % {"folio": _shown(item.folio), "line": holder}
                )
            if problems:
                recorded.append(self._invalid(item, " ".join(problems)))
            else:
                good.append(item)
        spent = self._folios_spent({item.folio for item in good})
        matched: list[tuple[ParsedLine, int]] = []
        try:
            for item in good:
                if item.folio in spent:
                    recorded.append(self._repeated(item, spent[item.folio]))
                elif item.reference not in payment_ids:
                    recorded.append(
                        self._line(
                            item,
                            amount=item.amount,
                            paid_at=item.paid_at,
                            outcome=Outcome.UNMATCHED,
                            message=self.unmatched_message,
                        )
                    )
                else:
                    matched.append((item, payment_ids[item.reference]))
            recorded.extend(self._confirm_all(matched))
        finally:
            # Even when a line fails unexpectedly, the report keeps what was decided so far.
            rows_insert(SettlementLine, objects=recorded)

    def _folios_spent(self, folios: Iterable[str]) -> dict[str, _SpentFolio]:
        rows = (
            SettlementLine.objects.filter(provider=self.provider, applied=True, folio__any=folios)
            .order_by()
            .values_list(
                "folio", "reference", "amount", "settlement_import_id", "line_number", "payment_id"
            )
        )
        return {folio: _SpentFolio(*values) for folio, *values in rows}

    def _repeated(self, item: ParsedLine, earlier: _SpentFolio) -> SettlementLine:
        """A folio that already reached payment_confirm: never sent again."""
        where = {
            "folio": _shown(item.folio),
            "import": earlier.settlement_import_id,
            "line": earlier.line_number,
        }
        if earlier.reference == item.reference and earlier.amount == item.amount:
            return self._line(
                item,
                amount=item.amount,
                paid_at=item.paid_at,
                outcome=Outcome.ALREADY_PAID,
                payment_id=earlier.payment_id,
                message=_(
                    "El folio %(folio)s ya se aplicó (liquidación #%(import)s, línea %(line)s); "
                    "no se acreditó de nuevo."
                )
                % where,
            )
        return self._invalid(
            item,
            _(
                "folio %(folio)s ya se aplicó con otra referencia o importe (liquidación "
                "#%(import)s, línea %(line)s)."
            )
            % where,
        )

    def _confirm_all(self, matched: list[tuple[ParsedLine, int]]) -> list[SettlementLine]:
        """The matched lines through payments_confirm at once, recorded in the same transaction.

        Returns the lines to record afterwards. When anything in the batch is refused (a
        folio another import spent meanwhile, a credit billing refuses), the whole batch
        is undone and the lines go through one at a time, so each gets its own outcome.
        """
        if not matched:
            return []
        folio_note = _("folio %(folio)s")
        try:
            with transaction.atomic():
                confirmations = payments_confirm(
                    reports=[
                        PaymentReport(
                            payment_id=payment_id,
                            amount=item.amount,
                            currency=self.provider.currency,
                            paid_at=item.paid_at,
                            note=folio_note % {"folio": item.folio},
                        )
                        for item, payment_id in matched
                    ],
                    source=self.source,
                )
                lines = []
                for (item, payment_id), confirmation in zip(matched, confirmations, strict=True):
                    outcome, message = _outcome_of(confirmation, provider=self.provider)
                    lines.append(
                        self._line(
                            item,
                            amount=item.amount,
                            paid_at=item.paid_at,
                            outcome=outcome,
                            message=message[:MESSAGE_MAX],
                            payment_id=payment_id,
                            applied=True,
                        )
                    )
                rows_insert(SettlementLine, objects=lines)
            return []
        except (IntegrityError, OperationalError, BillingError, PaymentError):
            # OperationalError: chosen as a deadlock's victim, say; one line at a time it
            # is retried with far fewer locks held.
            logger.info(
                "settlement batch redone line by line import_id=%s lines=%s",
                self.settlement.pk,
                len(matched),
            )
        recorded = []
        for item, payment_id in matched:
            line = self._confirm(item, payment_id=payment_id)
            if line is not None:
                recorded.append(line)
        return recorded

    def _confirm(self, item: ParsedLine, *, payment_id: int) -> SettlementLine | None:
        """The line through payment_confirm, recorded in the same transaction.

        Returns the line to record afterwards when it was not applied, None when it was.
        """
        try:
            with transaction.atomic():
                confirmation = payment_confirm(
                    payment_id=payment_id,
                    amount=item.amount,
                    currency=self.provider.currency,
                    paid_at=item.paid_at,
                    source=self.source,
                    note=_("folio %(folio)s") % {"folio": item.folio},
                )
                outcome, message = _outcome_of(confirmation, provider=self.provider)
                self._line(
                    item,
                    amount=item.amount,
                    paid_at=item.paid_at,
                    outcome=outcome,
                    message=message[:MESSAGE_MAX],
                    payment_id=payment_id,
                    applied=True,
                ).save(force_insert=True)
        except IntegrityError:
            # Another import spent this folio after we looked: everything above was undone.
            earlier = self._folios_spent([item.folio]).get(item.folio)
            if earlier is None:
                raise
            return self._repeated(item, earlier)
        except (BillingError, PaymentError) as error:
            return self._line(
                item,
                amount=item.amount,
                paid_at=item.paid_at,
                outcome=Outcome.MISMATCH,
                payment_id=payment_id,
                message=(_("No se pudo acreditar: %(error)s") % {"error": error})[:MESSAGE_MAX],
            )
        return None


def _outcome_of(confirmation: Confirmation, *, provider: Provider) -> tuple[str, str]:
    payment = confirmation.payment
    if confirmation.outcome == "credited":
        if payment.paid_late:
            return Outcome.LATE, _("Acreditado; se pagó después de vencer la referencia.")
        return Outcome.CREDITED, ""
    if confirmation.outcome == "held":
        return Outcome.MISMATCH, _(
            "Se recibió %(amount)s y se esperaba %(expected)s: el pago queda retenido para "
            "revisión."
        ) % {
            "amount": money_format(payment.paid_amount, provider=provider),
            "expected": money_format(payment.amount, provider=provider),
        }
    return Outcome.ALREADY_PAID, _("La referencia ya estaba pagada; no se acreditó de nuevo.")


def _counts_store(settlement: SettlementImport) -> None:
    counts = dict(
        SettlementLine.objects.filter(settlement_import=settlement)
        .values_list("outcome")
        .annotate(count=Count("pk"))
        .order_by()
    )
    settlement.line_count = sum(counts.values())
    for outcome, field in COUNT_FIELDS.items():
        setattr(settlement, field, counts.get(outcome, 0))
    settlement.finished_at = timezone.now()
    with transaction.atomic():
        settlement.save(update_fields=["line_count", *COUNT_FIELDS.values(), "finished_at"])
        audit_entries_record(
            entries=[
                audit_entry_new(
                    action=SETTLEMENT_APPLIED,
                    actor=settlement.uploaded_by,
                    target=settlement,
                    note=settlement_summary(settlement),
                )
            ]
        )


def settlement_previous(settlement: SettlementImport) -> SettlementImport | None:
    """The first earlier import of the very same file for the same provider, if any."""
    return (
        SettlementImport.objects.filter(
            provider_id=settlement.provider_id, sha256=settlement.sha256, pk__lt=settlement.pk
        )
        .order_by("pk")
        .first()
    )


def settlement_summary(settlement: SettlementImport) -> str:
    counts = {
        "number": settlement.pk,
        "filename": settlement.filename,
        "lines": settlement.line_count,
        "credited": settlement.credited_count + settlement.late_count,
        "late": settlement.late_count,
        "already_paid": settlement.already_paid_count,
        "unmatched": settlement.unmatched_count,
        "mismatch": settlement.mismatch_count,
        "invalid": settlement.invalid_count,
    }
    return (
        ngettext(
            "Liquidación #%(number)s (%(filename)s): %(lines)s línea.",
            "Liquidación #%(number)s (%(filename)s): %(lines)s líneas.",
            settlement.line_count,
        )
        % counts
        + " "
        + _(
            "Acreditadas %(credited)s (tras vencer %(late)s), ya aplicadas %(already_paid)s, "
            "sin coincidencia %(unmatched)s, con diferencia %(mismatch)s, con error %(invalid)s."
        )
        % counts
    ) + _repeated_file_note(settlement)


def _repeated_file_note(settlement: SettlementImport) -> str:
    previous = settlement_previous(settlement)
    if previous is None:
        return ""
    return " " + _(
        "Este mismo archivo ya se había importado en la liquidación #%(number)s: lo que ya "
        "estaba aplicado no se acreditó de nuevo."
    ) % {"number": previous.pk}


def settlement_needs_review(settlement: SettlementImport) -> bool:
    """Lines that someone has to look at: wrong ones, and those in the review queue."""
    return bool(settlement.invalid_count or settlement.unmatched_count or settlement.mismatch_count)


def settlement_line_text(line: SettlementLine) -> str:
    """One line of the report as text: «línea 7: sin coincidencia — …»."""
    detail = line.get_outcome_display()
    if line.message:
        detail = f"{detail} — {line.message}"
    return str(LineError(line.line_number, detail))


def settlement_lines_resolve(*, line_ids: Iterable[int], actor: User) -> int:
    """Take lines off the review queue, recording who and when. Returns how many.

    Locked, then one UPDATE: a line two people resolve at once keeps the first one's name.
    Each line resolved leaves an audit row.
    """
    with transaction.atomic():
        lines = list(
            rows_locked(SettlementLine.objects.filter(pk__in=list(line_ids), resolved=False))
        )
        resolved = SettlementLine.objects.filter(pk__any=[line.pk for line in lines]).update(
            resolved=True, resolved_by=actor, resolved_at=timezone.now()
        )
        audit_entries_record(
            entries=[
                audit_entry_new(
                    action=SETTLEMENT_LINE_RESOLVED,
                    actor=actor,
                    target=line,
                    changes={"resolved": [False, True]},
                    note=f"{line.reference} · {line.get_outcome_display()}",
                )
                for line in lines
            ]
        )
    logger.info("settlement lines resolved count=%s actor_id=%s", resolved, actor.pk)
    return resolved
