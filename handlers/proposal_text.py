"""The 附錄1 template in words: its fields, the kinds of innovation, and a pasted proposal.

A member may paste a whole proposal in one message using the template's headings
(壹、專案總說明 / 一、個案背景與問題描述 / … / 肆、附件), with or without the numbering,
in full-width or half-width punctuation. :func:`split_proposal` cuts such a text into the
proposal's fields; the flow then asks only for what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rubric import Rubric, load_year, to_halfwidth

#: The rubric question whose criteria are the kinds of innovation (提出有價值之創新服務).
INNOVATION_QUESTION = "6.1"
SEED_RUBRIC_YEAR = 105
TITLE_MAX = 100  # characters of 創意服務名稱 (the column holds 200)
SHORT_PREAMBLE = 50  # text before the first heading up to this length is the name


@dataclass(frozen=True)
class Field:
    """One field of the template as the flow asks for it."""

    name: str  # the Proposal column
    label: str  # 創意服務名稱 …
    part: str  # where it sits in 附錄1: 壹、專案總說明 …


FIELDS: tuple[Field, ...] = (
    Field("title", "創意服務名稱", ""),
    Field("kind", "創新服務類型", ""),
    Field("background", "個案背景與問題描述", "壹、專案總說明"),
    Field("solution", "採用解決方法", "壹、專案總說明"),
    Field("benefits", "實際效益", "壹、專案總說明"),
    Field("external_benefits", "外部效益", "貳、創新服務實際績效"),
    Field("internal_benefits", "內部效益", "貳、創新服務實際績效"),
    Field("process_integration", "流程整合", "參、創新服務解決手法"),
    Field("ict_adoption", "資通訊服務導入", "參、創新服務解決手法"),
    Field("evidence_note", "附件", "肆、附件"),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
#: Fields whose text should carry numbers (附錄1: 儘量以量化數據表達).
QUANTIFIED = ("external_benefits", "internal_benefits")


def innovation_kinds(rubric: Rubric | None = None) -> tuple[str, ...]:
    """The kinds of innovation: the names before ``：`` in question 6.1's criteria.

    A rubric without that question falls back to the seed's (105) form.
    """
    if rubric is None or not rubric.has_question(INNOVATION_QUESTION):
        rubric = load_year(SEED_RUBRIC_YEAR)
    criteria = rubric.question(INNOVATION_QUESTION).criteria
    return tuple(re.split("[：:]", c, maxsplit=1)[0].strip().rstrip("。.") for c in criteria)


def match_kind(text: str, kinds: tuple[str, ...]) -> str | None:
    """The kind ``text`` names: its number (``4``, ``第４種``) or its name or a part of it."""
    cleaned = re.sub(r"[\s。.、,，:：「」]", "", to_halfwidth(text))
    number = re.fullmatch(r"第?(\d{1,2})[種類項]?", cleaned)
    if number:
        index = int(number.group(1))
        return kinds[index - 1] if 1 <= index <= len(kinds) else None
    if not cleaned:
        return None
    for kind in sorted(kinds, key=len, reverse=True):
        if kind in cleaned:
            return kind
    if len(cleaned) >= 2:
        partial = [kind for kind in kinds if cleaned in kind]
        if len(partial) == 1:
            return partial[0]
    return None


# --- the splitter ----------------------------------------------------------------------------

#: Heading words by what they fill; containers (壹、貳、參) fill a field when they hold text
#: of their own (overview → background, performance → external, approach → integration).
_HEADINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("title", ("創意服務名稱", "創新服務名稱", "提案名稱", "服務名稱", "名稱")),
    ("kind", ("創新服務類型", "創新服務樣態", "創新類型", "服務類型", "類型", "樣態")),
    ("overview", ("專案總說明",)),
    ("background", ("個案背景與問題描述", "背景與問題描述", "個案背景", "問題描述", "背景")),
    ("solution", ("採用解決方法", "解決方法")),
    ("benefits", ("實際效益",)),
    ("performance", ("創新服務實際績效", "實際績效")),
    ("external_benefits", ("外部效益",)),
    ("internal_benefits", ("內部效益",)),
    ("approach", ("創新服務解決手法", "解決手法")),
    ("process_integration", ("流程整合",)),
    ("ict_adoption", ("資通訊服務導入", "資通訊(ICT)服務導入", "資通訊（ICT）服務導入",
                      "導入資通訊服務", "ICT服務導入", "資通訊服務")),
    ("evidence_note", ("附件", "佐證資料")),
)
_CONTAINERS = {"overview": "background", "performance": "external_benefits",
               "approach": "process_integration"}
_WORD_TO_KEY = {word: key for key, words in _HEADINGS for word in words}
_SPACE = r"[ \t\u3000]"
_NUMBER = (r"(?:[壹貳參叁肆伍陸柒捌玖拾]|[一二三四五六七八九十]{1,3}|[0-9０-９]{1,2}"
           r"|[(（][一二三四五六七八九十0-9０-９]{1,3}[)）])")
_GUIDANCE = r"(?:[〔［\[][^〕］\]]*[〕］\]])"
_HEADING = re.compile(
    rf"^{_SPACE}*(?:[#＃*＊]+{_SPACE}*)?[【［\[]?{_SPACE}*"
    rf"(?:{_NUMBER}{_SPACE}*[、,，.．:：)）]?{_SPACE}*)?"
    rf"(?P<word>{'|'.join(re.escape(w) for w in sorted(_WORD_TO_KEY, key=len, reverse=True))})"
    rf"{_SPACE}*[】］\]]?{_SPACE}*{_GUIDANCE}?{_SPACE}*"
    rf"(?:[:：。.．、]|$|(?={_SPACE}))(?P<rest>.*)$")
_GUIDANCE_LINE = re.compile(rf"^{_SPACE}*{_GUIDANCE}{_SPACE}*$")
_TEMPLATE_NOTE = "※各單位可視需要參考本附錄格式"


@dataclass
class PastedProposal:
    """What a pasted text holds: field texts, the headings found, and a kind not recognised."""

    fields: dict[str, str] = field(default_factory=dict)
    headings: list[str] = field(default_factory=list)
    unknown_kind: str | None = None
    long_title: bool = False  # a 名稱 too long to be one (left for the member to give)

    @property
    def is_proposal(self) -> bool:
        """Two or more of the template's headings: a whole proposal, not one answer."""
        return len(set(self.headings)) >= 2


def _join(lines: list[str]) -> str:
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _clean_title(text: str, agency: str | None) -> str:
    title = text.strip()
    if agency and title.startswith(agency):
        title = title[len(agency):].strip()
    title = title.strip("「」『』\"“”:：")
    return "" if title in ("創意服務名稱", "") else title


def split_proposal(text: str, kinds: tuple[str, ...], *,
                   agency: str | None = None) -> PastedProposal:
    """Cut a pasted proposal into fields by the template's headings.

    Text before the first heading is the name when it is one short line (the template's
    title line, with the agency's name removed), else background. The template's guidance
    in 〔…〕 is dropped.
    """
    buckets: dict[str, list[str]] = {}
    preamble: list[str] = []
    found: list[str] = []
    current: str | None = None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if _GUIDANCE_LINE.match(line) or line.startswith(_TEMPLATE_NOTE):
            continue
        match = _HEADING.match(line)
        if match:
            current = _WORD_TO_KEY[match.group("word")]
            found.append(current)
            rest = re.sub(rf"^{_GUIDANCE}", "", match.group("rest").strip()).strip()
            buckets.setdefault(current, [])
            if rest:
                buckets[current].append(rest)
            continue
        (preamble if current is None else buckets[current]).append(line)
    result = PastedProposal(headings=found)
    texts = {key: _join(lines) for key, lines in buckets.items()}
    for container, target in _CONTAINERS.items():
        own = texts.pop(container, "")
        if own:
            texts[target] = f"{own}\n{texts[target]}" if texts.get(target) else own
    opening = _join(preamble)
    if opening:
        if "\n" not in opening and len(opening) <= SHORT_PREAMBLE and not texts.get("title"):
            texts["title"] = opening
        else:
            texts["background"] = f"{opening}\n{texts['background']}" \
                if texts.get("background") else opening
    if "title" in texts:
        title = _clean_title(texts.pop("title"), agency)
        if len(title) > TITLE_MAX:
            result.long_title = True
        elif title:
            texts["title"] = title
    if "kind" in texts:
        said = texts.pop("kind")
        kind = match_kind(said, kinds)
        if kind is not None:
            texts["kind"] = kind
        elif said:
            result.unknown_kind = said
    result.fields = {key: value for key, value in texts.items() if value}
    return result


_QUANTITY = re.compile(
    r"(?P<number>[0-9０-９][0-9０-９,，.．]*|[一二兩三四五六七八九十百千萬半]+)\s*"
    r"(?P<unit>成|倍|%|％|件|人|位|天|日|週|個月|年|小時|分鐘|次|張|元|萬|億|處|項|筆|場|份|公里|公尺)")


def has_numbers(text: str) -> bool:
    """Whether ``text`` gives a quantity (附錄1 asks for quantified data): a number with its
    unit (35%、1,200人次、14天、三成). A bare number (案例3) or a year (115年) is none."""
    for match in _QUANTITY.finditer(text):
        digits = match.group("number")
        if match.group("unit") == "年" and len(digits) >= 3:
            continue  # 115年, 2026年: when, not how much
        return True
    return False
