"""Documents: the quarterly table, chart and ODS for 1,000 sections; a section's scoring
form; the annual performance report (ODT and DOCX of a report with three cases under each of
the five headings; fitting it to three pages needs LibreOffice and is not timed here)."""

from __future__ import annotations

import random
import time

from benchmarks.common import write
from reports.model import ItemColumn, QuarterTable, SectionForm, TableRow
from rubric import grade_for, load_year, score_card

SECTIONS = 1000


def quarter_table(sections: int) -> QuarterTable:
    """A table of ``sections`` sections with random but valid scores."""
    rubric = load_year(105)
    rng = random.Random(1000)
    items = tuple(ItemColumn(i.code, i.name, i.max) for i in rubric.items)
    rows = []
    for n in range(sections):
        scores = {q.code: rng.randint(q.max // 2, q.max) for q in rubric.questions}
        card = score_card(rubric, scores)
        rows.append(TableRow(n + 1, f"測試課{n:04d}", tuple(card.item_scores.values()),
                             card.total, card.grade, n % 3 != 0,
                             "已審定" if n % 3 else "自評已送出", "115年12月"))
    title = "經濟部水利署第十河川局115年度第四季（10-12月）提升服務品質自行考核結果統計表"
    return QuarterTable(title, "經濟部水利署第十河川局", "115年第4季", items,
                        "優=900分以上；甲=899-800分；乙=799-700分；丙=699-600分；丁=599分以下",
                        tuple((g.grade, g.min) for g in rubric.grades), rubric.total, tuple(rows))


def section_form() -> SectionForm:
    """One section's filled-in form: every question scored, verified a point lower."""
    from reports.build import form_facets
    from storage.models import Answer

    rubric = load_year(105)
    verified = {q.code: q.max - 1 for q in rubric.questions}
    answers = {q.code: Answer(question_code=q.code, self_score=q.max, verified_score=q.max - 1,
                              evidence_text="已於網站公布") for q in rubric.questions}
    total = sum(verified.values())
    return SectionForm("經濟部水利署第十河川局115年度提升服務品質自行考核項目及評分表", 2,
                       "規劃課", "115年第4季", "115年12月10日", total, grade_for(rubric, total),
                       "陳秘書", form_facets(rubric, answers, dict.fromkeys(verified, 2), verified),
                       strengths_and_suggestions="流程公開完整")


def annual_report():  # type: ignore[no-untyped-def]
    """A year's report: every heading with its figures and three cases of a few lines."""
    from reports.performance import HEADINGS, HeadingPart, PerformanceReport, Quantity, ReportCase

    def case(number: int, index: int) -> ReportCase:
        return ReportCase(number, "規劃課",
                          f"第{index + 1}案：推動河川公地使用申請線上化，民眾可於網站下載書表並"
                          "線上預約臨櫃時段，並由專人以電話主動告知案件進度，減少往返次數",
                          "線上申辦率由35%提升至62%，平均處理天數由14天縮短為9天")

    headings = tuple(
        HeadingPart(n, title, (Quantity("各季自行考核（受考核課室9個）：",
                                        ("第1季平均857分", "第2季平均861分")),),
                    tuple(case(n, i) for i in range(3)))
        for n, title in enumerate(HEADINGS, start=1))
    return PerformanceReport("經濟部水利署第十河川局115年度提升服務品質績效總報告",
                             "經濟部水利署第十河川局", 115, "115年12月31日", headings,
                             ("部分課室佐證資料上傳不完整，將於下季加強說明。",))


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return round(time.perf_counter() - start, 3)


def main() -> None:
    """Time each document and write benchmarks/results/documents.json."""
    from reports.charts import quarter_chart_png
    from reports.forms import form_docx, form_odt
    from reports.performance import performance_docx, performance_odt
    from reports.tables import quarter_ods, quarter_xlsx

    table = quarter_table(SECTIONS)
    quarter_chart_png(quarter_table(5))  # font discovery and imports, once, outside the timing
    chart = timed(lambda: quarter_chart_png(table))
    ods = timed(lambda: quarter_ods(table))
    figures = {
        "sections": SECTIONS,
        "quarter_chart_png_s": chart,
        "quarter_ods_s": ods,
        "quarter_table_chart_and_ods_s": round(chart + ods, 3),
        "quarter_xlsx_s": timed(lambda: quarter_xlsx(table)),
        "section_form_odt_s": timed(lambda: form_odt(section_form())),
        "section_form_docx_s": timed(lambda: form_docx(section_form())),
    }
    report = annual_report()
    figures["annual_report_odt_s"] = timed(lambda: performance_odt(report))
    figures["annual_report_docx_s"] = timed(lambda: performance_docx(report))
    figures["annual_report_s"] = round(figures["annual_report_odt_s"]
                                       + figures["annual_report_docx_s"], 3)
    write("documents", figures, targets={"quarter_table_chart_and_ods_s": 3.0,
                                         "annual_report_s": 3.0})


if __name__ == "__main__":
    main()
