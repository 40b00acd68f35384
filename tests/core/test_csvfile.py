"""The CSV front-end every import shares: what is wrong with the whole file refuses it,
what is wrong with one record is reported on that record's line."""

import pytest

from core.csvfile import CsvFile, FileRefused

COLUMNS = ("reference", "amount")


def read(raw: bytes, *, max_bytes=1024, max_lines=10):
    return CsvFile(raw, columns=COLUMNS, max_bytes=max_bytes, max_lines=max_lines)


def refusal(raw: bytes, **limits) -> list[str]:
    with pytest.raises(FileRefused) as refused:
        list(read(raw, **limits).records())
    return [str(error) for error in refused.value.errors]


def test_records_map_columns_in_any_order_and_case_with_their_line_numbers():
    csv_file = read(b"\xef\xbb\xbfAmount , REFERENCE\n\n10.00, 123 \n,\n20.00,456\n")

    records = list(csv_file.records())

    assert [(r.line, r.values, r.problems) for r in records] == [
        (3, {"reference": "123", "amount": "10.00"}, ()),
        (5, {"reference": "456", "amount": "20.00"}, ()),
    ]


@pytest.mark.parametrize(
    ("raw", "limits", "messages"),
    [
        (b"", {}, ["El archivo está vacío."]),
        (
            b"reference;amount\n",
            {},
            ["línea 1: separa las columnas con comas, no con punto y coma."],
        ),
        (
            b"reference,amount,amount,notes\n",
            {},
            ["línea 1: sobran las columnas: notes", "línea 1: columnas repetidas: amount"],
        ),
        (b"reference\n", {}, ["línea 1: faltan las columnas: amount"]),
        (
            b"reference,amount\n1,\xff\n",
            {},
            ["línea 2: el archivo no está en UTF-8; guárdalo como «CSV UTF-8»."],
        ),
        (
            b"reference,amount\n" + b"1,2\n" * 5,
            {"max_lines": 4},
            ["El archivo tiene más de 4 líneas; divídelo en partes más pequeñas."],
        ),
        (
            b"reference,amount\n" + b"1,2\n" * 5,
            {"max_bytes": 20},
            ["El archivo pesa más de 0 MB; divídelo en partes más pequeñas."],
        ),
    ],
    ids=[
        "empty",
        "semicolons",
        "extra-and-repeated",
        "missing",
        "not-utf8",
        "too-many-lines",
        "too-large",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole_with_the_reason(raw, limits, messages):
    assert refusal(raw, **limits) == messages


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\n"])
def test_a_control_character_is_reported_on_its_line_and_made_visible(character):
    raw = f'reference,amount\n1,10.00\n"12{character}3",20.00\n4,5\n'.encode()

    records = list(read(raw).records())

    assert [record.problems for record in records] == [
        (),
        (f"reference lleva un caracter de control (U+{ord(character):04X}); quítalo.",),
        (),
    ]
    # What could be read is kept for the report, without the control character.
    assert records[1].values == {"reference": "12\N{REPLACEMENT CHARACTER}3", "amount": "20.00"}
    assert "\x00" not in records[1].raw and "\N{REPLACEMENT CHARACTER}" in records[1].raw


def test_a_record_with_the_wrong_number_of_fields_says_so():
    records = list(read(b"reference,amount\n1,2,3\n").records())

    assert records[0].problems == ("tiene 3 columnas y el encabezado tiene 2.",)
