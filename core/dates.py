"""The dates Antena accepts from outside (files, forms): years 2000 to 2099.

A date far outside them is a typo or an attack, never a payment or a vigencia; and near
the ends of Python's range (year 1, year 9999) converting between time zones overflows,
which failed a whole settlement batch before these bounds.
"""

import datetime

FIRST_YEAR = 2000
LAST_YEAR = 2099


def year_accepted(value: datetime.date | datetime.datetime) -> bool:
    """True when the date is within the years accepted; checked before any conversion."""
    return FIRST_YEAR <= value.year <= LAST_YEAR
