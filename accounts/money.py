from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

from .models import Provider

CENT = Decimal("0.01")


def money_quantize(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def money_format(amount: Decimal, *, provider: Provider) -> str:
    """The amount in the ISP's currency and locale: es_AR $ 2.590,00, es_MX $2,590.00."""
    return format_currency(
        money_quantize(amount),
        provider.currency,
        format=provider.currency_format or None,
        locale=provider.locale,
    )
