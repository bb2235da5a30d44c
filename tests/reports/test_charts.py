"""The PNG charts: right size, Chinese drawn with a font that has every glyph, never boxes."""

from __future__ import annotations

import dataclasses
import io
import math

import matplotlib.image
import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib.container import BarContainer
from matplotlib.text import Text

from reports import charts
from reports.charts import (
    MissingFontError,
    annual_figure,
    annual_trend_png,
    cjk_font,
    quarter_chart_png,
    quarter_figure,
    wrap_text,
)
from reports.model import AnnualRow, AnnualTable, QuarterTable, TableRow
from tests.reports.test_tables import BANDS, SECTIONS, TITLE, demo_annual, demo_quarter


def decode(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    assert pixels[..., :3].std() > 0.05  # something is drawn
    return width, height


def font_charmap() -> set[int]:
    path = cjk_font().get_file()
    assert path is not None
    with TTFont(str(path), fontNumber=getattr(path, "face_index", 0), lazy=True) as font:
        return set(font.getBestCmap())


def drawn_texts(figure: object) -> list[str]:
    return [text.get_text() for text in figure.findobj(Text)  # type: ignore[attr-defined]
            if text.get_text()]


def test_cjk_font_is_a_traditional_chinese_face_covering_every_character() -> None:
    font = cjk_font()
    assert "CJK" in font.get_name() or "TC" in font.get_name(), font.get_name()
    charmap = font_charmap()
    used = TITLE + "".join(SECTIONS) + "審定分數自評分數未送出優甲乙丙丁受考核單位總分滿分第季別"
    used += demo_annual().title + "尚無成績（）0123456789"
    assert [ch for ch in used if ord(ch) not in charmap] == []


def test_quarter_chart_png_is_1600_by_900() -> None:
    png = quarter_chart_png(demo_quarter())
    assert decode(png) == (1600, 900)
    assert png == quarter_chart_png(demo_quarter())  # deterministic: no timestamp


def test_quarter_chart_marks_self_assessed_and_unsent_sections() -> None:
    table = demo_quarter()
    figure = quarter_figure(table)
    axes = figure.axes[0]
    bars = sorted((bar for c in axes.containers if isinstance(c, BarContainer)
                   for bar in c.patches), key=lambda bar: bar.get_x())
    submitted = [row for row in table.rows if row.total is not None]
    assert [bar.get_height() for bar in bars] == [row.total for row in submitted]
    assert [bool(bar.get_hatch()) for bar in bars] == [not row.verified for row in submitted]
    assert axes.get_ylim() == (0, 1000)
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        "秘書室", "規劃課", "工務課", "管理課", "資產課", "人事室", "主計室", "政風室",
        "員山子分洪\n管理中心"]
    texts = drawn_texts(figure)
    assert texts.count("未送出") == 1
    assert {"優 900", "甲 800", "乙 700", "丙 600"} <= set(texts)
    assert not any(text.startswith("丁") for text in texts)
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["審定分數", "自評分數"]
    assert axes.get_title() == TITLE


def test_annual_trend_png_is_1600_by_900_with_a_line_per_section() -> None:
    table = dataclasses.replace(demo_annual(), grade_bands=BANDS)
    assert decode(annual_trend_png(table)) == (1600, 900)
    figure = annual_figure(table)
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["第1季", "第2季", "第3季",
                                                              "第4季"]
    sections = [row.section for row in table.rows]
    data = [line for line in axes.lines if line.get_label() in sections]
    assert len(data) == len(table.rows) - 1  # 管理課 has no total: no line, no legend entry
    works = [float(v) for v in np.asarray(data[2].get_ydata(), dtype=float)]
    assert works[:2] == [850, 860] and math.isnan(works[2]) and works[3] == 875  # a gap
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == ["政風室", "秘書室", "工務課", "規劃課"]
    assert [t.get_text() for t in figure.texts] == ["尚無成績：管理課"]
    # The grade bands the range shows (700–1000 here), named at the right.
    shown = {t.get_text() for t in axes.texts}
    assert {"優 900", "甲 800"} <= shown and not {"乙 700", "丁 0"} & shown


@pytest.mark.parametrize("odd", ["𠀀", "😀"])
def test_a_character_the_font_lacks_raises_instead_of_drawing_a_box(odd: str) -> None:
    table = demo_quarter()
    rows = (TableRow(1, f"{odd}課", (None,) * 7, None, None, False, "未送出", None),)
    odd_table = QuarterTable(table.title, table.agency, table.period_label, table.items,
                             table.grade_scale, table.grade_bands, table.total_max, rows)
    with pytest.raises(MissingFontError, match=odd) as caught:
        quarter_chart_png(odd_table)
    assert f"U+{ord(odd):04X}" in str(caught.value)

    annual = AnnualTable(f"115年度{odd}", "局", 115, "average",
                         (AnnualRow("秘書室", (900, None, None, None), 900.0, 1, "優"),),
                         (), (), ())
    with pytest.raises(MissingFontError, match=odd):
        annual_trend_png(annual)


def test_dollar_signs_are_drawn_as_text_not_math() -> None:
    table = demo_quarter()
    rows = (TableRow(1, "經費$A$課", (280, 170, 150, 100, 100, 100, 100), 1000, "優", True,
                     "已審定", "115年12月"),)
    odd = QuarterTable(table.title, table.agency, table.period_label, table.items,
                       table.grade_scale, table.grade_bands, table.total_max, rows)
    assert decode(quarter_chart_png(odd)) == (1600, 900)


def test_wrap_text_balances_lines_and_keeps_numbers_whole() -> None:
    assert wrap_text(TITLE, 84) == TITLE  # fits on one line
    lines = wrap_text(TITLE, 50).split("\n")
    assert len(lines) == 2 and "".join(lines) == TITLE
    assert lines == ["經濟部水利署第十河川局115年度第4季",
                     "（10-12月）提升服務品質自行考核結果統計表"]
    long = wrap_text("測" * 30 + "（備註）" + "試" * 30, 40).split("\n")
    assert len(long) == 4 and all(24 <= charts._units(line) <= 40 for line in long)
    assert any("（備註）" in line for line in long)  # the bracketed group stays whole
    assert wrap_text("員山子分洪管理中心", 10) == "員山子分洪\n管理中心"


def test_a_thousand_sections_draw_bars_without_labels() -> None:
    from benchmarks.bench_documents import quarter_table

    figure = quarter_figure(quarter_table(1000))
    axes = figure.axes[0]
    bars = [bar for c in axes.containers if isinstance(c, BarContainer) for bar in c.patches]
    assert len(bars) == 1000
    assert list(axes.get_xticks()) == []
    assert axes.get_xlabel() == "受考核單位（1000 個）"
