import datetime
import functools

from babel.dates import format_date
from django import template
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.translation import get_language

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
    return _day_text(value, provider.locale)


@functools.lru_cache(maxsize=4096)
def _day_text(value: datetime.date, locale: str) -> str:
    """Made once per process: a statement repeats the same few dates (docs/performance.md)."""
    return format_date(value, format="dd/MM/yyyy", locale=locale)


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


@register.simple_tag
def shared(template_name: str, **values) -> str:
    """{% shared "_menu.html" mode=... name=... %}: a fragment of the layout made only of
    the values given (strings and numbers; nothing about the person), the portal's address
    and the language. Each is rendered once per process and reused (docs/performance.md)."""
    return _shared_html(template_name, get_script_prefix(), get_language(), tuple(values.items()))


@functools.lru_cache(maxsize=2048)
def _shared_html(template_name: str, prefix: str, language: str, values: tuple) -> str:
    # The prefix and language are the request's, active while rendering: keys, not inputs.
    return render_to_string(template_name, dict(values))
