"""One voice per language: es (the msgids) says tú, as KONA's guide; es-ar says usted,
as Wispro's portal, through locale/es_AR; en is English. A portal starts in its ISP's
language (`Provider.locale`) and the footer's selector overrides it.
"""

import datetime
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import formats, translation

from accounts import sms
from tests.factories import PASSWORD, ContractFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

CATALOG = Path(settings.BASE_DIR) / "locale" / "es_AR" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdf]|\{\w+\}|<[^>]+>")


@pytest.fixture(autouse=True)
def _default_language_after():
    """A request leaves its language active in the thread: the next test starts clean."""
    yield
    translation.deactivate()


@pytest.fixture
def kona():
    return ProviderFactory(
        code="111", name="KONA", handle_domain="kona", support_phone="800 123 4567"
    )


@pytest.fixture
def ana(interatos):
    user = UserFactory(provider=interatos, username="ana@interatos", email="")
    ContractFactory(
        provider=interatos,
        number="2001",
        user=user,
        phone="+5493511234567",
        billing_mode="postpaid",
    )
    return user


@pytest.fixture
def juan(kona):
    user = UserFactory(provider=kona, username="juan@kona", email="")
    ContractFactory(provider=kona, number="1002", user=user, billing_mode="postpaid")
    return user


# -- Sign-in, claim and password pages ------------------------------------------------------


def test_interatos_sign_in_speaks_usted_and_kona_tu(client, kona, interatos):
    interatos_page = client.get("/p/222/accounts/login/")
    kona_page = client.get("/p/111/accounts/login/")

    assert '<html lang="es-ar">' in interatos_page.text
    assert 'placeholder="juan@kona o su correo"' in interatos_page.text
    assert '¿Dudas? Llámenos al <a href="tel:03515551234">0351 555 1234</a>.' in interatos_page.text
    assert "Bienvenido al Portal de Clientes de Interatos" in interatos_page.text
    assert "INGRESAR" in interatos_page.text
    assert '<html lang="es">' in kona_page.text
    assert 'placeholder="juan@kona o tu correo"' in kona_page.text
    assert '¿Dudas? Llámanos al <a href="tel:8001234567">800 123 4567</a>.' in kona_page.text


def test_the_footer_offers_the_three_languages_with_the_portals_chosen(client, interatos):
    page = client.get("/p/222/accounts/login/").text

    # Each by its own name, whatever the page's language.
    assert '<option value="es" lang="es">Español</option>' in page
    assert '<option value="es-ar" lang="es-ar" selected>Español de Argentina</option>' in page
    assert '<option value="en" lang="en">English</option>' in page


def test_interatos_claim_pages_speak_usted(client, interatos, django_capture_on_commit_callbacks):
    ContractFactory(provider=interatos, number="2002", phone="+5493517654321")

    start = client.get("/p/222/cuenta/crear/").text
    assert (
        "Escriba el código de su proveedor, su número de contrato y el celular que registró "
        "al contratar." in start
    )
    assert "Al continuar acepta el" in start
    wrong = client.post("/p/222/cuenta/crear/", {"number": "2002", "phone": "12"}).text
    assert "Escriba un celular válido, p. ej." in wrong
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/p/222/cuenta/crear/", {"number": "2002", "phone": "3517654321"})
    code_page = client.get("/p/222/cuenta/crear/codigo/").text

    assert "Escriba el código de 6 dígitos que le enviamos por SMS. Vence en 10 minutos." in (
        code_page
    )
    assert "Si no recibe el código, llame a Interatos al" in code_page
    (message,) = sms.outbox
    assert message.body.startswith("Interatos: su código es ")


def test_kona_claim_page_speaks_tu(client, kona):
    page = client.get("/p/111/cuenta/crear/").text

    assert (
        "Escribe el código de tu proveedor, tu número de contrato y el celular que "
        "registraste al contratar." in page
    )
    assert "Al continuar aceptas el" in page


def test_the_claim_without_a_portal_asks_the_code_in_the_visitors_language(client, interatos):
    page = Client(headers={"accept-language": "es-AR,es;q=0.9"}).get("/cuenta/crear/").text

    assert "El código de su proveedor figura en su contrato." in page
    assert "El código de tu proveedor viene en tu contrato." in client.get("/cuenta/crear/").text


def test_interatos_password_pages_speak_usted(client, ana):
    reset = client.get("/p/222/cuenta/recuperar/").text
    assert (
        "Le enviaremos un código por SMS al número registrado y, si tiene correo, un enlace."
        in (reset)
    )

    client.force_login(ana)
    change = client.get("/p/222/accounts/password/change/").text
    assert "ni parecida a su cuenta o su nombre." in change
    refused = client.post(
        "/p/222/accounts/password/change/",
        {"oldpassword": "otra-clave-2026", "password1": "x", "password2": "x"},
    ).text
    assert "Escriba su contraseña actual." in refused
    logout = client.get("/p/222/accounts/logout/").text
    assert "¿Quiere cerrar su sesión en este dispositivo?" in logout


def test_kona_password_pages_speak_tu(client, juan):
    reset = client.get("/p/111/cuenta/recuperar/").text
    assert (
        "Te enviaremos un código por SMS al número registrado y, si tienes correo, un enlace."
        in (reset)
    )

    client.force_login(juan)
    refused = client.post(
        "/p/111/accounts/password/change/",
        {"oldpassword": "otra-clave-2026", "password1": "x", "password2": "x"},
    ).text
    assert "Escribe tu contraseña actual." in refused
    assert (
        "¿Quieres cerrar tu sesión en este dispositivo?"
        in client.get("/p/111/accounts/logout/").text
    )


# -- Signed-in pages ------------------------------------------------------------------------


def test_interatos_signed_in_pages_speak_usted(client, ana):
    client.force_login(ana)

    my_account = client.get("/p/222/cuenta/")
    invoices = client.get("/p/222/facturas/").text

    assert my_account["Content-Language"] == "es-ar"
    assert (
        "Elija por dónde le avisamos de sus pagos, de su vigencia y de los cambios en su "
        "servicio." in my_account.text
    )
    assert "Los códigos de verificación siempre le llegan por SMS, elija lo que elija." in (
        my_account.text
    )
    assert "Aún no tenemos su correo." in my_account.text
    assert "Aún no tiene facturas." in invoices
    assert "Cuando su proveedor emita su primera factura la verá aquí" in invoices


def test_kona_signed_in_pages_speak_tu(client, juan):
    client.force_login(juan)

    my_account = client.get("/p/111/cuenta/")
    invoices = client.get("/p/111/facturas/").text

    assert my_account["Content-Language"] == "es"
    assert (
        "Elige por dónde te avisamos de tus pagos, de tu vigencia y de los cambios en tu "
        "servicio." in my_account.text
    )
    assert "Aún no tienes facturas." in invoices


def test_on_the_bare_routes_a_subscriber_hears_their_isps_voice(client, ana):
    client.force_login(ana)

    page = client.get("/facturas/")

    assert page["Content-Language"] == "es-ar"
    assert "Aún no tiene facturas." in page.text


def test_the_isps_language_costs_no_query(client, ana):
    client.force_login(ana)
    client.get("/cuenta/")  # the ISPs' portal hosts are read once, then cached
    counts = []
    for chosen in (None, "es-ar"):
        if chosen:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = chosen
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/cuenta/")
        assert "Elija por dónde le avisamos" in page.text
        counts.append(len(queries))

    assert counts[0] == counts[1], counts


# -- The subscriber's choice ----------------------------------------------------------------


def test_a_subscriber_who_picks_english_gets_english_on_interatos(client, ana):
    response = client.post(
        "/p/222/i18n/setlang/", {"language": "en", "next": "/p/222/accounts/login/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/p/222/accounts/login/"

    login = client.get("/p/222/accounts/login/")
    assert login["Content-Language"] == "en"
    assert '<html lang="en">' in login.text
    assert "SIGN IN" in login.text and 'placeholder="juan@kona or your email"' in login.text
    assert "INGRESAR" not in login.text
    client.post("/p/222/accounts/login/", {"login": "ana@interatos", "password": PASSWORD})
    invoices = client.get("/p/222/facturas/").text
    assert "<h1>Invoices</h1>" in invoices
    assert "You don't have any invoices yet." in invoices


def test_a_subscriber_who_picks_mexican_spanish_hears_tu_on_interatos(client, interatos):
    client.post("/p/222/i18n/setlang/", {"language": "es", "next": "/p/222/accounts/login/"})

    page = client.get("/p/222/cuenta/crear/")

    assert page["Content-Language"] == "es"
    assert "Escribe el código de tu proveedor" in page.text


def test_the_isps_voice_beats_the_browsers_spanish(kona, interatos):
    argentine_browser = Client(headers={"accept-language": "es-AR,es;q=0.9"})

    kona_page = argentine_browser.get("/p/111/cuenta/crear/")

    assert kona_page["Content-Language"] == "es"
    assert "Escribe el código de tu proveedor" in kona_page.text


def test_an_english_browser_without_a_choice_hears_the_isps_language(interatos):
    page = Client(headers={"accept-language": "en"}).get("/p/222/cuenta/crear/")

    assert "Escriba el código de su proveedor" in page.text


def test_the_response_says_its_language_and_what_it_depends_on(client, interatos):
    response = client.get("/p/222/accounts/login/")

    assert response["Content-Language"] == "es-ar"
    vary = {value.strip().lower() for value in response["Vary"].split(",")}
    assert {"accept-language", "cookie"} <= vary


def test_argentine_spanish_keeps_the_portals_dates_and_argentine_numbers():
    with translation.override("es-ar"):
        assert formats.date_format(datetime.date(2026, 12, 1), "SHORT_DATE_FORMAT") == (
            "01/12/2026"
        )
        assert formats.date_format(datetime.date(2026, 12, 1)) == "01/12/2026"
        assert formats.number_format(Decimal("2590.5"), 2, force_grouping=True) == "2.590,50"


# -- The catalogue --------------------------------------------------------------------------

# Pronouns and possessives of tú, as whole words ("tu" inside "actualizado" or "estructura"
# is not one).
TU_PRONOUNS = re.compile(r"\b(?:tú|tu|tus|te|ti|contigo)\b", re.IGNORECASE)
# The second person of the verbs our strings use (usted: puede, tiene, quiere, recibe...).
TU_VERBS = {
    "aceptas", "debes", "desmarques", "elijas", "eliges", "eres", "estás", "haces",
    "hayas", "marques", "necesitas", "necesites", "pagas", "podrás", "prefieres",
    "puedas", "puedes", "quieras", "quieres", "recibas", "recibes", "recibirás", "sabes",
    "tendrás", "tengas", "tienes", "usas", "vas", "verás", "ves",
}  # fmt: skip
# Imperatives of tú that open a sentence or a clause ("Escribe…", ": revisa…", "o pide…");
# usted: escriba, revise, pida.
TU_IMPERATIVES = {
    "abre", "acude", "agrega", "anula", "busca", "cambia", "comunica", "confirma",
    "conserva", "consulta", "copia", "corrige", "crea", "dicta", "elige", "entra",
    "escribe", "espera", "guarda", "haz", "indica", "ingresa", "intenta", "llama", "mantén",
    "marca", "muestra", "paga", "pide", "pon", "registra", "revierte", "revisa", "sal",
    "selecciona", "separa", "sube", "ten", "toca", "usa", "ven", "vuelve",
}  # fmt: skip
# These open with a verb in the third person: they say what something does, to nobody.
THIRD_PERSON = {
    "Revisa el archivo y cuenta los cambios sin guardar nada.",  # what "Solo validar" does
    "revierte a",  # the entry a reversal reverts
}
# The same imperatives, and a few more, with a pronoun attached: búscalo, ábrela,
# llámanos, divídelo (usted: búsquelo, ábrala, llámenos, divídalo). Compared without
# the accent the pronoun adds.
TU_IMPERATIVES_WITH_PRONOUN = TU_IMPERATIVES | {
    "avisa", "cuenta", "deja", "di", "divide", "escucha", "quita", "sigue",
}  # fmt: skip
PRONOUNS = ("los", "las", "lo", "la", "nos", "me", "le", "les")
# A reflexive imperative (comunícate, regístrate; usted: comuníquese) or an infinitive
# with te (avisarte, darte).
TU_WITH_TE = re.compile(r"\b\w*[áéíóú]\w*te\b|\b\w+(?:ar|er|ir)te\b", re.IGNORECASE)
NOT_WITH_TE = {
    "acierte", "advierte", "alerte", "aparte", "arte", "baluarte", "comparte", "concierte",
    "convierte", "descarte", "despierte", "divierte", "estandarte", "fuerte", "imparte",
    "inerte", "inserte", "invierte", "muerte", "parte", "reparte", "revierte", "suerte",
    "vierte",
}  # fmt: skip
# The preterite of tú (registraste, pediste, usaste; usted: registró, pidió, usó).
TU_PRETERITE = re.compile(r"\b\w+(?:aste|iste)\b", re.IGNORECASE)
NOT_PRETERITE = {
    "alpiste", "asiste", "baste", "chiste", "consiste", "contraste", "desgaste", "desiste",
    "devaste", "existe", "gaste", "insiste", "persiste", "quiste", "resiste", "subsiste",
    "triste",
}  # fmt: skip
WORD = re.compile(r"\w+")
CLAUSE = re.compile(r"[.:;,¿¡?!]\s*|\s(?:y|o)\s")


def _unaccented(word: str) -> str:
    return "".join(
        letter for letter in unicodedata.normalize("NFD", word) if not unicodedata.combining(letter)
    )


def _imperative_with_pronoun(word: str) -> bool:
    word = _unaccented(word)
    return any(
        word.endswith(pronoun) and word.removesuffix(pronoun) in TU_IMPERATIVES_WITH_PRONOUN
        for pronoun in PRONOUNS
    )


def speaks_tu(text: str) -> bool:
    """Whether a Spanish string addresses the reader as tú."""
    if text in THIRD_PERSON:
        return False
    text = PLACEHOLDER.sub(" ", text)
    words = {word.lower() for word in WORD.findall(text)}
    if TU_PRONOUNS.search(text) or words & TU_VERBS:
        return True
    if any(_imperative_with_pronoun(word) for word in words):
        return True
    with_te = {match.lower() for match in TU_WITH_TE.findall(text)}
    preterites = {match.lower() for match in TU_PRETERITE.findall(text)}
    if with_te - NOT_WITH_TE or preterites - NOT_PRETERITE:
        return True
    for clause in CLAUSE.split(text):
        clause_words = WORD.findall(clause)
        if len(clause_words) > 1 and clause_words[0].lower() in TU_IMPERATIVES:
            return True
    return False


@pytest.mark.parametrize(
    "text",
    [
        "Escribe tu contraseña actual.",
        "El código de tu proveedor viene en tu contrato.",
        "Te enviaremos un código por SMS.",
        "¿Quieres cerrar la sesión?",
        "Aquí verás cada pago.",
        "El celular que registraste al contratar.",
        "Demasiados intentos. Espera unos minutos y vuelve a intentarlo.",
        "La factura tiene pagos aplicados: revierte los pagos primero.",
        "Revisa el SMS o pide otro.",
        "Búscalo con la lupa.",
        "El archivo es grande; divídelo en partes.",
        "¿Dudas? Llámanos al %(phone)s.",
        "Comunícate con atención a clientes.",
        "Para prestarte el servicio.",
        "Mantén %(what)s activo.",
    ],
)
def test_the_detector_hears_tu(text):
    assert speaks_tu(text)


@pytest.mark.parametrize(
    "text",
    [
        "Cuenta actualizada: la estructura del tutorial.",  # "tu" inside words
        "La cuenta %(username)s ya existe.",
        "Este contrato es de otro proveedor; cree una cuenta aparte.",
        "Contraste %(ratio).1f:1.",
        "Escriba el código de su proveedor.",
        "Búsquelo con la lupa; divídalo en partes; llámenos; comuníquese.",
        "Revisa el archivo y cuenta los cambios sin guardar nada.",
        "Descarga",
        "Suspende el servicio aunque tenga crédito.",
        "Abone en efectivo: %(tu)s <b title='tu'>",  # placeholders and markup are no words
        "Seleccione el Pago",
    ],
)
def test_the_detector_does_not_hear_tu_where_there_is_none(text):
    assert not speaks_tu(text)


def _catalog():
    with CATALOG.open("rb") as po_file:
        return read_po(po_file)


def _texts(value) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def test_every_string_that_says_tu_has_its_usted_form():
    catalog = _catalog()
    missing = [
        _texts(message.id)[0]
        for message in catalog
        if message.id
        and any(speaks_tu(text) for text in _texts(message.id))
        and (message.fuzzy or not all(_texts(message.string)))
    ]
    assert not missing, "say it with usted in locale/es_AR/LC_MESSAGES/django.po:\n" + "\n".join(
        missing
    )


def test_the_usted_forms_keep_placeholders_and_say_no_tu():
    problems = []
    for message in _catalog():
        strings = _texts(message.string)
        if not message.id or not all(strings):
            continue
        ids = _texts(message.id)
        for source, string in zip(ids * len(strings), strings, strict=False):
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(string)):
                problems.append(f"placeholders differ: {source!r} -> {string!r}")
            if speaks_tu(string):
                problems.append(f"still tú: {string!r}")
    assert not problems, "\n".join(problems)


# Strings that speak tú in a way the detector does not hear (a verb in mid-sentence).
USTED_BEYOND_THE_DETECTOR = {
    "Para entrar a la administración activa la verificación en dos pasos.",
}


def test_strings_without_tu_fall_back_to_their_msgid():
    translated_without_tu = [
        _texts(message.id)[0]
        for message in _catalog()
        if message.id
        and all(_texts(message.string))
        and not any(speaks_tu(text) for text in _texts(message.id))
        and _texts(message.id)[0] not in USTED_BEYOND_THE_DETECTOR
    ]
    assert not translated_without_tu, "\n".join(translated_without_tu)


def test_the_compiled_catalogue_matches_the_po_file():
    def translated(catalog) -> dict:
        return {
            _texts(message.id): _texts(message.string)
            for message in catalog
            if message.id
            and all(_texts(message.string))
            and _texts(message.string) != _texts(message.id)
            and not message.fuzzy
        }

    mo_path = CATALOG.with_suffix(".mo")
    assert mo_path.exists(), "run `manage.py compile_translations`"
    with mo_path.open("rb") as mo_file:
        compiled = translated(read_mo(mo_file))
    assert compiled == translated(_catalog()), "django.mo is stale: run compile_translations"
