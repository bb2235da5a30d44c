"""Conversation state: where one chat identity is, kept as versioned JSON in the database.

Readers must accept older and newer documents: unknown keys are ignored, missing keys take
their defaults, so a later version of sqbot can read what this one wrote and vice versa.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1


class Mode:
    """What the next message of the user is taken to be."""

    IDLE = "idle"  # at the menu
    QUESTION = "question"  # a score (or a band pick) for ``question``
    BAND = "band"  # a score inside band ``band`` of ``question``
    MEASURE = "measure"  # the objective measure of ``question``
    EVIDENCE = "evidence"  # read as QUESTION with ``evidence_for`` (an older sqbot wrote it)
    CONFIRM_SUBMIT = "confirm_submit"  # 確認 or 取消
    VERIFY = "verify"  # the secretariat's verified score for ``question``
    VERIFY_NOTES = "verify_notes"  # 優點、建議改進事項 before the verification is locked
    RETURN_REASON = "return_reason"  # why the assessment goes back to the section
    PROPOSAL_FIELD = "proposal_field"  # text (or a file) for ``proposal_field`` of a proposal
    PROPOSAL_MORE = "proposal_more"  # numbers added to ``proposal_field`` (quantified data)
    PROPOSAL_REVIEW = "proposal_review"  # the whole proposal shown: 送出提案 or 修改內容
    PROPOSAL_DECISION = "proposal_decision"  # the secretariat's reason, URL or request
    CASE_TEXT = "case_text"  # the text of a report case under ``case_heading`` (0: 檢討)
    CASE_FIGURES = "case_figures"  # the numbers of report case ``case_id`` (may be skipped)
    DIALOG = "dialog"  # a dialog declared for the engine is on top (``dialog`` says which)


@dataclass
class State:
    """The state document of one chat identity."""

    step: int = 0
    mode: str = Mode.IDLE
    assessment_id: int | None = None
    question: str | None = None
    band: int | None = None
    measure: float | None = None
    proposal_id: int | None = None  # the proposal being written or decided
    proposal_field: str | None = None  # its field being asked, or the decision being taken
    proposal_mark: str | None = None  # the proposal's state when a decision was started
    case_heading: int | None = None  # the report heading a case is being written for
    case_id: int | None = None  # the report case whose numbers are asked
    evidence_for: str | None = None  # the question just answered: evidence goes to it
    dialog: dict[str, Any] | None = None  # the engine's document of the dialog on top
    drawn: list[list[str]] = field(default_factory=list)  # [label, action] last drawn

    def to_json(self) -> dict[str, Any]:
        """The JSON document, with its schema version."""
        return {"v": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, document: dict[str, Any] | None) -> State:
        """Read a document written by this or another version of sqbot."""
        if not document:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in document.items() if key in known}
        state = cls(**values)
        if not isinstance(state.step, int) or state.step < 0:
            state.step = 0
        if state.mode not in vars(Mode).values():
            state.mode = Mode.IDLE
        if not isinstance(state.dialog, dict):
            state.dialog = None
        if state.mode == Mode.DIALOG and state.dialog is None:
            state.mode = Mode.IDLE
        if not isinstance(state.evidence_for, str):
            state.evidence_for = None
        if state.mode in (Mode.CASE_TEXT, Mode.CASE_FIGURES):  # before 年度案例 was a dialog
            window = "write" if state.mode == Mode.CASE_TEXT else "figures"
            state.mode, state.dialog = Mode.DIALOG, {
                "name": "cases", "window": window, "leaving": None,
                "data": {"heading": state.case_heading, "case_id": state.case_id}}
        if state.mode == Mode.PROPOSAL_DECISION:  # before the decision was a dialog
            state.mode, state.dialog = Mode.DIALOG, {
                "name": "decide", "window": "note", "leaving": None,
                "data": {"proposal_id": state.proposal_id, "mark": state.proposal_mark,
                         "decision": state.proposal_field}}
        if state.mode in (Mode.PROPOSAL_FIELD, Mode.PROPOSAL_MORE, Mode.PROPOSAL_REVIEW):
            # before writing a proposal was a dialog
            window = {Mode.PROPOSAL_FIELD: "field", Mode.PROPOSAL_MORE: "more"}.get(
                state.mode, "review")
            state.mode, state.dialog = Mode.DIALOG, {
                "name": "propose", "window": window, "leaving": None,
                "data": {"proposal_id": state.proposal_id,
                         "field": state.proposal_field if window != "review" else None}}
        if state.mode == Mode.EVIDENCE:  # written before the score moved on by itself
            state.mode, state.evidence_for = Mode.QUESTION, state.question
        state._migrate_assessment()
        if not isinstance(state.drawn, list) or not all(
                isinstance(pair, list) and len(pair) == 2
                and all(isinstance(part, str) for part in pair) for pair in state.drawn):
            state.drawn = []
        return state

    def _migrate_assessment(self) -> None:
        """A document written before the self-assessment was a dialog reopens it."""
        window = {Mode.QUESTION: "question", Mode.BAND: "band", Mode.MEASURE: "measure",
                  Mode.CONFIRM_SUBMIT: "confirm"}.get(self.mode)
        if window is None and self.mode == Mode.IDLE and self.evidence_for:
            window = "review"  # at the review, evidence still went to the last answer
        if window is None:
            return
        if not isinstance(self.assessment_id, int) or (
                window in ("question", "band", "measure") and not isinstance(self.question, str)):
            self.mode = Mode.IDLE
            return
        if window == "band" and not isinstance(self.band, int):
            window = "question"
        if window == "measure" and self.measure is not None:
            window = "band" if isinstance(self.band, int) else "question"
        if window == "question" and self.measure is not None:
            window = "low"  # a measured figure below every band, 0 suggested
        code = self.question if window in ("question", "band", "measure", "low") else None
        self.mode, self.dialog = Mode.DIALOG, {
            "name": "assess", "window": window, "leaving": None,
            "data": {"assessment_id": self.assessment_id, "code": code,
                     "band": self.band if window == "band" else None,
                     "measure": self.measure if window in ("band", "low") else None,
                     "evidence_for": self.evidence_for}}
        self.band = self.measure = None
        self.evidence_for = None
        self.drawn = []  # the old buttons' tokens name no widget: their labels are commands

    def open_dialog(self, document: dict[str, Any]) -> None:
        """A dialog of the engine is on top (its document as the engine writes it)."""
        self.mode = Mode.DIALOG
        self.dialog = document
        self.band = None
        self.measure = None

    def close_dialog(self) -> None:
        """No dialog of the engine is on top any more."""
        self.dialog = None
        if self.mode == Mode.DIALOG:
            self.mode = Mode.IDLE

    def record_drawn(self, choices: list[tuple[str, str]]) -> None:
        """The buttons just drawn: a typed label of one of them is its press."""
        self.drawn = [[label, action] for label, action in choices]

    def drawn_choices(self) -> list[tuple[str, str]]:
        """``(label, action)`` of the buttons last drawn."""
        return [(label, action) for label, action in self.drawn]

    def at_question(self, assessment_id: int, code: str, mode: str = Mode.QUESTION) -> None:
        """Move to ``code`` of ``assessment_id`` in ``mode``."""
        self.dialog = None
        self.assessment_id = assessment_id
        self.question = code
        self.mode = mode
        self.band = None
        self.measure = None

    def to_menu(self) -> None:
        """Back to the menu, remembering the assessment and question to resume at."""
        self.dialog = None
        self.evidence_for = None
        self.mode = Mode.IDLE
        self.band = None
        self.measure = None
