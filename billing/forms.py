"""Staff forms of the billing admin pages. They parse input; billing.services decides."""

from decimal import Decimal

from django import forms
from django.contrib.admin import AdminSite
from django.contrib.admin.widgets import AdminDateWidget
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract
from core.admin import TenantRawIdWidget

from .models import Invoice, LedgerEntry


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
