import datetime
import functools

from babel.dates import format_date
from django import template
from django.template.loader import get_template
from django.utils.safestring import mark_safe

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


@register.tag
def layout(parser, token):
    """{% layout %}{% block head_title %}…{% endblock %}{% content %}…{% endlayout %}: a page
    in Django's template language (allauth's own: two-factor set-up, reauthentication)
    worn inside the portal's one layout, templates/jinja2/base.html."""
    title = parser.parse(("content",))
    parser.delete_first_token()
    content = parser.parse(("endlayout",))
    parser.delete_first_token()
    return LayoutNode(title, content)


class LayoutNode(template.Node):
    child_nodelists = ("title", "content")

    def __init__(self, title: template.NodeList, content: template.NodeList):
        self.title = title
        self.content = content

    def render(self, context) -> str:
        values = {
            "title": self.title.render(context).strip(),
            "content": mark_safe(self.content.render(context)),  # noqa: S308 - rendered by Django, escaped
        }
        request = context.get("request")
        return get_template("base.html", using="jinja2").render(values, request)
