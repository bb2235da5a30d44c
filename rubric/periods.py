"""ROC (民國) years, calendar quarters and their Taiwanese formatting and parsing.

Taiwanese government documents count years in the ROC era: ROC year = Gregorian year - 1911
(ROC 105 = 2016, ROC 115 = 2026). A year is split into four quarters: 第1季 Jan-Mar,
第2季 Apr-Jun, 第3季 Jul-Sep and 第4季 Oct-Dec.

Every "what day is it" question is answered in Asia/Taipei time. Timezone-aware datetimes are
converted to Taipei before their calendar date is taken; naive datetimes are refused, because
guessing their zone would silently misfile anything that happens near midnight. Plain ``date``
values are taken to already be Taipei calendar dates.

The parsers are tolerant of what people actually type: full-width digits and punctuation,
spaces anywhere, an optional 民國 prefix, and several date separators.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rubric.errors import RubricError

__all__ = [
    "MAX_ROC_YEAR",
    "ROC_OFFSET",
    "TAIPEI",
    "Period",
    "PeriodError",
    "format_roc_date",
    "format_roc_date_short",
    "format_roc_year_month",
    "parse_period",
    "parse_roc_date",
    "quarter_of",
    "to_gregorian_year",
    "to_halfwidth",
    "to_roc_year",
    "today_in_taipei",
]

TAIPEI: ZoneInfo = ZoneInfo("Asia/Taipei")
"""The zone in which all calendar questions are answered."""

ROC_OFFSET = 1911
"""Gregorian year minus ROC year."""

MAX_ROC_YEAR = date.max.year - ROC_OFFSET
"""The last ROC year whose dates Python can represent (8088, i.e. Gregorian 9999)."""

_QUARTER_LAST_DAY: dict[int, tuple[int, int]] = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}
_CHINESE_QUARTER: dict[str, int] = {"一": 1, "二": 2, "三": 3, "四": 4}


class PeriodError(RubricError, ValueError):
    """Raised for an invalid ROC year, quarter, date, moment or period/date text."""


def _require_int(value: object, what: str) -> int:
    """Return ``value`` if it is a real ``int`` (not a ``bool``), else raise PeriodError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PeriodError(f"{what} must be an int, got {value!r}")
    return value


def to_roc_year(gregorian_year: int) -> int:
    """Convert a Gregorian year to its ROC (民國) year, e.g. 2026 -> 115.

    Raises PeriodError for years before 1912 (ROC year 1), which have no ROC year.
    """
    year = _require_int(gregorian_year, "Gregorian year")
    if year <= ROC_OFFSET:
        raise PeriodError(
            f"Gregorian year {year} is before the ROC era (ROC year 1 is {ROC_OFFSET + 1})"
        )
    return year - ROC_OFFSET


def to_gregorian_year(roc_year: int) -> int:
    """Convert an ROC (民國) year to its Gregorian year, e.g. 115 -> 2026.

    Raises PeriodError for ROC years below 1.
    """
    year = _require_int(roc_year, "ROC year")
    if year < 1:
        raise PeriodError(f"ROC year must be at least 1, got {year}")
    return year + ROC_OFFSET


def _require_aware(moment: datetime) -> None:
    """Raise PeriodError unless ``moment`` carries a usable timezone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PeriodError(
            f"naive datetime {moment.isoformat()} refused: attach a timezone "
            "(the Taipei calendar date cannot be guessed)"
        )


def _taipei_date(moment: date | datetime) -> date:
    """Return the Asia/Taipei calendar date of ``moment``.

    An aware ``datetime`` is converted to Taipei time first; a naive one raises PeriodError.
    A plain ``date`` is taken as a Taipei calendar date and returned unchanged.
    """
    if isinstance(moment, datetime):
        _require_aware(moment)
        return moment.astimezone(TAIPEI).date()
    if isinstance(moment, date):
        return moment
    raise PeriodError(f"expected a date or an aware datetime, got {moment!r}")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar quarter of an ROC year, e.g. ``Period(115, 4)`` is 115年第4季 (Oct-Dec 2026).

    Periods order chronologically (by ROC year, then quarter) and are hashable.
    """

    roc_year: int
    quarter: int

    def __post_init__(self) -> None:
        """Validate the ROC year (1..MAX_ROC_YEAR) and the quarter (1..4)."""
        year = _require_int(self.roc_year, "ROC year")
        quarter = _require_int(self.quarter, "quarter")
        if not 1 <= year <= MAX_ROC_YEAR:
            raise PeriodError(f"ROC year must be between 1 and {MAX_ROC_YEAR}, got {year}")
        if not 1 <= quarter <= 4:
            raise PeriodError(f"quarter must be between 1 and 4, got {quarter}")

    @classmethod
    def of(cls, moment: date | datetime) -> Period:
        """Return the quarter containing ``moment``'s Asia/Taipei calendar date.

        A ``datetime`` must be timezone-aware (a naive one raises PeriodError) and is converted
        to Asia/Taipei first; a ``date`` is taken as a Taipei calendar date. Dates before 1912
        raise PeriodError.
        """
        day = _taipei_date(moment)
        return cls(to_roc_year(day.year), (day.month - 1) // 3 + 1)

    @property
    def gregorian_year(self) -> int:
        """The Gregorian year of this period, e.g. 2026 for 115年."""
        return self.roc_year + ROC_OFFSET

    @property
    def first_day(self) -> date:
        """The first calendar day of the quarter (Jan 1, Apr 1, Jul 1 or Oct 1)."""
        return date(self.gregorian_year, 3 * self.quarter - 2, 1)

    @property
    def last_day(self) -> date:
        """The last calendar day of the quarter (Mar 31, Jun 30, Sep 30 or Dec 31)."""
        month, day = _QUARTER_LAST_DAY[self.quarter]
        return date(self.gregorian_year, month, day)

    @property
    def label(self) -> str:
        """The full Chinese label, e.g. "115年第4季"."""
        return f"{self.roc_year}年第{self.quarter}季"

    @property
    def short_label(self) -> str:
        """The compact label, e.g. "115Q4"."""
        return f"{self.roc_year}Q{self.quarter}"

    @property
    def months_label(self) -> str:
        """The quarter's month range, e.g. "10-12月" for the fourth quarter."""
        return f"{3 * self.quarter - 2}-{3 * self.quarter}月"

    def next(self) -> Period:
        """Return the following quarter (115年第4季 -> 116年第1季)."""
        if self.quarter == 4:
            return Period(self.roc_year + 1, 1)
        return Period(self.roc_year, self.quarter + 1)

    def previous(self) -> Period:
        """Return the preceding quarter (116年第1季 -> 115年第4季)."""
        if self.quarter == 1:
            return Period(self.roc_year - 1, 4)
        return Period(self.roc_year, self.quarter - 1)

    def contains(self, d: date) -> bool:
        """Tell whether the Taipei calendar date of ``d`` falls within this quarter.

        ``d`` may also be an aware datetime, which is converted to Taipei time first; a naive
        datetime raises PeriodError.
        """
        return self.first_day <= _taipei_date(d) <= self.last_day

    def __str__(self) -> str:
        """Return the full Chinese label, e.g. "115年第4季"."""
        return self.label


def quarter_of(moment: date | datetime) -> int:
    """Return the quarter (1-4) of ``moment``'s Asia/Taipei calendar date.

    Same conversion rules as ``Period.of``: aware datetimes are converted to Taipei time,
    naive datetimes raise PeriodError, plain dates are taken as Taipei dates.
    """
    return (_taipei_date(moment).month - 1) // 3 + 1


def today_in_taipei(now: datetime) -> date:
    """Return the Asia/Taipei calendar date at the instant ``now``.

    ``now`` must be a timezone-aware datetime; anything else raises PeriodError.
    """
    if not isinstance(now, datetime):
        raise PeriodError(f"expected an aware datetime, got {now!r}")
    return _taipei_date(now)


def format_roc_date(d: date) -> str:
    """Format a date as "115年12月31日" (no zero padding: "115年1月1日").

    An aware datetime is converted to Taipei time first; a naive one raises PeriodError.
    """
    day = _taipei_date(d)
    return f"{to_roc_year(day.year)}年{day.month}月{day.day}日"


def format_roc_date_short(d: date) -> str:
    """Format a date as "115/12/31", zero-padding month and day ("115/01/01").

    An aware datetime is converted to Taipei time first; a naive one raises PeriodError.
    """
    day = _taipei_date(d)
    return f"{to_roc_year(day.year)}/{day.month:02d}/{day.day:02d}"


def format_roc_year_month(d: date) -> str:
    """Format a date's ROC year and month as "115年12月" (no zero padding: "115年1月").

    This is the form of the seed data's 考核年月 column. An aware datetime is converted to
    Taipei time first; a naive one raises PeriodError.
    """
    day = _taipei_date(d)
    return f"{to_roc_year(day.year)}年{day.month}月"


def to_halfwidth(text: str) -> str:
    """Apply Unicode NFKC normalisation, turning full-width forms into ASCII.

    Full-width digits, letters and punctuation become their ASCII counterparts
    ("８５分" -> "85分", "１１５／１２／３１" -> "115/12/31") and the ideographic space
    becomes an ordinary space. Other CJK characters are left as they are.
    """
    return unicodedata.normalize("NFKC", text)


def _compact(text: str) -> str:
    """NFKC-normalise ``text`` and remove every whitespace character in it."""
    if not isinstance(text, str):
        raise PeriodError(f"expected text, got {text!r}")
    return "".join(to_halfwidth(text).split())


# Patterns match the compacted text (NFKC-normalised, no whitespace). [0-9] rather than \d:
# \d would also accept non-ASCII digits (e.g. Arabic-Indic), which NFKC leaves unchanged.
_ROC_PREFIX = "(?:民國|民国)?"
_DATE_CJK = re.compile(_ROC_PREFIX + r"([0-9]{1,4})年([0-9]{1,2})月([0-9]{1,2})日?")
_DATE_SEP = re.compile(_ROC_PREFIX + r"([0-9]{1,4})([/.\-])([0-9]{1,2})\2([0-9]{1,2})")
_PERIOD_CJK = re.compile(_ROC_PREFIX + r"([0-9]{1,4})年第([0-9]{1,2}|[一二三四])季")
_PERIOD_Q = re.compile(_ROC_PREFIX + r"([0-9]{1,4})-?[Qq]([0-9]{1,2})")


def _parsed_roc_year(digits: str, text: str) -> int:
    """Turn the year digits found in ``text`` into a validated ROC year.

    Years above 1911 look Gregorian and are refused rather than silently misread.
    """
    year = int(digits)
    if year > ROC_OFFSET:
        raise PeriodError(
            f"{text!r}: year {year} looks Gregorian; ROC (Minguo) years are expected "
            f"(e.g. 115 for 2026)"
        )
    if year < 1:
        raise PeriodError(f"{text!r}: ROC year must be at least 1, got {year}")
    return year


def parse_roc_date(text: str) -> date:
    """Parse an ROC date as people type it and return the Gregorian ``date``.

    Accepted, after NFKC normalisation and removal of all whitespace, with an optional 民國
    prefix: "115年12月31日" (the trailing 日 may be omitted), "115/12/31", "115-12-31",
    "115.12.31" (one separator used consistently), without zero padding ("115/1/1") or with
    it. Full-width forms ("１１５年１２月３１日") and spaces ("115 年 12 月 31 日") are fine.

    Raises PeriodError for empty or unrecognised text, Gregorian-looking years (> 1911),
    ROC year 0 and impossible dates such as "115/2/30".
    """
    compact = _compact(text)
    if not compact:
        raise PeriodError(f"empty ROC date: {text!r}")
    match = _DATE_CJK.fullmatch(compact)
    if match is not None:
        year_s, month_s, day_s = match.groups()
    else:
        match = _DATE_SEP.fullmatch(compact)
        if match is None:
            raise PeriodError(
                f"not an ROC date: {text!r} (expected e.g. '115年12月31日' or '115/12/31')"
            )
        year_s, _, month_s, day_s = match.groups()
    year = _parsed_roc_year(year_s, text)
    try:
        return date(year + ROC_OFFSET, int(month_s), int(day_s))
    except ValueError as exc:
        raise PeriodError(f"impossible date {text!r}: {exc}") from exc


def parse_period(text: str) -> Period:
    """Parse an ROC quarter as people type it, e.g. "115年第4季" or "115Q4".

    Accepted, after NFKC normalisation and removal of all whitespace, with an optional 民國
    prefix: "115年第4季", "115年第四季" (Chinese numerals 一二三四), "115Q4", "115q4",
    "115-Q4", "115 Q4", and full-width forms such as "１１５年第４季". The 第 is required.

    Raises PeriodError for empty or unrecognised text, Gregorian-looking years (> 1911),
    ROC year 0 and quarters outside 1-4.
    """
    compact = _compact(text)
    if not compact:
        raise PeriodError(f"empty ROC quarter: {text!r}")
    match = _PERIOD_CJK.fullmatch(compact) or _PERIOD_Q.fullmatch(compact)
    if match is None:
        raise PeriodError(f"not an ROC quarter: {text!r} (expected e.g. '115年第4季' or '115Q4')")
    year_s, quarter_s = match.groups()
    year = _parsed_roc_year(year_s, text)
    quarter = _CHINESE_QUARTER.get(quarter_s) or int(quarter_s)
    try:
        return Period(year, quarter)
    except PeriodError as exc:
        raise PeriodError(f"{text!r}: {exc}") from exc
