"""The 105 rubric file against the seed's numbers, and scoring on it."""

import pytest

from rubric import (
    ScoreError,
    band_for,
    band_for_measure,
    check_score,
    grade_for,
    load_year,
    score_card,
)


@pytest.fixture(scope="module")
def rubric():
    return load_year(105)


def test_total_and_question_count(rubric):
    assert rubric.total == 1000
    assert len(rubric.questions) == 25
    assert sum(q.max for q in rubric.questions) == 1000
    assert len({q.code for q in rubric.questions}) == 25


def test_item_maxima_follow_the_seed(rubric):
    assert [(i.name, i.max) for i in rubric.items] == [
        ("服務流程", 280),
        ("機關形象", 170),
        ("顧客關係", 150),
        ("資訊提供及檢索服務", 100),
        ("線上服務及電子參與", 100),
        ("提供創新服務情形", 100),
        ("辦理服務規劃創新整合情形", 100),
    ]
    for item in rubric.items:
        assert sum(q.max for q in item.all_questions()) == item.max


def test_facet_maxima_follow_the_seed(rubric):
    assert [(f.name, f.max) for f in rubric.facets] == [
        ("優質便民服務", 600),
        ("資訊網路服務", 200),
        ("創新加值服務", 100),
        ("服務規劃的創新整合", 100),
    ]
    for facet in rubric.facets:
        assert sum(i.max for i in facet.items) == facet.max
        assert facet.description


def test_question_maxima_and_bands_follow_the_glossary(rubric):
    expected = {
        "1.1": (120, [(81, 120), (41, 80), (1, 40)]),
        "1.2": (60, [(41, 60), (21, 40), (1, 20)]),
        "1.3": (100, [(61, 100), (1, 60)]),
        "2.1": (25, [(1, 25)]),
        "2.2": (25, [(21, 25), (16, 20), (1, 15)]),
        "2.3": (20, [(1, 20)]),
        "2.4": (20, [(16, 20), (11, 15), (1, 10)]),
        "2.5": (50, [(46, 50), (41, 45), (36, 40), (31, 35), (1, 30)]),
        "2.6": (30, [(1, 30)]),
        "3.1": (80, [(41, 80), (1, 40)]),
        "3.2": (70, [(1, 70)]),
        "4.1": (20, [(11, 20), (1, 10)]),
        "4.2": (10, [(9, 10), (6, 8), (1, 5)]),
        "4.3": (20, [(16, 20), (11, 15), (1, 10)]),
        "4.4": (50, [(1, 50)]),
        "5.1": (30, [(1, 30)]),
        "5.2": (10, [(1, 10)]),
        "5.3": (10, [(6, 10), (1, 5)]),
        "5.4": (50, [(41, 50), (31, 40), (1, 30)]),
        "6.1": (50, []),
        "6.2": (30, []),
        "6.3": (20, []),
        "7.1": (30, []),
        "7.2": (40, []),
        "7.3": (30, []),
    }
    actual = {
        q.code: (q.max, [(b.min, b.max) for b in q.bands]) for q in rubric.questions
    }
    assert actual == expected


def test_criteria_lists_of_items_6_and_7(rubric):
    kinds = rubric.question("6.1").criteria
    assert len(kinds) == 8
    assert kinds[0].startswith("跨機關整合")
    assert kinds[-1] == "其他創新服務樣態。"
    ict = rubric.question("7.2").criteria
    assert len(ict) == 5
    assert ict[0].startswith("運用線上服務系統")
    assert ict[-1].startswith("智慧辦公")
    assert len(rubric.items[5].notes) == 4


def test_objective_thresholds(rubric):
    assert [b.measure_min for b in rubric.question("2.4").bands] == [90, 80, 70]
    assert [b.measure_min for b in rubric.question("2.5").bands] == [90, 85, 80, 75, 70]
    assert [b.measure_min for b in rubric.question("4.3").bands] == [14, 13, 12]


def test_placement_and_breadcrumb(rubric):
    placement = rubric.placement("1.2")
    assert placement.number == 2
    assert placement.breadcrumb == (
        "服務流程 › 服務流程便捷性及案件處理透明度 › 案件處理流程查詢公開及簡化流程程度"
    )
    assert rubric.placement("7.3").number == 25
    # Directly scored indicators show no repeated sub-indicator.
    assert rubric.placement("6.1").breadcrumb == "提供創新服務情形 › 提出有價值之創新服務"


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        (1000, "優"),
        (900, "優"),
        (899, "甲"),
        (800, "甲"),
        (799, "乙"),
        (700, "乙"),
        (699, "丙"),
        (600, "丙"),
        (599, "丁"),
        (0, "丁"),
    ],
)
def test_grade_boundaries(rubric, total, grade):
    assert grade_for(rubric, total) == grade


@pytest.mark.parametrize("total", [-1, 1001])
def test_grade_of_impossible_total_is_refused(rubric, total):
    with pytest.raises(ScoreError):
        grade_for(rubric, total)


def _every_band_edge(rubric):
    for question in rubric.questions:
        for band in question.bands:
            yield question.code, band.min, (band.min, band.max)
            yield question.code, band.max, (band.min, band.max)


def test_band_lookup_at_every_band_edge(rubric):
    edges = list(_every_band_edge(rubric))
    assert len(edges) == 2 * sum(len(q.bands) for q in rubric.questions)
    for code, score, expected in edges:
        band = band_for(rubric.question(code), score)
        assert band is not None, (code, score)
        assert (band.min, band.max) == expected, (code, score)


def test_zero_is_below_every_band(rubric):
    for question in rubric.questions:
        assert band_for(question, 0) is None
        assert check_score(question, 0) == 0


@pytest.mark.parametrize("score", [-1, 121, 999])
def test_scores_outside_the_question_are_refused(rubric, score):
    with pytest.raises(ScoreError) as info:
        check_score(rubric.question("1.1"), score)
    assert info.value.allowed == "0-120"


def test_non_integer_score_is_refused(rubric):
    with pytest.raises(ScoreError):
        check_score(rubric.question("1.1"), 12.5)  # type: ignore[arg-type]
    with pytest.raises(ScoreError):
        check_score(rubric.question("1.1"), True)


def test_criteria_only_question_allows_the_whole_range(rubric):
    question = rubric.question("6.1")
    assert band_for(question, 50) is None
    assert check_score(question, 1) == 1
    with pytest.raises(ScoreError):
        check_score(question, 51)


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        ("2.4", 100, (16, 20)),
        ("2.4", 92, (16, 20)),
        ("2.4", 90, (16, 20)),
        ("2.4", 89.9, (11, 15)),
        ("2.4", 80, (11, 15)),
        ("2.4", 79, (1, 10)),
        ("2.4", 70, (1, 10)),
        ("2.4", 69, None),
        ("2.5", 90, (46, 50)),
        ("2.5", 85, (41, 45)),
        ("2.5", 84.99, (36, 40)),
        ("2.5", 75, (31, 35)),
        ("2.5", 70, (1, 30)),
        ("2.5", 50, None),
        ("4.3", 20, (16, 20)),
        ("4.3", 14, (16, 20)),
        ("4.3", 13, (11, 15)),
        ("4.3", 12, (1, 10)),
        ("4.3", 11, None),
    ],
)
def test_objective_measure_implies_band(rubric, code, value, expected):
    band = band_for_measure(rubric.question(code), value)
    assert (None if band is None else (band.min, band.max)) == expected


@pytest.mark.parametrize(("code", "value"), [("2.4", 101), ("2.4", -1), ("1.1", 50)])
def test_measure_outside_range_or_absent_is_refused(rubric, code, value):
    with pytest.raises(ScoreError):
        band_for_measure(rubric.question(code), value)


def test_score_card_full_marks_and_subtotals(rubric):
    full = {q.code: q.max for q in rubric.questions}
    card = score_card(rubric, full)
    assert card.total == 1000
    assert card.grade == "優"
    assert card.complete
    assert list(card.item_scores.values()) == [280, 170, 150, 100, 100, 100, 100]
    assert list(card.facet_scores.values()) == [600, 200, 100, 100]


def test_score_card_partial_answers(rubric):
    card = score_card(rubric, {"1.1": 100, "2.4": 18, "7.3": 0})
    assert card.total == 118
    assert card.item_scores["1"] == 100
    assert card.item_scores["2"] == 18
    assert card.facet_scores["A"] == 118
    assert card.answered == ("1.1", "2.4", "7.3")
    assert len(card.unanswered) == 22
    assert not card.complete
    assert card.grade == "丁"


def test_score_card_refuses_unknown_code_and_bad_score(rubric):
    with pytest.raises(ScoreError):
        score_card(rubric, {"9.9": 1})
    with pytest.raises(ScoreError):
        score_card(rubric, {"1.1": 121})
