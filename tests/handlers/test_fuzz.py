"""Property-based: random sequences of texts, buttons (valid, stale and forged), files and
commands thrown at every flow. Nothing escapes, every message is answered, stored scores stay
inside their bands, and the state always loads."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlmodel import select

from handlers import texts
from handlers.state import Mode, State
from rubric import check_score, load_year
from storage.models import Answer, ConversationState

RUBRIC = load_year(105)
WORDS = ["填寫自評", "上一題", "/back", "略過", "/skip", "跳到 5", "/goto 2.4", "檢視", "暫停",
         "選單", "說明", "取消", "送出", "確認", "/submit", "我的進度", "進度", "創意提案",
         "提案清單", "年度案例", "審定 規劃課", "總表", "電話測試 規劃課 王 90", "/start",
         "下一題", "重新評分", "完成"]
NASTY = st.sampled_from([
    "", " ", "😀" * 50, "\u202eدرجة\u202c", "<b>85</b>", "'; DROP TABLE answers;--", "８５",
    "85分", "-1", "999", "12.5", "0", "\x00\x07\x1b[31m", "a" * 10_000, "第3題", "跳到 999",
    "電話測試", "審定", "&amp;", "１２０",
])
TEXT = st.one_of(st.sampled_from(WORDS), NASTY, st.text(max_size=60),
                 st.integers(min_value=-5, max_value=130).map(str))


def test_random_sequences_keep_every_invariant(office):
    chat = office.chat("王小明")
    office.add_member("工務同仁", "工務課")
    other = office.chat("工務同仁")
    other.say("填寫自評")  # another section's assessment, for forged tokens to point at
    forged_targets = [c.action for c in other.choices]

    class Chaos(RuleBasedStateMachine):
        """A member who types, presses, forges and uploads at random."""

        @rule(text=TEXT)
        def say(self, text: str) -> None:
            self._answered(chat.say(text))

        @rule(index=st.integers(min_value=0, max_value=20))
        def press(self, index: int) -> None:
            # An index, not a draw from the buttons: the buttons depend on the database,
            # which lives on between examples.
            if chat.choices:
                self._answered(chat.act(chat.choices[index % len(chat.choices)].action))

        @rule(data=st.data())
        def press_stale_or_forged(self, data: st.DataObject) -> None:
            action = data.draw(st.one_of(
                st.sampled_from(forged_targets),
                st.text(alphabet="0123456789:.bskvgrucxzmq", min_size=1, max_size=40)))
            self._answered(chat.act(action))

        @rule(content=st.binary(max_size=2048))
        def upload(self, content: bytes) -> None:
            self._answered(chat.send_file(content or b"x", filename="證據.bin"))

        @rule()
        def days_pass(self) -> None:
            office.clock.set(office.clock.now + timedelta(days=3))

        def _answered(self, replies: list) -> None:
            assert replies, "every message gets a reply"
            assert all(reply.text != texts.ERROR for reply in replies), \
                "no failure hidden behind the apology"

        @invariant()
        def scores_in_bands_and_state_loads(self) -> None:
            with office.database.transaction() as session:
                for answer in session.exec(select(Answer)).all():
                    if answer.self_score is not None:
                        check_score(RUBRIC.question(answer.question_code), answer.self_score)
                for row in session.exec(select(ConversationState)).all():
                    state = State.from_json(row.state)
                    assert state.mode in vars(Mode).values()

    run_state_machine_as_test(Chaos, settings=settings(
        max_examples=12, stateful_step_count=25, deadline=None,
        suppress_health_check=list(HealthCheck)))
