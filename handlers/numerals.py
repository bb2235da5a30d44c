"""Numbers as people type them: ``85``, ``８５``, ``85分``, ``二十五``, ``一百二十``, ``兩百``.

A score typed at a question may carry its evidence in the same message
(``85 受理後即寄發收件確認``, ``85分，受理後…``); ``split_leading_number`` cuts the number off
the front when a separator (or the unit) ends it, so ``3天內回覆`` stays a text.
"""

from __future__ import annotations

import re

from rubric import to_halfwidth

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000}
_CHINESE = "".join(_DIGITS) + "".join(_UNITS)

#: A number at the front of a text: Arabic (with a decimal part) or Chinese numerals, then an
#: optional unit; what follows must be the end or a separator for the number to stand alone.
_LEADING = re.compile(
    rf"^\s*(?P<number>-?\d+(?:\.\d+)?|[{_CHINESE}]+)(?:\s*(?P<unit>分|%|％|件))?(?P<rest>.*)$",
    re.DOTALL)
_SEPARATOR = re.compile(r"^(?:$|[\s，,、：:；;。.．!！\-－—])")
#: A number then a space and a counter (``2 份表單已簡化``, ``3 天內回覆``) counts something:
#: it is evidence, not a score followed by its evidence.
_COUNTED = re.compile(r"^\s+(?:份|個|項|次|人|位|名|天|日|週|周|月|年|小時|分鐘|張|台|臺|筆|條|處|"
                      r"間|家|所|場|則|本|頁|元|萬|億|種|類|組|案|區|戶|座|公里|公尺|倍|成|梯)")


def chinese_integer(text: str) -> int | None:
    """``二十五`` → 25, ``一百二十`` → 120, ``十`` → 10, ``一零五`` → 105; None if not one."""
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        return None
    if all(ch in _DIGITS for ch in text):  # digit by digit: 一二〇
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit, last_unit = 0, None, 10_000
    for ch in text:
        if ch in _DIGITS:
            if digit is not None and _DIGITS[ch] != 0:
                return None  # two digits in a row inside a positional number: 二三十
            digit = _DIGITS[ch] if _DIGITS[ch] != 0 else None
            continue
        unit = _UNITS[ch]
        if unit >= last_unit:
            return None  # 十百: units must fall
        total += (1 if digit is None else digit) * unit
        digit, last_unit = None, unit
    return total + (digit or 0)


def number_value(text: str) -> float | None:
    """The value of a number written alone (Arabic or Chinese), else None."""
    cleaned = to_halfwidth(text).strip()
    try:
        return float(cleaned)
    except ValueError:
        value = chinese_integer(cleaned)
        return None if value is None else float(value)


def split_leading_number(text: str) -> tuple[str, str | None, str] | None:
    """``(number, unit, rest)`` when ``text`` starts with a number that stands alone.

    ``85 受理後即寄發`` → ``("85", None, "受理後即寄發")``; ``85分，受理後`` →
    ``("85", "分", "受理後")``; ``92%`` → ``("92", "%", "")``; ``3天內回覆`` → None.
    The number is given as digits (Chinese numerals converted).
    """
    match = _LEADING.match(to_halfwidth(text))
    if match is None:
        return None
    number, unit = match.group("number"), match.group("unit")
    if unit is None and (not _SEPARATOR.match(match.group("rest"))
                         or _COUNTED.match(match.group("rest"))):
        return None  # 3天內回覆, 2 份表單: the number is part of the text
    rest = match.group("rest").strip().lstrip("，,、：:；;。.．!！-－—").strip()
    if number[0] in _CHINESE:
        if rest and unit is None:
            return None  # 一、受理後… is a numbered list of evidence, not a score of 1
        value = chinese_integer(number)
        if value is None:
            return None
        number = str(value)
    return number, ("%" if unit == "％" else unit), rest
