"""Typed labels are presses, in every conversation (issue #14): two members of two sections
walk the same path, one pressing each button and the other typing its label; every reply is
the same but for the section's name.

(Every message drawn anywhere in tests/handlers is also checked for unique tokens and for
labels that name their own button: ``conftest.check_buttons``.)"""

from __future__ import annotations

import re

from tests.handlers.test_report_cases import DECEMBER, ONE

STEP = re.compile(r"\d{2}:\d{2}")  # times of day


def same(pressed: str, typed: str) -> None:
    def plain(text: str) -> str:
        return STEP.sub("", text.replace("工務課", "規劃課").replace("張技士", "王小明"))

    assert plain(pressed) == plain(typed)


def walk(office, path: list[str]) -> None:
    office.add_member("張技士", "工務課")
    presser, typist = office.chat("王小明"), office.chat("張技士")
    presser.say("選單")
    typist.say("選單")
    for label in path:
        presser.press(label)
        typist.say(label)
        same(presser.text, typist.text)


def test_the_assessment_typed(office):
    walk(office, ["填寫自評", "81-120分", "返回級距", "81-120分", "110分", "上一題",
                  "保留原分數", "略過", "檢視", "繼續填寫", "暫停", "填寫自評", "0分（未辦理）",
                  "暫停", "我的進度", "檢視"])


def test_the_proposal_typed(office):
    walk(office, ["創意提案", "暫停"])


def test_the_annual_cases_typed(office):
    office.clock.set(DECEMBER)
    walk(office, ["年度案例", ONE, "選擇項目", "本課室案例", "選單"])
