"""Splitting long text for a platform's limit: at line boundaries, never cutting a word."""

from __future__ import annotations

from collections.abc import Callable


def utf16_units(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` (by ``measure``), at line ends.

    A single line longer than the limit is split at its last space that fits or, failing
    that, at the last character that fits. Nothing is dropped but the newlines at which one
    part ends and the next begins.
    """
    if measure(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else f"{current}\n{line}"
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
            current = ""
        while measure(line) > limit:
            cut = _fit(line, limit, measure)
            space = line.rfind(" ", 0, cut)
            if space > cut // 2:
                cut = space + 1
            parts.append(line[:cut])
            line = line[cut:]
        current = line
    if current or not parts:
        parts.append(current)
    return parts


def _fit(line: str, limit: int, measure: Callable[[str], int]) -> int:
    """The longest prefix length of ``line`` within ``limit``."""
    low, high = 1, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(line[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low
