from collections.abc import Callable
from dataclasses import dataclass

from django.http import Http404, HttpRequest


@dataclass(frozen=True)
class Page:
    """A page of a newest-first list, fetched in one query (no COUNT), so every page costs
    the same whatever the history holds."""

    number: int
    object_list: list
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def page_get(request: HttpRequest, rows: Callable[[slice], list], *, size: int) -> Page:
    """The page asked for in ?page= of `rows` (a function giving the rows of a slice); a
    non-numeric, negative or empty later page is a 404."""
    raw = request.GET.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise Http404
    number = int(raw)
    start = (number - 1) * size
    found = rows(slice(start, start + size + 1))
    if number > 1 and not found:
        raise Http404
    return Page(number=number, object_list=found[:size], has_next=len(found) > size)
