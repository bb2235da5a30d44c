"""What the 年度案例 dialog shows: pure functions of its view models (no database)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Outgoing

INTRO = ("請就「壹、執行績效」五個項目，各列舉2、3個個案事例，並請儘量以量化數據說明實施成果；"
         "「貳、檢討」請簡要條列推動及執行過程中發現之問題、遭遇困難及改進建議。")


def quote(text: str, limit: int = 40) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class HeadingsView:
    """The headings of the report with what the section offered under each."""

    year: int
    section: str
    #: (heading number, label, count, unit) in the report's order
    headings: tuple[tuple[int, str, int, str], ...]


@dataclass(frozen=True)
class WriteView:
    """A case (or a 檢討 point) being asked for under one heading."""

    label: str
    number: int  # the one being written: count + 1
    unit: str
    review: bool
    text_max: int


@dataclass(frozen=True)
class FiguresView:
    """The numbers of the case just written."""

    has_numbers: bool
    just_written: bool


@dataclass(frozen=True)
class DoneView:
    """A case recorded: what now."""

    label: str
    number: int
    text: str
    figures: str | None
    review: bool
    unit: str
    room: bool  # another may be added under the heading
    limit: int


@dataclass(frozen=True)
class ListView:
    """The section's cases of the year."""

    section: str
    year: int
    #: (heading label, number, text, figures, kept, case id) in order
    cases: tuple[tuple[str, int, str, str | None, bool, int], ...]


def headings(view: HeadingsView) -> Outgoing:
    lines = [f"【年度案例】{view.year}年度提升服務品質績效總報告（資料截止時間："
             f"{view.year}年12月31日）", INTRO, f"{view.section}目前已提供："]
    lines += [f"{label}：{count} {unit}" for _, label, count, unit in view.headings]
    lines.append("請選擇要填寫的項目：")
    return Outgoing("\n".join(lines))


def write(view: WriteView) -> Outgoing:
    if view.review:
        ask = ("請條列一點：推動及執行提升服務品質過程中發現之問題、遭遇困難或改進建議"
               f"（{view.text_max} 字以內）。")
    else:
        ask = ("請輸入一件個案事例：扼要說明做法與成果（例如：河川公地申請導入線上預審，"
               f"民眾免往返送件）。{view.text_max} 字以內；數據下一步再問。")
    return Outgoing(f"【{view.label}】第 {view.number} {view.unit}（每項2、3{view.unit}）\n{ask}")


def figures(view: FiguresView, skip: str) -> Outgoing:
    seen = "內容中已有數據，可再補充或按「略過」。" if view.has_numbers \
        else f"沒有數據請按「{skip}」。"
    lines = ["已記錄個案事例。"] if view.just_written else []
    lines.append("請輸入量化數據，例如：線上申辦率由35%提升至62%、全年服務1,200人次、"
                 f"處理天數由14天縮短為5天。{seen}")
    return Outgoing("\n".join(lines))


def done(view: DoneView) -> Outgoing:
    lines = [f"已記錄「{view.label}」第 {view.number} {view.unit}：{quote(view.text, 60)}"]
    if view.figures:
        lines.append(f"量化成果：{view.figures}")
    elif not view.review:
        lines.append("（未提供量化數據）")
    if view.room:
        lines.append(f"本項已 {view.number} {view.unit}，可再新增（每項2、3{view.unit}）。")
    else:
        lines.append(f"本項已達 {view.limit} {view.unit}。")
    return Outgoing("\n".join(lines))


def case_list(view: ListView) -> Outgoing:
    lines = [f"{view.section} {view.year}年度案例（共 {len(view.cases)} 則）"]
    heading = None
    for label, number, text, figures_, kept, _ in view.cases:
        if label != heading:
            heading = label
            lines.append(f"【{label}】")
        shown = f"（量化成果：{quote(figures_, 40)}）" if figures_ else ""
        lines.append(f"{number}. {quote(text, 60)}{shown}{'' if kept else '［秘書室未列入報告］'}")
    if not view.cases:
        lines.append("還沒有提供案例。")
    return Outgoing("\n".join(lines))
