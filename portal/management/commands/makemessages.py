"""Django's makemessages, which also reads the Jinja2 pages (templates/jinja2/).

Django reads a template with its own template language's lexer, which does not know
Jinja2's `{% trans %}` blocks or `{{ _("…") }}` inside expressions. For the files of the
Jinja2 engine, the messages are taken with Jinja2's own extractor instead and written out
as the gettext calls xgettext reads, each on its template line, so the catalogs point at
the template and its line as for any other file.
"""

import io
from collections import defaultdict
from pathlib import Path

from django.core.management.commands import makemessages
from django.template import engines
from jinja2.ext import GETTEXT_FUNCTIONS, babel_extract


def jinja2_messages(source: str) -> str:
    """The messages of a Jinja2 template as Python gettext calls, each on the line of the
    template it comes from."""
    calls: dict[int, list[str]] = defaultdict(list)
    for line, function, message, _comments in babel_extract(
        io.BytesIO(source.encode()), GETTEXT_FUNCTIONS, (), {}
    ):
        strings = [
            repr(text)
            for text in (message if isinstance(message, tuple) else [message])
            if text is not None
        ]
        if function in ("ngettext", "npgettext"):
            strings.append("1")  # the count, which xgettext does not read
        calls[line].append(f"{'gettext' if function == '_' else function}({', '.join(strings)})")
    last = max(calls, default=0)
    return "".join("; ".join(calls.get(line, [])) + "\n" for line in range(1, last + 1))


def _jinja2_dirs() -> list[Path]:
    return [Path(directory).resolve() for directory in engines["jinja2"].template_dirs]


class BuildFile(makemessages.BuildFile):
    def preprocess(self):
        path = Path(self.path).resolve()
        if self.domain != "django" or not any(path.is_relative_to(d) for d in _jinja2_dirs()):
            return super().preprocess()
        with open(self.work_path, "w", encoding="utf-8") as work_file:
            work_file.write(jinja2_messages(path.read_text(encoding="utf-8")))


class Command(makemessages.Command):
    build_file_class = BuildFile
