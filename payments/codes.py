"""The barcode the cashier scans (Code 128) and a QR, as inline SVG: no image requests."""

import io
import re

import barcode
import segno
from barcode.writer import SVGWriter

_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
# python-barcode colours its bars with style="fill:…"; the Content-Security-Policy allows
# no inline style, so the same colour goes in a fill attribute.
_FILL_STYLE = re.compile(r'style="fill:\s*([#\w]+);?"')


def barcode_svg(value: str) -> str:
    buffer = io.BytesIO()
    barcode.get("code128", value, writer=SVGWriter()).write(
        buffer, options={"module_height": 14, "module_width": 0.3, "write_text": False}
    )
    return _FILL_STYLE.sub(r'fill="\1"', _PROLOGUE.sub("", buffer.getvalue().decode()))


def qr_svg(value: str) -> str:
    buffer = io.BytesIO()
    segno.make(value, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode()
