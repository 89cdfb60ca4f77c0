"""When an occasion next comes round: a plain function of the occasion and today.

An occasion on February 29 falls on February 28 in a year without one (the day before, so the
letter is not late), and one whose date has passed this year comes next year.
"""

from __future__ import annotations

import calendar
from datetime import date

from os1.letters.models import Occasion


def on_in(occasion: Occasion, year: int) -> date:
    """The occasion's date in ``year``."""
    day = occasion.day
    if occasion.month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    return date(year, occasion.month, day)


def next_date(occasion: Occasion, today: date) -> date:
    """The occasion's next date, today included."""
    this_year = on_in(occasion, today.year)
    return this_year if this_year >= today else on_in(occasion, today.year + 1)


def years_since(occasion: Occasion, on: date) -> int | None:
    """How many years the occasion has run on ``on`` (an anniversary's count), when its year
    is known and before ``on``."""
    if occasion.year is None or occasion.year >= on.year:
        return None
    return on.year - occasion.year
