"""Numbers as staff type them."""

from __future__ import annotations

import pytest

from handlers.numerals import chinese_integer, split_leading_number


@pytest.mark.parametrize("text, value", [
    ("零", 0), ("十", 10), ("十五", 15), ("二十五", 25), ("一百", 100), ("一百二十", 120),
    ("一百零五", 105), ("兩百", 200), ("一二〇", 120), ("九十九", 99),
])
def test_chinese_integers(text, value):
    assert chinese_integer(text) == value


@pytest.mark.parametrize("text", ["", "二三十", "十百", "二十五分", "abc"])
def test_not_chinese_integers(text):
    assert chinese_integer(text) is None


@pytest.mark.parametrize("text, parts", [
    ("85", ("85", None, "")), ("８５分", ("85", "分", "")), ("92%", ("92", "%", "")),
    ("85 受理後即寄發", ("85", None, "受理後即寄發")),
    ("85分，受理後", ("85", "分", "受理後")), ("85分受理後", ("85", "分", "受理後")),
    ("二十五", ("25", None, "")), ("二十五分，已辦理", ("25", "分", "已辦理")),
    ("14件", ("14", "件", "")), ("12.5", ("12.5", None, "")),
])
def test_a_leading_number_is_cut_off(text, parts):
    assert split_leading_number(text) == parts


@pytest.mark.parametrize("text", ["3天內回覆", "一、受理後即寄發", "受理後 85", "案例3", "三天",
                                  "2 份表單已完成簡化", "3 天內回覆", "12 項服務上網"])
def test_text_that_does_not_start_with_a_standalone_number(text):
    assert split_leading_number(text) is None
