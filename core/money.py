"""Money is Decimal in the ISP's currency, shown with Babel in the ISP's locale."""

import functools
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
    # + 0 makes a negative zero a zero: the cache holds one text per value.
    return _money_text(
        money_quantize(amount) + 0, provider.currency, provider.currency_format, provider.locale
    )


@functools.lru_cache(maxsize=4096)
def _money_text(amount: Decimal, currency: str, pattern: str, locale: str) -> str:
    """Babel takes ~35 µs an amount and a statement shows dozens, mostly the same few
    prices: each text is made once per process (docs/performance.md)."""
    return format_currency(amount, currency, format=pattern or None, locale=locale)
