"""The default words of every message, in the ISP's voice (es-MX says tú, es-AR usted),
and how an ISP's own template is filled. Placeholders are names in braces, nothing more:
an ISP's template can show values, never reach into them."""

import re

from django.utils.translation import gettext_lazy as _

from .models import Kind

PLACEHOLDER = re.compile(r"\{(\w+)\}")

# What each kind of message may say, for the admin's help and its check.
PLACEHOLDERS = {
    Kind.PAYMENT_RECEIVED: ("isp", "titular", "contrato", "monto", "detalle"),
    Kind.CREDIT_REMINDER: ("isp", "titular", "contrato", "dias", "vigencia", "monto", "como_pagar"),
    Kind.SERVICE_SUSPENDED: ("isp", "titular", "contrato", "motivo", "vigencia"),
    Kind.SERVICE_REACTIVATED: ("isp", "titular", "contrato", "vigencia"),
    Kind.INVOICE_ISSUED: ("isp", "titular", "contrato", "factura", "monto", "vencimiento"),
    Kind.INVITATION: ("isp", "titular", "contrato", "enlace"),
    Kind.INVOICE_REMINDER: (
        "isp",
        "titular",
        "contrato",
        "factura",
        "monto",
        "vencimiento",
        "dias",
        "como_pagar",
    ),
}

DEFAULTS = {
    "tu": {
        Kind.PAYMENT_RECEIVED: (
            "{isp}: recibimos tu pago de {monto} (contrato {contrato}). {detalle}"
        ),
        Kind.CREDIT_REMINDER: (
            "{isp}: te quedan {dias} días de servicio (vigencia {vigencia}). "
            "Paga {monto} {como_pagar}."
        ),
        Kind.SERVICE_SUSPENDED: (
            "{isp}: tu servicio del contrato {contrato} está suspendido ({motivo}). "
            "Al pagar vuelve en minutos."
        ),
        Kind.SERVICE_REACTIVATED: (
            "{isp}: tu servicio del contrato {contrato} está activo de nuevo. ¡Gracias!"
        ),
        Kind.INVOICE_ISSUED: (
            "{isp}: tu factura Nº {factura} por {monto} vence el {vencimiento}. "
            "Descárgala y págala en tu portal."
        ),
        Kind.INVITATION: (
            "{isp}: tu número de contrato es {contrato}. Crea tu cuenta con este celular "
            "en {enlace} y consulta y paga tu servicio."
        ),
        Kind.INVOICE_REMINDER: (
            "{isp}: tu factura Nº {factura} por {monto} vence el {vencimiento}. "
            "Págala {como_pagar}."
        ),
    },
    "usted": {
        Kind.PAYMENT_RECEIVED: (
            "{isp}: recibimos su pago de {monto} (contrato {contrato}). {detalle}"
        ),
        Kind.CREDIT_REMINDER: (
            "{isp}: le quedan {dias} días de servicio (vigencia {vigencia}). "
            "Abone {monto} {como_pagar}."
        ),
        Kind.SERVICE_SUSPENDED: (
            "{isp}: su servicio del contrato {contrato} está suspendido ({motivo}). "
            "Al abonar se reactiva en minutos."
        ),
        Kind.SERVICE_REACTIVATED: (
            "{isp}: su servicio del contrato {contrato} está activo nuevamente. Gracias."
        ),
        Kind.INVOICE_ISSUED: (
            "{isp}: su factura Nº {factura} por {monto} vence el {vencimiento}. "
            "Descárguela y abónela en su portal."
        ),
        Kind.INVITATION: (
            "{isp}: su número de contrato es {contrato}. Cree su cuenta con este celular "
            "en {enlace} y consulte y abone su servicio."
        ),
        Kind.INVOICE_REMINDER: (
            "{isp}: su factura Nº {factura} por {monto} vence el {vencimiento}. "
            "Abónela {como_pagar}."
        ),
    },
}

HELP = _(
    "Usa los datos entre llaves: {isp}, {titular}, {contrato}, y según el mensaje {monto}, "
    "{detalle}, {dias}, {vigencia}, {como_pagar}, {motivo}, {factura}, {vencimiento}, "
    "{enlace}."
)


def voice_of(locale: str) -> str:
    """Argentina's portal speaks usted (Wispro's); the rest tú (KONA's guide)."""
    return "usted" if locale.startswith("es_AR") else "tu"


def default_text(*, kind: str, locale: str) -> str:
    return DEFAULTS[voice_of(locale)][kind]


def unknown_placeholders(*, kind: str, text: str) -> list[str]:
    return [name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS[kind]]


def text_filled(text: str, values: dict[str, str]) -> str:
    """The template with each known {name} replaced by its value; the rest left as is."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)
