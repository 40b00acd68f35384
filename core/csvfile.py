"""The CSV front-end of every import (contracts, settlement files).

One reader checks what every file must be: no larger than the import allows, UTF-8 (a
BOM is fine), a header row naming the import's columns, no more lines than allowed, and
no control characters (a NUL byte is refused by PostgreSQL, so a file with one would
fail half-way). What is wrong with the whole file raises `FileRefused` before anything
is written; what is wrong with one record is reported on that record, with its line
number, and the import decides what to do with it (the contract import refuses the
file, a settlement file applies its good lines).
"""

import csv
import dataclasses
import io
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from django.utils.translation import gettext as _

from .text import CONTROL_CHARACTERS, REPLACEMENT


@dataclasses.dataclass(frozen=True)
class LineError:
    """One problem in a file; `line` is None when it is about the whole file."""

    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("línea %(line)s: %(message)s") % {"line": self.line, "message": self.message}


class FileRefused(Exception):
    """The whole file is refused; nothing was written. `errors` says why."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def value_shown(value: str, *, limit: int = 60) -> str:
    """A value as it goes in a message: quoted, cut when very long, controls made visible."""
    value = CONTROL_CHARACTERS.sub(REPLACEMENT, value)
    return "«" + (value if len(value) <= limit else value[: limit - 1] + "…") + "»"


class CsvRecord(NamedTuple):
    """One non-blank record after the header (a tuple: a large file makes 200,000).

    `values` maps each of the import's columns to its stripped text; `problems` is empty
    for a record whose shape is right. A record with problems keeps what could be read,
    with control characters replaced, so that it can be shown and stored safely. `raw`
    is the record as one line of text, for reports.
    """

    line: int
    values: dict[str, str]
    raw: str
    problems: tuple[str, ...] = ()


class CsvFile:
    """A CSV file with a header row naming `columns` (any order, any case), and any of
    `optional` (a record's values hold only the optional columns the header names).

    Raises FileRefused when the file is too large, not UTF-8, empty, or its header is
    wrong; `records()` raises it when the file has too many lines or a broken quote.
    """

    def __init__(
        self,
        raw: bytes,
        *,
        columns: Sequence[str],
        max_bytes: int,
        max_lines: int,
        optional: Sequence[str] = (),
    ) -> None:
        self.columns = tuple(columns)
        self.max_lines = max_lines
        self.text = _decode(raw, max_bytes=max_bytes)
        first = next(self._records(), None)
        if first is None:
            raise FileRefused([LineError(None, _("El archivo está vacío."))])
        self.header_line, self.header = first
        self.positions = _header_positions(
            line=self.header_line, header=self.header, columns=self.columns, optional=optional
        )
        self.columns += tuple(column for column in optional if column in self.positions)

    def records(self) -> Iterator[CsvRecord]:
        """The records after the header, one at a time (a large file is not kept whole)."""
        rows = self._records()
        next(rows)
        for line, fields in rows:
            yield self._record(line, fields)

    def _record(self, line: int, fields: list[str]) -> CsvRecord:
        raw = ",".join(fields)
        # One search of the whole record: a clean one, nearly every one, costs no more.
        controlled = CONTROL_CHARACTERS.search(raw) is not None
        if controlled:
            raw = CONTROL_CHARACTERS.sub(REPLACEMENT, raw)
        if len(fields) != len(self.header):
            return CsvRecord(
                line=line,
                values={},
                raw=raw,
                problems=(
                    _("tiene %(found)s columnas y el encabezado tiene %(expected)s.")
                    % {"found": len(fields), "expected": len(self.header)},
                ),
            )
        values = {column: fields[self.positions[column]].strip() for column in self.columns}
        if not controlled:
            return CsvRecord(line=line, values=values, raw=raw)
        problems = tuple(
            _("%(column)s lleva un caracter de control (%(code)s); quítalo.")
            % {"column": column, "code": f"U+{ord(match.group()):04X}"}
            for column, value in values.items()
            if (match := CONTROL_CHARACTERS.search(value))
        )
        values = {
            column: CONTROL_CHARACTERS.sub(REPLACEMENT, value) for column, value in values.items()
        }
        return CsvRecord(line=line, values=values, raw=raw, problems=problems)

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """The non-blank records, each with the line it starts on."""
        reader = csv.reader(io.StringIO(self.text, newline=""))
        last_line = 0
        try:
            for fields in reader:
                first_line, last_line = last_line + 1, reader.line_num
                if last_line > self.max_lines:
                    raise FileRefused(
                        [
                            LineError(
                                None,
                                _(
                                    "El archivo tiene más de %(max_lines)s líneas; divídelo "
                                    "en partes más pequeñas."
                                )
                                % {"max_lines": self.max_lines},
                            )
                        ]
                    )
                # Spreadsheets leave empty lines and lines of bare commas at the end.
                if any(field.strip() for field in fields):
                    yield first_line, fields
        except csv.Error as error:
            raise FileRefused(
                [
                    LineError(
                        last_line + 1,
                        _("el CSV está mal formado (%(error)s).") % {"error": error},
                    )
                ]
            ) from None


def _decode(raw: bytes, *, max_bytes: int) -> str:
    if len(raw) > max_bytes:
        raise FileRefused(
            [
                LineError(
                    None,
                    _("El archivo pesa más de %(megabytes)s MB; divídelo en partes más pequeñas.")
                    % {"megabytes": max_bytes // (1024 * 1024)},
                )
            ]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused(
            [
                LineError(
                    raw[: error.start].count(b"\n") + 1,
                    _("el archivo no está en UTF-8; guárdalo como «CSV UTF-8»."),
                )
            ]
        ) from None


def _header_positions(
    *, line: int, header: list[str], columns: tuple[str, ...], optional: Sequence[str]
) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    if len(names) == 1 and ";" in names[0]:
        raise FileRefused(
            [LineError(line, _("separa las columnas con comas, no con punto y coma."))]
        )
    errors = []
    missing = [column for column in columns if column not in names]
    extra = [
        CONTROL_CHARACTERS.sub(REPLACEMENT, name) or "«»"
        for name in names
        if name not in columns and name not in optional
    ]
    repeated = [column for column in (*columns, *optional) if names.count(column) > 1]
    if missing:
        errors.append(
            LineError(line, _("faltan las columnas: %(columns)s") % {"columns": ", ".join(missing)})
        )
    if extra:
        errors.append(
            LineError(line, _("sobran las columnas: %(columns)s") % {"columns": ", ".join(extra)})
        )
    if repeated:
        errors.append(
            LineError(line, _("columnas repetidas: %(columns)s") % {"columns": ", ".join(repeated)})
        )
    if errors:
        raise FileRefused(errors)
    return {name: position for position, name in enumerate(names)}
