"""Staff forms of the billing admin pages. They parse input; billing.services decides."""

from decimal import Decimal

from django import forms
from django.contrib.admin import AdminSite
from django.contrib.admin.widgets import AdminDateWidget
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider
from core.admin import TenantRawIdWidget
from core.dates import FIRST_YEAR, LAST_YEAR, year_accepted
from core.phones import phone_field_in_region

from .models import Invoice, LedgerEntry, ServiceHold
from .services import ServiceOrder


def _contract_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("Contrato"),
        queryset=Contract.objects.none(),
        help_text=_("Búscalo con la lupa o escribe su id."),
    )


class _ContractLookupForm(forms.Form):
    """An ISP has thousands of contracts: the admin's raw-id lookup, not a <select>.

    `contracts` are those the staff member may choose (their ISP's).
    """

    contract_relation = None

    def __init__(self, *args, admin_site: AdminSite, contracts: QuerySet[Contract], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contract"].queryset = contracts
        self.fields["contract"].widget = TenantRawIdWidget(
            self.contract_relation, admin_site, queryset=contracts
        )


class InvoiceIssueForm(_ContractLookupForm):
    contract_relation = Invoice._meta.get_field("contract").remote_field

    contract = _contract_field()
    description = forms.CharField(label=_("Detalle"), max_length=200)
    amount = forms.DecimalField(
        label=_("Importe"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    issue_date = forms.DateField(
        label=_("Fecha de emisión"),
        required=False,
        help_text=_("Vacío: hoy."),
        widget=AdminDateWidget,
    )
    due_date = forms.DateField(label=_("Fecha de vencimiento"), widget=AdminDateWidget)
    period_start = forms.DateField(label=_("Periodo desde"), required=False, widget=AdminDateWidget)
    period_end = forms.DateField(label=_("Periodo hasta"), required=False, widget=AdminDateWidget)

    def clean(self):
        cleaned = super().clean()
        issue_date, due_date = cleaned.get("issue_date"), cleaned.get("due_date")
        if issue_date and due_date and due_date < issue_date:
            self.add_error("due_date", _("El vencimiento no puede ser anterior a la emisión."))
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if bool(start) != bool(end):
            raise forms.ValidationError(_("Indica el periodo completo o déjalo vacío."))
        if start and end and end < start:
            self.add_error("period_end", _("El periodo termina antes de empezar."))
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Motivo"), max_length=300)


class AdjustmentForm(_ContractLookupForm):
    contract_relation = LedgerEntry._meta.get_field("contract").remote_field

    contract = _contract_field()
    amount = forms.DecimalField(
        label=_("Importe"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positivo a favor del abonado, negativo si es un cargo."),
    )
    reason = forms.CharField(label=_("Motivo"), max_length=300)


class ContractAdminForm(forms.ModelForm):
    """A contract in the admin, with its service as staff order it: a new vigencia, a
    suspension by the ISP (with why) or its lifting, a cancellation. Vigencia and status
    themselves are derived (billing.recompute)."""

    vigencia = forms.DateField(
        label=_("Nueva vigencia"),
        required=False,
        widget=AdminDateWidget,
        help_text=_(
            "Servicio pagado hasta esta fecha: se registra un periodo de servicio. Solo "
            "hacia adelante; una vigencia menor se corrige con un ajuste."
        ),
    )
    held = forms.BooleanField(
        label=_("Suspendido por el ISP"),
        required=False,
        help_text=_("Suspende el servicio aunque tenga crédito, hasta que lo desmarques."),
    )
    hold_reason = forms.CharField(
        label=_("Motivo de la suspensión"), required=False, max_length=300
    )
    cancelled = forms.BooleanField(label=_("Contrato cancelado"), required=False)

    class Meta:
        model = Contract
        fields = [
            "provider",
            "number",
            "holder_name",
            "installation_address",
            "phone",
            "email",
            "zone",
            "plan",
            "billing_mode",
            "ip_address",
            "user",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        contract = self.instance
        # The phone is typed and shown as the contract's ISP writes it (the one chosen in
        # the form when adding one).
        provider_id = str(self.data.get("provider") or contract.provider_id or "")
        if "phone" in self.fields and provider_id.isdigit():
            phone_field_in_region(
                self.fields["phone"],
                country=Provider.objects.filter(pk=provider_id)
                .values_list("country", flat=True)
                .first(),
            )
        hold = (
            ServiceHold.objects.filter(contract=contract, lifted_at=None).first()
            if contract.pk
            else None
        )
        self.was_held = hold is not None
        self.initial["held"] = self.was_held
        if hold is not None:
            self.initial["hold_reason"] = hold.reason
        self.initial["cancelled"] = contract.status == Contract.Status.CANCELLED

    def clean(self):
        data = super().clean()
        vigencia = data.get("vigencia")
        paid_until = self.instance.paid_until if self.instance.pk else None
        if vigencia and not year_accepted(vigencia):
            self.add_error(
                "vigencia",
                _("Indica una fecha entre los años %(first)s y %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR},
            )
        elif vigencia and paid_until and vigencia <= paid_until:
            self.add_error(
                "vigencia",
                _("La vigencia ya llega al %(date)s: indica una fecha posterior.")
                % {"date": paid_until.strftime("%d/%m/%Y")},
            )
        if data.get("held") and not self.was_held and not (data.get("hold_reason") or "").strip():
            self.add_error("hold_reason", _("Indica el motivo de la suspensión."))
        return data

    def service_order(self, *, contract: Contract, plan) -> ServiceOrder | None:
        """What this form asks of the contract's service, or None."""
        data = self.cleaned_data
        held = data["held"] if data["held"] != self.was_held else None
        was_cancelled = self.initial["cancelled"]
        cancelled = data["cancelled"] if data["cancelled"] != was_cancelled else None
        plan = plan if plan.pk != contract.plan_id else None
        if data["vigencia"] is None and held is None and cancelled is None and plan is None:
            return None
        return ServiceOrder(
            contract=contract,
            vigencia=data["vigencia"],
            held=held,
            reason=data["hold_reason"],
            plan=plan,
            cancelled=cancelled,
        )
