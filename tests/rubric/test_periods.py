"""Tests for rubric.periods: ROC years, quarters, Taipei dates, formatting and parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from rubric.errors import RubricError
from rubric.periods import (
    MAX_ROC_YEAR,
    TAIPEI,
    Period,
    PeriodError,
    format_roc_date,
    format_roc_date_short,
    format_roc_year_month,
    parse_period,
    parse_roc_date,
    quarter_of,
    to_gregorian_year,
    to_halfwidth,
    to_roc_year,
    today_in_taipei,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    """Build an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# --- errors and zone -------------------------------------------------------------------------


def test_period_error_hierarchy() -> None:
    assert issubclass(PeriodError, RubricError)
    assert issubclass(PeriodError, ValueError)


def test_taipei_zone() -> None:
    assert TAIPEI.key == "Asia/Taipei"
    assert datetime(2026, 1, 1, tzinfo=TAIPEI).utcoffset() == timedelta(hours=8)


# --- ROC <-> Gregorian -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gregorian", "roc"),
    [(1912, 1), (1949, 38), (2016, 105), (2025, 114), (2026, 115), (2027, 116)],
)
def test_year_conversion_round_trip(gregorian: int, roc: int) -> None:
    assert to_roc_year(gregorian) == roc
    assert to_gregorian_year(roc) == gregorian


@pytest.mark.parametrize("gregorian", [1911, 1900, 1, 0, -5])
def test_to_roc_year_rejects_pre_roc_years(gregorian: int) -> None:
    with pytest.raises(PeriodError, match=str(gregorian)):
        to_roc_year(gregorian)


@pytest.mark.parametrize("roc", [0, -1, -115])
def test_to_gregorian_year_rejects_non_positive(roc: int) -> None:
    with pytest.raises(PeriodError, match=str(roc)):
        to_gregorian_year(roc)


@pytest.mark.parametrize("bad", [True, 115.0, "115", None])
def test_year_conversion_rejects_non_int(bad: object) -> None:
    with pytest.raises(PeriodError):
        to_gregorian_year(bad)  # type: ignore[arg-type]
    with pytest.raises(PeriodError):
        to_roc_year(bad)  # type: ignore[arg-type]


# --- Period construction and calendar --------------------------------------------------------


@pytest.mark.parametrize(
    ("roc_year", "quarter"),
    [(0, 1), (-1, 1), (MAX_ROC_YEAR + 1, 1), (115, 0), (115, 5), (115, -1)],
)
def test_period_rejects_invalid_fields(roc_year: int, quarter: int) -> None:
    with pytest.raises(PeriodError):
        Period(roc_year, quarter)


@pytest.mark.parametrize(
    ("roc_year", "quarter"), [(True, 1), (115, True), ("115", 4), (115, 4.0), (115.0, 4)]
)
def test_period_rejects_non_int_fields(roc_year: object, quarter: object) -> None:
    with pytest.raises(PeriodError):
        Period(roc_year, quarter)  # type: ignore[arg-type]


def test_period_limits_are_representable() -> None:
    assert Period(1, 1).first_day == date(1912, 1, 1)
    assert Period(MAX_ROC_YEAR, 4).last_day == date(9999, 12, 31)


def test_period_is_frozen_and_hashable() -> None:
    period = Period(115, 4)
    with pytest.raises(AttributeError):
        period.quarter = 1  # type: ignore[misc]
    assert {Period(115, 4), Period(115, 4), Period(116, 1)} == {Period(115, 4), Period(116, 1)}


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        (Period(115, 1), date(2026, 1, 1), date(2026, 3, 31)),
        (Period(115, 2), date(2026, 4, 1), date(2026, 6, 30)),
        (Period(115, 3), date(2026, 7, 1), date(2026, 9, 30)),
        (Period(115, 4), date(2026, 10, 1), date(2026, 12, 31)),
        (Period(105, 1), date(2016, 1, 1), date(2016, 3, 31)),
        (Period(105, 4), date(2016, 10, 1), date(2016, 12, 31)),
    ],
)
def test_first_and_last_day(period: Period, first: date, last: date) -> None:
    assert period.first_day == first
    assert period.last_day == last
    assert period.gregorian_year == first.year


@pytest.mark.parametrize(
    ("period", "day", "inside"),
    [
        (Period(105, 1), date(2016, 2, 29), True),  # ROC 105 = 2016 is a leap year
        (Period(105, 1), date(2016, 1, 1), True),
        (Period(105, 1), date(2016, 3, 31), True),
        (Period(105, 1), date(2016, 4, 1), False),
        (Period(105, 1), date(2015, 12, 31), False),
        (Period(105, 2), date(2016, 2, 29), False),
        (Period(115, 4), date(2026, 10, 1), True),
        (Period(115, 4), date(2026, 12, 31), True),
        (Period(115, 4), date(2027, 1, 1), False),
        (Period(115, 4), date(2026, 9, 30), False),
        (Period(115, 4), date(2025, 11, 15), False),
    ],
)
def test_contains_date(period: Period, day: date, inside: bool) -> None:
    assert period.contains(day) is inside


def test_contains_aware_datetime_uses_taipei_date() -> None:
    # 2026-12-31T16:00Z is already 2027-01-01 in Taipei.
    assert not Period(115, 4).contains(utc(2026, 12, 31, 16, 0))
    assert Period(116, 1).contains(utc(2026, 12, 31, 16, 0))
    assert Period(115, 4).contains(utc(2026, 12, 31, 15, 59, 59))


def test_contains_rejects_naive_datetime() -> None:
    with pytest.raises(PeriodError):
        Period(115, 4).contains(datetime(2026, 12, 31, 12, 0))


# --- Period.of / quarter_of / today_in_taipei ------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 12, 31, 15, 59, 59), Period(115, 4)),  # 23:59:59 Taipei on 12/31
        (utc(2026, 12, 31, 16, 0, 0), Period(116, 1)),  # 00:00 Taipei on 2027-01-01
        (utc(2026, 3, 31, 15, 59, 59), Period(115, 1)),
        (utc(2026, 3, 31, 16, 0), Period(115, 2)),  # 00:00 Taipei on 04-01
        (utc(2026, 6, 30, 16, 0), Period(115, 3)),
        (utc(2026, 9, 30, 16, 0), Period(115, 4)),
        (utc(2025, 12, 31, 16, 0), Period(115, 1)),
        (datetime(2027, 1, 1, 0, 0, tzinfo=TAIPEI), Period(116, 1)),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=TAIPEI), Period(115, 4)),
        # 2027-01-01 07:00 in New York (UTC-5) is 20:00 Taipei the same day.
        (datetime(2027, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))), Period(116, 1)),
        # 2026-12-31 20:00 in UTC-5 is 2027-01-01 09:00 Taipei.
        (datetime(2026, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))), Period(116, 1)),
        (date(2026, 12, 31), Period(115, 4)),
        (date(2027, 1, 1), Period(116, 1)),
        (date(2016, 2, 29), Period(105, 1)),
        (date(2026, 5, 15), Period(115, 2)),
        (date(2026, 8, 1), Period(115, 3)),
    ],
)
def test_period_of(moment: date, expected: Period) -> None:
    assert Period.of(moment) == expected
    assert quarter_of(moment) == expected.quarter


@pytest.mark.parametrize(("month", "quarter"), [(m, (m - 1) // 3 + 1) for m in range(1, 13)])
def test_quarter_of_every_month(month: int, quarter: int) -> None:
    assert quarter_of(date(2026, month, 15)) == quarter
    assert Period.of(date(2026, month, 1)).quarter == quarter


@pytest.mark.parametrize("func", [Period.of, quarter_of, today_in_taipei])
def test_naive_datetime_rejected(func: object) -> None:
    with pytest.raises(PeriodError, match="naive"):
        func(datetime(2026, 12, 31, 23, 0))  # type: ignore[operator]


def test_period_of_rejects_pre_roc_dates() -> None:
    with pytest.raises(PeriodError):
        Period.of(date(1911, 12, 31))


@pytest.mark.parametrize("bad", ["2026-12-31", 20261231, None])
def test_period_of_rejects_non_dates(bad: object) -> None:
    with pytest.raises(PeriodError):
        Period.of(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 12, 31, 15, 59, 59), date(2026, 12, 31)),
        (utc(2026, 12, 31, 16, 0), date(2027, 1, 1)),
        (datetime(2027, 1, 1, 0, 30, tzinfo=TAIPEI), date(2027, 1, 1)),
    ],
)
def test_today_in_taipei(now: datetime, expected: date) -> None:
    assert today_in_taipei(now) == expected


def test_today_in_taipei_rejects_plain_date() -> None:
    with pytest.raises(PeriodError):
        today_in_taipei(date(2026, 12, 31))  # type: ignore[arg-type]


# --- navigation and ordering -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "following"),
    [
        (Period(115, 1), Period(115, 2)),
        (Period(115, 2), Period(115, 3)),
        (Period(115, 3), Period(115, 4)),
        (Period(115, 4), Period(116, 1)),
        (Period(105, 4), Period(106, 1)),
    ],
)
def test_next_and_previous(period: Period, following: Period) -> None:
    assert period.next() == following
    assert following.previous() == period
    assert period.last_day + timedelta(days=1) == following.first_day


def test_navigation_beyond_limits_raises() -> None:
    with pytest.raises(PeriodError):
        Period(1, 1).previous()
    with pytest.raises(PeriodError):
        Period(MAX_ROC_YEAR, 4).next()


def test_ordering() -> None:
    periods = [Period(116, 1), Period(115, 4), Period(105, 1), Period(115, 1), Period(114, 4)]
    assert sorted(periods) == [
        Period(105, 1),
        Period(114, 4),
        Period(115, 1),
        Period(115, 4),
        Period(116, 1),
    ]
    assert Period(115, 4) < Period(116, 1)
    assert Period(115, 1) < Period(115, 2)
    assert Period(115, 4) <= Period(115, 4)
    assert max(periods) == Period(116, 1)


# --- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "label", "short", "months"),
    [
        (Period(115, 1), "115年第1季", "115Q1", "1-3月"),
        (Period(115, 2), "115年第2季", "115Q2", "4-6月"),
        (Period(115, 3), "115年第3季", "115Q3", "7-9月"),
        (Period(115, 4), "115年第4季", "115Q4", "10-12月"),
        (Period(99, 4), "99年第4季", "99Q4", "10-12月"),
    ],
)
def test_labels(period: Period, label: str, short: str, months: str) -> None:
    assert period.label == label
    assert str(period) == label
    assert f"{period}" == label
    assert period.short_label == short
    assert period.months_label == months


def test_repr_is_the_dataclass_repr() -> None:
    assert repr(Period(115, 4)) == "Period(roc_year=115, quarter=4)"


# --- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "long", "short", "year_month"),
    [
        (date(2026, 12, 31), "115年12月31日", "115/12/31", "115年12月"),
        (date(2026, 1, 1), "115年1月1日", "115/01/01", "115年1月"),
        (date(2016, 2, 29), "105年2月29日", "105/02/29", "105年2月"),
        (date(2021, 10, 5), "110年10月5日", "110/10/05", "110年10月"),
        (date(1912, 1, 1), "1年1月1日", "1/01/01", "1年1月"),
    ],
)
def test_formatting(day: date, long: str, short: str, year_month: str) -> None:
    assert format_roc_date(day) == long
    assert format_roc_date_short(day) == short
    assert format_roc_year_month(day) == year_month


def test_formatting_converts_aware_datetime_to_taipei() -> None:
    moment = utc(2026, 12, 31, 16, 0)  # 2027-01-01 00:00 Taipei
    assert format_roc_date(moment) == "116年1月1日"
    assert format_roc_date_short(moment) == "116/01/01"
    assert format_roc_year_month(moment) == "116年1月"


@pytest.mark.parametrize("func", [format_roc_date, format_roc_date_short, format_roc_year_month])
def test_formatting_rejects_naive_datetime_and_pre_roc_dates(func: object) -> None:
    with pytest.raises(PeriodError):
        func(datetime(2026, 12, 31, 12, 0))  # type: ignore[operator]
    with pytest.raises(PeriodError):
        func(date(1911, 12, 31))  # type: ignore[operator]


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2016, 2, 29), date(2026, 12, 31)])
def test_format_parse_round_trip(day: date) -> None:
    assert parse_roc_date(format_roc_date(day)) == day
    assert parse_roc_date(format_roc_date_short(day)) == day


# --- to_halfwidth ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("８５分", "85分"),
        ("１１５／１２／３１", "115/12/31"),
        ("１１５年第４季", "115年第4季"),
        ("ＡＢＣｑ", "ABCq"),
        ("115\u3000年", "115 年"),  # ideographic space -> ASCII space
        ("已是半形 85", "已是半形 85"),
        ("", ""),
    ],
)
def test_to_halfwidth(text: str, expected: str) -> None:
    assert to_halfwidth(text) == expected


# --- parse_roc_date --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("115年12月31日", date(2026, 12, 31)),
        ("民國115年12月31日", date(2026, 12, 31)),
        ("115/12/31", date(2026, 12, 31)),
        ("115/1/1", date(2026, 1, 1)),
        ("115/01/01", date(2026, 1, 1)),
        ("115-12-31", date(2026, 12, 31)),
        ("115.12.31", date(2026, 12, 31)),
        ("１１５年１２月３１日", date(2026, 12, 31)),
        ("１１５／１２／３１", date(2026, 12, 31)),
        ("115 年 12 月 31 日", date(2026, 12, 31)),
        ("  115/12/31\n", date(2026, 12, 31)),
        ("115\u3000年\u300012月31日", date(2026, 12, 31)),
        ("民國 115 年 1 月 1 日", date(2026, 1, 1)),
        ("115年1月1", date(2026, 1, 1)),
        ("105/2/29", date(2016, 2, 29)),
        ("1/1/1", date(1912, 1, 1)),
        ("99年7月15日", date(2010, 7, 15)),
    ],
)
def test_parse_roc_date_accepts(text: str, expected: date) -> None:
    assert parse_roc_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\u3000",
        "115/2/30",  # impossible day
        "114/2/29",  # 2025 is not a leap year
        "115/13/1",
        "115/0/10",
        "115/12/0",
        "115年2月30日",
        "0/1/1",  # ROC year 0
        "2026/12/31",  # Gregorian-looking
        "2026年12月31日",
        "民國2026年1月1日",
        "115/12-31",  # mixed separators
        "115/12",
        "115年12月",
        "12/31",
        "115/12/31/1",
        "115年12月31日晚上",
        "abc",
        "明天",
        "115年十二月三十一日",
        "٢٠٢٦/١/١",  # non-ASCII digits that NFKC leaves alone
    ],
)
def test_parse_roc_date_rejects(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_roc_date(text)


@pytest.mark.parametrize("text", ["2026/12/31", "1912-01-01", "2026年12月31日"])
def test_parse_roc_date_gregorian_message(text: str) -> None:
    with pytest.raises(PeriodError, match="ROC") as info:
        parse_roc_date(text)
    assert "Gregorian" in str(info.value)


def test_parse_roc_date_error_names_input() -> None:
    with pytest.raises(PeriodError, match="115/2/30"):
        parse_roc_date("115/2/30")
    with pytest.raises(PeriodError, match="garbage"):
        parse_roc_date("garbage")


def test_parse_roc_date_rejects_non_text() -> None:
    with pytest.raises(PeriodError):
        parse_roc_date(None)  # type: ignore[arg-type]


# --- parse_period ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("115年第4季", Period(115, 4)),
        ("115年第1季", Period(115, 1)),
        ("115年第一季", Period(115, 1)),
        ("115年第二季", Period(115, 2)),
        ("115年第三季", Period(115, 3)),
        ("115年第四季", Period(115, 4)),
        ("115Q4", Period(115, 4)),
        ("115q4", Period(115, 4)),
        ("115-Q4", Period(115, 4)),
        ("115-q1", Period(115, 1)),
        ("115 Q4", Period(115, 4)),
        ("１１５年第４季", Period(115, 4)),
        ("１１５Ｑ４", Period(115, 4)),
        ("１１５ｑ４", Period(115, 4)),
        ("民國115年第4季", Period(115, 4)),
        ("民國 115 年 第 4 季", Period(115, 4)),
        ("  115年第4季  ", Period(115, 4)),
        ("105年第1季", Period(105, 1)),
        ("99Q3", Period(99, 3)),
    ],
)
def test_parse_period_accepts(text: str, expected: Period) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "115年4季",  # 第 is required
        "115年第0季",
        "115年第5季",
        "115年第五季",
        "115Q0",
        "115Q5",
        "115Q",
        "Q4",
        "115",
        "115年",
        "0Q1",
        "2026Q4",  # Gregorian-looking
        "2026年第4季",
        "115/Q4",
        "115--Q4",
        "115Q4Q4",
        "115年第4季度",
        "第4季",
        "garbage",
    ],
)
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_parse_period_error_names_input() -> None:
    with pytest.raises(PeriodError, match="115Q5"):
        parse_period("115Q5")
    with pytest.raises(PeriodError, match="Gregorian"):
        parse_period("2026Q4")


@pytest.mark.parametrize("period", [Period(115, 4), Period(105, 1), Period(1, 2)])
def test_labels_parse_back(period: Period) -> None:
    assert parse_period(period.label) == period
    assert parse_period(period.short_label) == period
