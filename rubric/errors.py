"""Errors of the rubric package.

    RubricError
    ├── RubricFileError   a rubric data file is unreadable or invalid (names file and path)
    ├── ScoreError        a score is not allowed for a question
    └── PeriodError       a date, ROC year or quarter is invalid (in rubric.periods)

Messages are for operators and developers (English); chat handlers choose the zh-TW wording
shown to staff from the exception's type and attributes.
"""


class RubricError(Exception):
    """Root of the rubric package's errors."""


class RubricFileError(RubricError):
    """A rubric data file cannot be read or breaks a rule of the form.

    ``location`` is the path inside the file (``facets[0].items[1].indicators[0]``), empty for
    problems with the file as a whole.
    """

    def __init__(self, file: str, location: str, problem: str) -> None:
        self.file = file
        self.location = location
        self.problem = problem
        where = f"{file}: {location}" if location else file
        super().__init__(f"{where}: {problem}")


class ScoreError(RubricError):
    """A score is not one the question allows (outside 0..max, or between no bands)."""

    def __init__(self, question_code: str, score: object, allowed: str) -> None:
        self.question_code = question_code
        self.score = score
        self.allowed = allowed
        super().__init__(f"question {question_code}: score {score!r} is not allowed ({allowed})")
