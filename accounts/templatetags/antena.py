import datetime

from babel.dates import format_date
from django import template

from accounts.models import Provider
from core.money import money_format
from core.text import digits_grouped

register = template.Library()


@register.filter
def money(amount, provider: Provider) -> str:
    """{{ invoice.total|money:contract.provider }}"""
    if amount is None:
        return ""
    return money_format(amount, provider=provider)


@register.filter
def day(value: datetime.date | datetime.datetime | None, provider: Provider) -> str:
    """A calendar date as the ISP writes it (dd/mm/yyyy); datetimes in the ISP's zone."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = value.astimezone(provider.tzinfo).date()
    return format_date(value, format="dd/MM/yyyy", locale=provider.locale)


@register.filter
def longday(value: datetime.date | None, provider: Provider) -> str:
    """ "20 de octubre de 2021"."""
    if value is None:
        return ""
    return format_date(value, format="long", locale=provider.locale)


@register.filter
def grouped(digits: str) -> str:
    """{{ payment.reference|grouped }}: 1113 2417 2894 941, for reading aloud."""
    return digits_grouped(digits or "")
