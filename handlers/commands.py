"""Typed commands, in Chinese and slash forms: ``上一題`` and ``/back`` mean the same."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import texts
from rubric import to_halfwidth


@dataclass(frozen=True)
class Command:
    """A recognised typed command and its argument (``跳到 5`` → goto, "5")."""

    name: str
    arg: str = ""


_WORDS: dict[str, str] = {
    texts.FILL: "fill", "自評": "fill", "/fill": "fill", "開始": "fill",
    texts.CONTINUE: "fill",
    texts.MY_PROGRESS: "progress", "/mine": "progress",
    # 進度 is the secretariat's 各課室進度; for anyone else it is their own progress.
    texts.OVERVIEW: "overview", "/overview": "overview", "進度": "overview",
    "/progress": "overview",
    texts.HELP: "help", "幫助": "help", "/help": "help", "?": "help",
    texts.MENU: "menu", "主選單": "menu", "/menu": "menu", "/start": "menu",
    texts.BACK: "back", "/back": "back", "返回": "back",
    texts.SKIP: "skip", "/skip": "skip", "跳過": "skip",
    texts.NEXT: "next", "/next": "next", "完成": "next",
    texts.REVIEW: "review", "/review": "review", "檢閱": "review",
    texts.PAUSE: "pause", "/pause": "pause",
    texts.SUBMIT: "submit", "/submit": "submit",
    texts.CONFIRM: "confirm", "確認": "confirm", "/confirm": "confirm",
    texts.CANCEL: "cancel", "/cancel": "cancel",
    texts.RESCORE: "rescore", "/rescore": "rescore",
    texts.PROPOSE: "propose", "提案": "propose", "/propose": "propose",
    texts.PROPOSAL_BACK: "back", texts.PROPOSAL_NEXT: "next",
    texts.PROPOSAL_REVIEW: "review", texts.PROPOSAL_SUBMIT: "submit",
    texts.CASES: "cases", "/cases": "cases", texts.CASE_LIST: "caselist",
    texts.REPORT_REBUILD: "report",
}
_GOTO = re.compile(r"^(?:跳到|跳至|前往|到|/goto|goto)\s*第?\s*(\S+?)\s*題?$", re.IGNORECASE)
_NTH = re.compile(r"^第\s*(\d{1,2})\s*題$")


def parse_command(text: str) -> Command | None:
    """The command ``text`` asks for, or None when it is an answer or evidence."""
    cleaned = to_halfwidth(text).strip()
    if not cleaned:
        return None
    if cleaned.startswith("/"):
        head, _, rest = cleaned.partition(" ")
        head = head.split("@", 1)[0].lower()  # Telegram adds @botname in groups
        cleaned = f"{head} {rest}".strip()
        if head == "/start" and rest.strip():
            return Command("start", rest.strip())
    if cleaned in _WORDS:
        return Command(_WORDS[cleaned])
    match = _GOTO.match(cleaned) or _NTH.match(cleaned)
    if match:
        return Command("goto", match.group(1))
    for prefixes, name in ((("審定", "/verify"), "verify"), (("總表", "/table"), "table"),
                           ((texts.REPORT, "/report"), "report"),
                           (("年度", "/annual"), "annual"),
                           ((texts.PROPOSALS, "/proposals"), "proposals"),
                           (("處理情形", "/followup"), "followup"),
                           ((texts.FORM, "/form"), "form")):
        for prefix in prefixes:
            if cleaned.lower() == prefix or cleaned.lower().startswith(prefix + " ") \
                    or (not prefix.startswith("/") and cleaned.startswith(prefix)
                        and name == "verify"):
                if name == "followup" and text.strip().startswith(prefix):
                    # Free text for the table: keep its full-width punctuation as typed.
                    return Command(name, text.strip()[len(prefix):].strip())
                return Command(name, cleaned[len(prefix):].strip())
    if cleaned.startswith(("電話測試", "/phonetest")):
        return Command("phonetest", cleaned)
    if cleaned.lower().startswith(("/bind", "綁定")):
        return Command("bind", cleaned.split(maxsplit=1)[1] if " " in cleaned else
                       cleaned.removeprefix("綁定").removeprefix("/bind").strip())
    return None
