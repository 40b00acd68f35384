"""Money is Decimal in the ISP's currency, shown with Babel in the ISP's locale."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from babel.numbers import format_currency


class MoneyFormat(Protocol):
    """How an ISP writes amounts (accounts.Provider has these fields)."""

    currency: str
    locale: str
    currency_format: str


CENT = Decimal("0.01")


def money_quantize(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def money_format(amount: Decimal, *, provider: MoneyFormat) -> str:
    """The amount in the ISP's currency and locale: es_AR $ 2.590,00, es_MX $2,590.00."""
    return format_currency(
        money_quantize(amount),
        provider.currency,
        format=provider.currency_format or None,
        locale=provider.locale,
    )
