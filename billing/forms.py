from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract


class InvoiceIssueForm(forms.Form):
    contract = forms.ModelChoiceField(
        label=_("Contrato"),
        queryset=Contract.objects.select_related("provider").order_by("provider", "number"),
    )
    description = forms.CharField(label=_("Detalle"), max_length=200)
    amount = forms.DecimalField(
        label=_("Importe"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    issue_date = forms.DateField(
        label=_("Fecha de emisión"), required=False, help_text=_("Vacío: hoy.")
    )
    due_date = forms.DateField(label=_("Fecha de vencimiento"))
    period_start = forms.DateField(label=_("Periodo desde"), required=False)
    period_end = forms.DateField(label=_("Periodo hasta"), required=False)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if bool(start) != bool(end):
            raise forms.ValidationError(_("Indica el periodo completo o déjalo vacío."))
        if start and end and end < start:
            self.add_error("period_end", _("El periodo termina antes de empezar."))
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Motivo"), max_length=300)


class AdjustmentForm(forms.Form):
    contract = forms.ModelChoiceField(
        label=_("Contrato"),
        queryset=Contract.objects.select_related("provider").order_by("provider", "number"),
    )
    amount = forms.DecimalField(
        label=_("Importe"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positivo a favor del abonado, negativo si es un cargo."),
    )
    reason = forms.CharField(label=_("Motivo"), max_length=300)
