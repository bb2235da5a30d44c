"""Read a year's rubric from YAML and check it against the rules of the form.

Every problem is reported as a :class:`~rubric.errors.RubricFileError` that names the file,
the path inside it (``facets[0].items[1].indicators[0]``) and what is wrong — never a bare
traceback. Nothing here knows the 105 numbers: another year is just another file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rubric.errors import RubricFileError
from rubric.model import Band, Indicator, Question, Rubric

DATA_PACKAGE = "rubric.data"
_YEAR_FILE = re.compile(r"^(\d{2,4})\.ya?ml$")


def _loc(parts: Iterable[int | str]) -> str:
    """Render a pydantic location tuple as ``facets[0].items[1].max``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_problem(error: Any) -> tuple[str, str]:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = error["type"]
    if kind == "extra_forbidden":
        return _loc(loc[:-1]), f"unknown key {loc[-1]!r}"
    if kind == "missing":
        return _loc(loc[:-1]), f"missing required key {loc[-1]!r}"
    return _loc(loc), str(error["msg"])


def parse_rubric(raw: object, *, source: str) -> Rubric:
    """Build and validate a :class:`Rubric` from already-parsed YAML data."""
    if not isinstance(raw, dict):
        raise RubricFileError(source, "", "the file must hold a mapping with year, total, facets…")
    try:
        rubric = Rubric.model_validate(raw)
    except ValidationError as exc:
        location, problem = _pydantic_problem(exc.errors()[0])
        raise RubricFileError(source, location, problem) from None
    _check_rules(rubric, source)
    return rubric


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate the rubric in ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RubricFileError(str(path), "", "no such file") from None
    except UnicodeDecodeError as exc:
        raise RubricFileError(str(path), "", f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise RubricFileError(str(path), "", f"cannot be read: {exc.strerror}") from None
    return _parse_text(text, source=str(path), expected_year=_year_from_name(path.name))


def _parse_text(text: str, *, source: str, expected_year: int | None) -> Rubric:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise RubricFileError(source, where, f"invalid YAML: {problem}") from None
    rubric = parse_rubric(raw, source=source)
    if expected_year is not None and rubric.year != expected_year:
        raise RubricFileError(
            source, "year", f"the file is named for year {expected_year} but says {rubric.year}"
        )
    return rubric


def _year_from_name(name: str) -> int | None:
    match = _YEAR_FILE.match(name)
    return int(match.group(1)) if match else None


def available_years() -> list[int]:
    """ROC years that have a rubric file shipped with sqbot, ascending."""
    years = []
    for entry in resources.files(DATA_PACKAGE).iterdir():
        year = _year_from_name(entry.name)
        if year is not None:
            years.append(year)
    return sorted(years)


@lru_cache(maxsize=16)
def load_year(year: int) -> Rubric:
    """The shipped rubric of ROC ``year`` (e.g. 105), validated; RubricFileError if absent."""
    entry = resources.files(DATA_PACKAGE) / f"{year}.yaml"
    if not entry.is_file():
        known = ", ".join(str(y) for y in available_years()) or "none"
        raise RubricFileError(f"rubric/data/{year}.yaml", "", f"no rubric for year {year} "
                              f"(shipped years: {known})")
    return _parse_text(entry.read_text(encoding="utf-8"), source=f"rubric/data/{year}.yaml",
                       expected_year=year)


def latest_rubric_year(for_year: int) -> int:
    """The newest shipped rubric year not after ``for_year`` (a later year reuses the last form)."""
    years = [y for y in available_years() if y <= for_year]
    if not years:
        raise RubricFileError("rubric/data", "", f"no rubric for year {for_year} or earlier")
    return years[-1]


# --- the rules of the form -------------------------------------------------------------------


def _check_rules(rubric: Rubric, source: str) -> None:
    def fail(location: str, problem: str) -> None:
        raise RubricFileError(source, location, problem)

    if rubric.total <= 0:
        fail("total", "must be a positive number of points")
    if not rubric.facets:
        fail("facets", "the form has no facets")
    _check_sum(fail, "", "facets", rubric.total, [f.max for f in rubric.facets], what="total")
    _check_grades(rubric, fail)

    seen_codes: dict[str, str] = {}
    seen_items: dict[str, str] = {}
    for fi, facet in enumerate(rubric.facets):
        fpath = f"facets[{fi}]"
        if not facet.items:
            fail(fpath, "facet has no items")
        _check_sum(fail, fpath, "items", facet.max, [i.max for i in facet.items])
        for ii, item in enumerate(facet.items):
            ipath = f"{fpath}.items[{ii}]"
            if item.code in seen_items:
                fail(f"{ipath}.code", f"item code {item.code!r} is already used at "
                                      f"{seen_items[item.code]}")
            seen_items[item.code] = ipath
            if not item.indicators:
                fail(ipath, "item has no indicators")
            _check_sum(fail, ipath, "indicators", item.max, [i.max for i in item.indicators])
            for ni, indicator in enumerate(item.indicators):
                npath = f"{ipath}.indicators[{ni}]"
                for qpath, question in _indicator_questions(indicator, npath, fail):
                    if question.code in seen_codes:
                        fail(f"{qpath}.code", f"question code {question.code!r} is already "
                                              f"used at {seen_codes[question.code]}")
                    seen_codes[question.code] = qpath
                    _check_question(question, qpath, fail)


def _indicator_questions(indicator: Indicator, npath: str, fail: Any) -> list[tuple[str, Question]]:
    has_subs = indicator.sub_indicators is not None
    has_questions = indicator.questions is not None
    if has_subs == has_questions:
        fail(npath, "an indicator needs either sub_indicators or questions (exactly one of them)")
    found: list[tuple[str, Question]] = []
    if indicator.sub_indicators is not None:
        if not indicator.sub_indicators:
            fail(f"{npath}.sub_indicators", "is empty")
        _check_sum(fail, npath, "sub_indicators", indicator.max,
                   [s.max for s in indicator.sub_indicators])
        for si, sub in enumerate(indicator.sub_indicators):
            spath = f"{npath}.sub_indicators[{si}]"
            if not sub.questions:
                fail(f"{spath}.questions", "is empty")
            _check_sum(fail, spath, "questions", sub.max, [q.max for q in sub.questions])
            found += [(f"{spath}.questions[{qi}]", q) for qi, q in enumerate(sub.questions)]
    else:
        questions = indicator.questions or ()
        if not questions:
            fail(f"{npath}.questions", "is empty")
        _check_sum(fail, npath, "questions", indicator.max, [q.max for q in questions])
        found += [(f"{npath}.questions[{qi}]", q) for qi, q in enumerate(questions)]
    return found


def _check_sum(fail: Any, path: str, children: str, expected: int, maxima: Sequence[int],
               *, what: str = "max") -> None:
    for index, value in enumerate(maxima):
        if value <= 0:
            child = f"{path}.{children}[{index}]" if path else f"{children}[{index}]"
            fail(f"{child}.max", f"must be a positive number of points, not {value}")
    if sum(maxima) != expected:
        shown = " + ".join(str(m) for m in maxima)
        fail(f"{path}.{what}" if path else what,
             f"{children} sum to {sum(maxima)} ({shown}) but {what} is {expected}")


def _check_grades(rubric: Rubric, fail: Any) -> None:
    if not rubric.grades:
        fail("grades", "the grade scale is empty")
    previous: int | None = None
    names: set[str] = set()
    for gi, step in enumerate(rubric.grades):
        if step.grade in names:
            fail(f"grades[{gi}].grade", f"grade {step.grade!r} appears twice")
        names.add(step.grade)
        if step.min < 0 or step.min > rubric.total:
            fail(f"grades[{gi}].min", f"must lie within 0..{rubric.total}, not {step.min}")
        if previous is not None and step.min >= previous:
            fail(f"grades[{gi}].min",
                 f"grades must be listed highest first; {step.min} is not below {previous}")
        previous = step.min
    if rubric.grades[-1].min != 0:
        fail(f"grades[{len(rubric.grades) - 1}].min",
             f"the lowest grade must start at 0 so every total has a grade, "
             f"not {rubric.grades[-1].min}")


def _check_question(question: Question, qpath: str, fail: Any) -> None:
    if not question.bands and not question.criteria:
        fail(qpath, "a question needs bands or criteria so staff know how to score it")
    if question.measure is not None and not question.bands:
        fail(f"{qpath}.measure", "a measure needs bands with measure_min to map onto")
    ordered = sorted(enumerate(question.bands), key=lambda pair: pair[1].min)
    for bi, band in enumerate(question.bands):
        bpath = f"{qpath}.bands[{bi}]"
        if band.min > band.max:
            fail(bpath, f"band {band.min}-{band.max} runs backwards")
        if band.min < 1:
            fail(f"{bpath}.min", f"bands start at 1 or above (0 is always allowed below the "
                                  f"lowest band), not {band.min}")
        if band.max > question.max:
            fail(f"{bpath}.max", f"band ends at {band.max}, above the question's max "
                                  f"{question.max}")
        _check_measure_min(question, band, bpath, fail)
    for (_, lower), (upper_index, upper) in itertools.pairwise(ordered):
        upath = f"{qpath}.bands[{upper_index}]"
        if upper.min <= lower.max:
            fail(upath, f"band {upper.min}-{upper.max} overlaps band {lower.min}-{lower.max}")
        if upper.min > lower.max + 1:
            fail(upath, f"gap between bands {lower.min}-{lower.max} and {upper.min}-{upper.max} "
                        f"({lower.max + 1}-{upper.min - 1} is in no band)")
        if question.measure is not None and (upper.measure_min or 0) <= (lower.measure_min or 0):
            fail(f"{upath}.measure_min", "a higher band must need a higher measure "
                                         f"({upper.measure_min} ≤ {lower.measure_min})")
    if ordered and ordered[-1][1].max != question.max:
        top_index, top = ordered[-1]
        fail(f"{qpath}.bands[{top_index}].max",
             f"the top band ends at {top.max} but the question's max is {question.max}")


def _check_measure_min(question: Question, band: Band, bpath: str, fail: Any) -> None:
    measure = question.measure
    if measure is None:
        if band.measure_min is not None:
            fail(f"{bpath}.measure_min", "measure_min given but the question has no measure")
        return
    if band.measure_min is None:
        fail(f"{bpath}.measure_min", f"every band of a measured question needs measure_min "
                                     f"({measure.name})")
        return
    if band.measure_min < measure.min or (measure.max is not None
                                          and band.measure_min > measure.max):
        upper = "" if measure.max is None else f"..{measure.max:g}"
        fail(f"{bpath}.measure_min", f"{band.measure_min:g} lies outside the measure's range "
                                     f"{measure.min:g}{upper}")
