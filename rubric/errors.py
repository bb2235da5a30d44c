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

    @property
    def summary(self) -> str:
        """What is wrong, in zh-TW for the operator, naming the file and the place in it."""
        words = next((zh for start, zh in _KINDS if self.problem.startswith(start)), None)
        if words is None:
            words = next((zh for part, zh in _RULES if part in self.problem),
                         "不符合評分表的規則（配分加總、級距、等第或欄位內容）")
        where = f"{self.file} 的 {self.location}" if self.location else self.file
        return f"{where}：{words}"

    def for_operator(self) -> str:
        """The zh-TW summary, then the technical detail."""
        return f"{self.summary}（技術細節：{self.problem}）"


_RULES = (
    (" sum to ", "配分加總不符"),
    ("overlaps band", "級距重疊"),
    ("gap between bands", "級距之間有空缺"),
    ("is already used", "代碼重複"),
    ("measure_min", "客觀指標的級距門檻有誤"),
    ("grade", "等第設定有誤"),
)
_KINDS = (
    ("no such file", "找不到這個檔案"),
    ("not UTF-8", "不是 UTF-8 編碼的文字檔"),
    ("cannot be read", "無法讀取"),
    ("invalid YAML", "不是正確的 YAML 格式"),
    ("no rubric for year", "沒有這個年度的評分表"),
    ("the file is named for year", "檔名的年度與檔案內容不符"),
    ("the file must hold a mapping", "內容應為含 year、total、facets 等欄位的對照表"),
)


class ScoreError(RubricError):
    """A score is not one the question allows (outside 0..max, or between no bands)."""

    def __init__(self, question_code: str, score: object, allowed: str) -> None:
        self.question_code = question_code
        self.score = score
        self.allowed = allowed
        super().__init__(f"question {question_code}: score {score!r} is not allowed ({allowed})")
