"""Broken rubric files are refused with the file, the path inside it and what is wrong."""

import copy
from pathlib import Path

import pytest
import yaml

from rubric import RubricFileError, load_rubric
from rubric.loader import available_years, latest_rubric_year, load_year

SHIPPED = Path(__file__).resolve().parents[2] / "rubric" / "data" / "105.yaml"


@pytest.fixture(scope="module")
def pristine():
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _q(data, facet, item, indicator, sub, question):
    ind = data["facets"][facet]["items"][item]["indicators"][indicator]
    group = ind["sub_indicators"][sub]["questions"] if sub is not None else ind["questions"]
    return group[question]


def _change_max(data):
    data["facets"][0]["items"][1]["indicators"][0]["max"] = 40


def _drop_question_max(data):
    del _q(data, 0, 0, 0, 0, 0)["max"]


def _overlap(data):
    _q(data, 0, 0, 0, 0, 0)["bands"][1]["max"] = 90


def _gap(data):
    _q(data, 0, 0, 0, 0, 0)["bands"][1]["max"] = 70


def _band_above_max(data):
    q = _q(data, 0, 0, 0, 0, 0)
    q["bands"][0]["max"] = 130


def _top_band_short(data):
    _q(data, 0, 0, 0, 0, 0)["bands"][0]["max"] = 110


def _band_from_zero(data):
    _q(data, 0, 0, 0, 0, 0)["bands"][2]["min"] = 0


def _duplicate_code(data):
    _q(data, 0, 0, 0, 0, 1)["code"] = "1.1"


def _unknown_key(data):
    data["facets"][0]["items"][0]["maxx"] = 1


def _wrong_type(data):
    data["facets"][1]["max"] = "二百"


def _total_not_facets(data):
    data["total"] = 1100


def _grades_unordered(data):
    data["grades"][1]["min"] = 950


def _no_lowest_grade(data):
    data["grades"][-1]["min"] = 100


def _measure_not_descending(data):
    _q(data, 0, 1, 1, 0, 1)["bands"][1]["measure_min"] = 95


def _measure_min_without_measure(data):
    _q(data, 0, 0, 0, 0, 0)["bands"][0]["measure_min"] = 3


def _both_subs_and_questions(data):
    ind = data["facets"][0]["items"][0]["indicators"][0]
    ind["questions"] = copy.deepcopy(ind["sub_indicators"][0]["questions"])


def _empty_criteria_question(data):
    del _q(data, 2, 0, 0, None, 0)["criteria"]


CASES = [
    (_change_max, "facets[0].items[1].max", "indicators sum to 160 (40 + 90 + 30) but max is 170"),
    (_drop_question_max,
     "facets[0].items[0].indicators[0].sub_indicators[0].questions[0]",
     "missing required key 'max'"),
    (_overlap, "facets[0].items[0].indicators[0].sub_indicators[0].questions[0].bands[0]",
     "band 81-120 overlaps band 41-90"),
    (_gap, "facets[0].items[0].indicators[0].sub_indicators[0].questions[0].bands[0]",
     "gap between bands 41-70 and 81-120 (71-80 is in no band)"),
    (_band_above_max,
     "facets[0].items[0].indicators[0].sub_indicators[0].questions[0].bands[0].max",
     "band ends at 130, above the question's max 120"),
    (_top_band_short,
     "facets[0].items[0].indicators[0].sub_indicators[0].questions[0].bands[0].max",
     "the top band ends at 110 but the question's max is 120"),
    (_band_from_zero,
     "facets[0].items[0].indicators[0].sub_indicators[0].questions[0].bands[2].min",
     "bands start at 1 or above"),
    (_duplicate_code,
     "facets[0].items[0].indicators[0].sub_indicators[0].questions[1].code",
     "question code '1.1' is already used"),
    (_unknown_key, "facets[0].items[0]", "unknown key 'maxx'"),
    (_wrong_type, "facets[1].max", "valid integer"),
    (_total_not_facets, "total", "facets sum to 1000"),
    (_grades_unordered, "grades[1].min", "highest first"),
    (_no_lowest_grade, "grades[4].min", "lowest grade must start at 0"),
    (_measure_not_descending,
     "facets[0].items[1].indicators[1].sub_indicators[0].questions[1].bands[0].measure_min",
     "a higher band must need a higher measure"),
    (_measure_min_without_measure,
     "facets[0].items[0].indicators[0].sub_indicators[0].questions[0].bands[0].measure_min",
     "measure_min given but the question has no measure"),
    (_both_subs_and_questions, "facets[0].items[0].indicators[0]",
     "either sub_indicators or questions"),
    (_empty_criteria_question, "facets[2].items[0].indicators[0].questions[0]",
     "needs bands or criteria"),
]


def test_the_shipped_file_is_valid():
    assert load_rubric(SHIPPED).year == 105
    assert available_years() == [105]
    assert load_year(105) is load_year(105)
    assert latest_rubric_year(115) == 105


@pytest.mark.parametrize(("mutate", "location", "problem"), CASES,
                         ids=[case[0].__name__.lstrip("_") for case in CASES])
def test_broken_file_is_refused_with_its_own_message(tmp_path, pristine, mutate, location,
                                                     problem):
    data = copy.deepcopy(pristine)
    mutate(data)
    path = tmp_path / "105.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricFileError) as info:
        load_rubric(path)
    error = info.value
    assert error.file == str(path)
    assert error.location == location
    assert problem in error.problem
    assert str(error).startswith(f"{path}: {location}: ")


def test_each_case_has_a_distinct_message(tmp_path, pristine):
    seen = set()
    for mutate, _, _ in CASES:
        data = copy.deepcopy(pristine)
        mutate(data)
        path = tmp_path / "105.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        with pytest.raises(RubricFileError) as info:
            load_rubric(path)
        seen.add(str(info.value))
    assert len(seen) == len(CASES)


def test_missing_file(tmp_path):
    with pytest.raises(RubricFileError, match="no such file"):
        load_rubric(tmp_path / "999.yaml")


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "106.yaml"
    path.write_text("year: 106\nfacets: [\n  - oops: : :\n", encoding="utf-8")
    with pytest.raises(RubricFileError) as info:
        load_rubric(path)
    assert info.value.location.startswith("line ")
    assert "invalid YAML" in info.value.problem


def test_not_a_mapping(tmp_path):
    path = tmp_path / "106.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(RubricFileError, match="must hold a mapping"):
        load_rubric(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "106.yaml"
    path.write_bytes("year: 106\ntitle: 評分表\n".encode("big5"))
    with pytest.raises(RubricFileError, match="not UTF-8"):
        load_rubric(path)


def test_year_must_match_file_name(tmp_path, pristine):
    path = tmp_path / "106.yaml"
    path.write_text(yaml.safe_dump(pristine, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricFileError, match="named for year 106 but says 105"):
        load_rubric(path)


def test_another_year_is_just_another_file(tmp_path, pristine):
    data = copy.deepcopy(pristine)
    data["year"] = 116
    data["title"] = "116年度自行考核項目及評分表"
    path = tmp_path / "116.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_rubric(path).year == 116


def test_unknown_year_is_refused():
    with pytest.raises(RubricFileError, match="no rubric for year 99"):
        load_year(99)
