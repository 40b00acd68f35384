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


_SIZE_MM = re.compile(r'<svg([^>]*?) width="([\d.]+)mm" height="([\d.]+)mm"')
_MM = re.compile(r'="([\d.]+)mm"')


def barcode_svg(value: str, *, scalable: bool = False) -> str:
    """The Code 128 of `value`. `scalable`: drawn in a viewBox, so that the page sizes it
    (as wide as a screen allows, for the cashier's scanner); else at its size in mm (the
    PDF voucher)."""
    buffer = io.BytesIO()
    barcode.get("code128", value, writer=SVGWriter()).write(
        buffer,
        options={"module_height": 14, "module_width": 0.3, "write_text": False, "quiet_zone": 3.5},
    )
    svg = _FILL_STYLE.sub(r'fill="\1"', _PROLOGUE.sub("", buffer.getvalue().decode()))
    if scalable:
        # The same drawing in unitless coordinates, stretched to the box: a 1-D barcode
        # reads the same however wide its bars are, as long as they keep their ratios.
        svg = _SIZE_MM.sub(r'<svg\1 viewBox="0 0 \2 \3" preserveAspectRatio="none"', svg, 1)
        svg = _MM.sub(r'="\1"', svg)
    return svg


def qr_svg(value: str) -> str:
    """A QR in a viewBox, without a fixed size: the page sizes it."""
    buffer = io.BytesIO()
    segno.make(value, error="m").save(buffer, kind="svg", xmldecl=False, omitsize=True)
    return buffer.getvalue().decode()
