"""Typed labels: what a person types for a button they saw is that button's press."""

from __future__ import annotations

import pytest

from handlers.flow.labels import match_label

DRAWN = [("確認 10 分", "2:ok"), ("看附件（2）", "2:files"), ("標記退回", "2:mark"),
         ("上一題", "2:prev"), ("下一題", "2:next")]


@pytest.mark.parametrize("typed, action", [
    ("確認", "2:ok"), ("確認 10 分", "2:ok"), ("確認10分", "2:ok"), ("[1] 確認 10 分", "2:ok"),
    ("確認　１０分", "2:ok"),  # full-width digits and an ideographic space
    ("看附件", "2:files"), ("看附件(2)", "2:files"), (" 標記 退回 ", "2:mark"),
    ("下一題", "2:next"),
])
def test_a_label_typed_in_any_of_its_forms_is_its_press(typed, action):
    assert match_label(typed, DRAWN) == action


@pytest.mark.parametrize("typed", ["確認 20 分", "10", "一題", "", "   ", "確認一下"])
def test_other_texts_press_nothing(typed):
    assert match_label(typed, DRAWN) is None


def test_an_exact_label_wins_and_an_ambiguous_short_form_presses_nothing():
    drawn = [("送出", "3:send"), ("送出 80 分", "3:a"), ("送出 90 分", "3:b")]
    assert match_label("送出", drawn) == "3:send"
    assert match_label("送出 90分", drawn) == "3:b"
    assert match_label("略過", [("略過 1 題", "1:a"), ("略過 2 題", "1:b")]) is None


def test_a_bare_number_never_matches_a_label_that_is_only_a_number():
    assert match_label("85", [("85 分", "4:x")]) is None


def test_quotation_brackets_are_not_typed_and_a_quoted_name_may_be_left_off():
    drawn = [("繼續「河川公地線上預審」", "5:cont"), ("新提案", "5:new")]
    assert match_label("繼續河川公地線上預審", drawn) == "5:cont"
    assert match_label("繼續「河川公地線上預審」", drawn) == "5:cont"
    assert match_label("繼續", drawn) == "5:cont"
    two = [("繼續「甲」", "5:a"), ("繼續「乙」", "5:b")]
    assert match_label("繼續", two) is None and match_label("繼續乙", two) == "5:b"
