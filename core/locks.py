"""Row locks, taken one way everywhere (Saleor's lock_objects.py).

Every service that changes rows another transaction may change at the same time locks
them first, through `rows_locked`: only the model's own rows (never the rows that
`select_related` joins, such as the ISP of a contract, which every other request of that
ISP would then wait for), always in primary-key order, so that two transactions locking
overlapping sets take them in the same order and never wait on each other in a circle.
The order between models is the callers' rule: contracts before payments before invoices
(payments.services.payments_confirm).
"""

from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def rows_locked(queryset: QuerySet[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """`queryset`'s rows, locked until the transaction ends (none, outside PostgreSQL).

    With `skip_locked`, rows another transaction holds are left out rather than waited
    for: a queue whose workers each take different rows.
    """
    return queryset.select_for_update(of=("self",), skip_locked=skip_locked).order_by("pk")
