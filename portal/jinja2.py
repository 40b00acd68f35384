"""The template language of the portal's pages: Jinja2 (docs/performance.md, "Jinja2 for
the pages"). Django's template language stays for what the admin, allauth's own pages and
the PDFs render.

Translations: `{{ _("…") }}` and `{% trans %}…{% endtrans %}` (with `{% pluralize %}`),
extracted by `manage.py makemessages` (portal/management/commands/makemessages.py).
"""

import functools

from django.conf import settings
from django.template.backends.utils import csrf_input
from django.template.defaultfilters import capfirst, linebreaks_filter, linebreaksbr
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from jinja2 import ChainableUndefined, Environment
from markupsafe import Markup

from accounts.templatetags.antena import day, grouped, longday, money


def url(name: str, *args) -> str:
    """{{ url("invoice_detail", invoice.number) }}, as {% url %} in Django's templates.

    An address depends only on the URLconf, the script prefix (an ISP's /p/<code>/), the
    route and its arguments, so each is reversed once per process and kept (a bounded
    LRU): Django's `reverse` costs 25–65 µs, and a page of Facturas asks for 20 or more
    (docs/performance.md, "the layout's addresses")."""
    return _reversed(get_urlconf(), get_script_prefix(), name, args)


@functools.lru_cache(maxsize=4096)
def _reversed(urlconf: str | None, prefix: str, name: str, args: tuple) -> str:
    # The prefix is the request's, active while reversing: a key, not an input.
    return reverse(name, urlconf=urlconf, args=args)


@functools.lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """{{ static("css/antena.css") }}: the file's hashed address from the manifest, which a
    deployment does not change while a process runs; once per process (18–26 µs each)."""
    return static(path)


def csrf_input_once(request) -> dict:
    """A context processor: `{{ csrf_input }}` masked once per page, as Django's templates
    do ({% csrf_token %}); Django's Jinja2 backend masks it anew at each form, 90 µs each."""
    return {"csrf_input": SimpleLazyObject(lambda: csrf_input(request))}


def shared(template_name: str, **values) -> Markup:
    """{{ shared("_menu.html", mode=…, name=…) }}: a fragment of the layout made only of the
    values given (strings and numbers; nothing about the person), the portal's address and
    the language. Each is rendered once per process and reused (docs/performance.md)."""
    html = _shared_html(
        template_name, get_script_prefix(), translation.get_language(), tuple(values.items())
    )
    return Markup(html)  # noqa: S704 - our own template, rendered with autoescape


@functools.lru_cache(maxsize=2048)
def _shared_html(template_name: str, prefix: str, language: str, values: tuple) -> str:
    # The prefix and language are the request's, active while rendering: keys, not inputs.
    return render_to_string(template_name, dict(values))


def _trusted(translate):
    """Our catalogs are ours, as the templates are: a translation is markup (as in Django's
    templates), the values put into it are escaped.

    Each message is translated once per process and language, and kept: the catalogs do
    not change while a process runs, and Django's lookup costs 10 µs a message (a failed
    lookup in each of its nine catalogs for a Spanish msgid shown as it is), 20 to 40 of
    them a page (docs/performance.md, "Translations kept")."""

    @functools.lru_cache(maxsize=4096)
    def translated(language: str, *args) -> Markup:
        # The language is the active one, which `translate` reads: a key, not an input.
        return Markup(translate(*args))  # noqa: S704 - our own catalogs

    def markup(*args) -> Markup:
        return translated(translation.get_language(), *args)

    return markup


def languages() -> list[dict]:
    """The languages offered, each with its code and its own name."""
    return [translation.get_language_info(code) for code, _name in settings.LANGUAGES]


def environment(**options) -> Environment:
    # A missing value, or a value's attribute, prints nothing, as in Django's templates,
    # and the same with DEBUG on (`make run`), where Django's backend would print
    # "{{ name }}", as in tests and production.
    options.update(undefined=ChainableUndefined)
    options.pop("autoescape", None)
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_trusted(translation.gettext),
        ngettext=_trusted(translation.ngettext),
        pgettext=_trusted(translation.pgettext),
        npgettext=_trusted(translation.npgettext),
        newstyle=False,
    )
    env.globals.update(
        url=url,
        static=static_url,
        shared=shared,
        languages=languages,
        get_language=translation.get_language,
    )
    env.filters.update(
        money=money,
        day=day,
        longday=longday,
        grouped=grouped,
        capfirst=capfirst,
        linebreaks=linebreaks_filter,
        linebreaksbr=linebreaksbr,
    )
    return env
