"""Typed labels: a text equal to a visible button's label is a press of that button.

People on LINE type what the quick replies said once those vanish, so "確認", "確認 10 分",
"[1] 確認 10 分" and "確認10分" must all be the button drawn as 「確認 10 分」, and
"看附件" the button 「看附件（2）」. The comparison ignores spaces and full/half width, and a
label's trailing value (a number with its unit, or a parenthesised count) may be left off.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CONSOLE_NUMBER = re.compile(r"^\[\d{1,2}\]")
_TRAILING_PAREN = re.compile(r"[(（][^()（）]*[)）]$")
_TRAILING_VALUE = re.compile(r"\d+(?:\.\d+)?(?:分|件|%|題)?$")
_TRAILING_QUOTE = re.compile(r"「[^「」]*」$")  # 繼續「河川公地線上預審」 → 繼續
_QUOTES = str.maketrans("", "", "「」『』“”‘’\"'〝〞")


def _plain(text: str) -> str:
    """Half width, no spaces (NFKC folds full-width letters, digits and brackets)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _unquoted(text: str) -> str:
    """Quotation brackets are not typed on a phone: 繼續「提案」 is typed 繼續提案."""
    return text.translate(_QUOTES)


def label_keys(label: str) -> set[str]:
    """Every typed form that stands for ``label``: itself (its quotation brackets optional),
    and without its trailing quoted name, parenthesised count or value."""
    plain = _CONSOLE_NUMBER.sub("", _plain(label))
    keys = {_unquoted(plain)}
    short = plain
    for pattern in (_TRAILING_QUOTE, _TRAILING_PAREN, _TRAILING_VALUE):
        trimmed = pattern.sub("", short)
        if trimmed and trimmed != short:
            short = trimmed
            keys.add(_unquoted(short))
    return keys


def typed_key(text: str) -> str:
    """The form of a typed text that is compared with the labels' keys."""
    return _unquoted(_CONSOLE_NUMBER.sub("", _plain(text)))


def match_label(text: str, drawn: Iterable[tuple[str, str]]) -> str | None:
    """The action of the one drawn ``(label, action)`` that ``text`` names, else None.

    An exact label wins over a shortened one; a shortened form that names two buttons
    names none (the person is asked as for any other text).
    """
    key = typed_key(text)
    if not key:
        return None
    exact: list[str] = []
    short: list[str] = []
    for label, action in drawn:
        if typed_key(label) == key:
            exact.append(action)
        elif key in label_keys(label):
            short.append(action)
    if exact:
        return exact[0]
    unique = set(short)
    return short[0] if len(unique) == 1 else None
