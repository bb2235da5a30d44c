"""Strangers bind their chat identity with an invitation code; groups bind with /bind CODE."""

from __future__ import annotations

import logging

from sqlmodel import col, select

from handlers import texts
from handlers.assessment import desk_menu_choices, main_menu_choices
from handlers.commands import parse_command
from handlers.messages import Outgoing
from handlers.turn import Turn
from rubric import to_halfwidth
from storage.errors import InvitationError, InvitationProblem
from storage.invitations import (
    adopt_display_name,
    check_invitation,
    looks_like_code,
    normalize_code,
    redeem_for_identity,
)
from storage.lockout import Limit, clear_failures, locked_minutes, record_failure, scopes
from storage.models import Agency, ChatBinding, Member, Role, Section
from storage.org import (
    binding_for_chat,
    member_for_identity,
    set_identity_reachable,
    unbind_chat,
)
from storage.outbox import member_destinations, release_held, secretariat_destinations

logger = logging.getLogger(__name__)


def code_in(text: str) -> str | None:
    """The invitation code a stranger typed (``ABCDE-FGHJK`` or ``/start ABCDEFGHJK``)."""
    command = parse_command(text)
    if command is not None and command.name == "start":
        return command.arg
    cleaned = to_halfwidth(text).strip()
    if cleaned.startswith(("綁定", "/bind")):
        cleaned = cleaned.removeprefix("綁定").removeprefix("/bind").strip()
    return cleaned if looks_like_code(cleaned) or len(normalize_code(cleaned)) >= 8 else None


def _limits(turn: Turn) -> dict[str, Limit]:
    incoming = turn.incoming
    return scopes(incoming.channel, incoming.chat_id, incoming.user_id)


def _code_lock_minutes(turn: Turn) -> int | None:
    """Minutes left of a lock after too many wrong codes (this chat, this person or
    overall), or None."""
    return locked_minutes(session=turn.session, limits=_limits(turn), now=turn.now)


def _wrong_code(turn: Turn) -> None:
    """Count a wrong code; say so when it locked a scope."""
    record_failure(session=turn.session, limits=_limits(turn), now=turn.now)
    if _code_lock_minutes(turn) is not None:
        logger.warning("too many wrong invitation codes on %s; code checks paused",
                       turn.incoming.channel)


def _redeem_refused(turn: Turn, refusal: InvitationError) -> None:
    _wrong_code(turn)  # used, expired and revoked codes count too: each is a try
    minutes = _code_lock_minutes(turn)
    if minutes is not None:
        turn.say(texts.TOO_MANY_CODES.format(minutes=minutes))
        return
    turn.say(texts.INVITATION_REFUSED[refusal.reason])


def handle_stranger(turn: Turn) -> None:
    """An unknown chat identity: bind it with a code, or ask for one."""
    text = turn.incoming.text or ""
    code = code_in(text) if text else None
    if code is None:
        turn.say(texts.WELCOME_STRANGER)
        return
    minutes = _code_lock_minutes(turn)
    if minutes is not None:
        turn.say(texts.TOO_MANY_CODES.format(minutes=minutes))
        return
    try:
        member = redeem_for_identity(
            session=turn.session, text=code, channel=turn.incoming.channel,
            platform_user_id=turn.incoming.user_id, display_name=turn.incoming.display_name,
            now=turn.now)
    except InvitationError as refusal:
        _redeem_refused(turn, refusal)
        return
    clear_failures(session=turn.session, limits=_limits(turn))
    turn.member = member
    if member.role in (Role.SECRETARIAT, Role.ADMIN):  # notices held for a secretariat chat
        turn.session.flush()
        release_held(session=turn.session, agency_id=member.agency_id, now=turn.now)
    section = turn.session.get(Section, member.section_id) if member.section_id else None
    agency = turn.session.get(Agency, member.agency_id)
    where = "・".join(x for x in [agency.name if agency else "", section.name if section else "",
                                   texts.ROLE_LABELS[Role(member.role)]] if x)
    # meta: the adapter may now give the member their role's menus (LINE's rich menu,
    # Telegram's commands).
    turn.replies.append(Outgoing(
        f"綁定完成！{member.name}您好。\n您的身分：{where}\n"
        f"每季請依評分表逐題自評，按「{texts.FILL}」開始。", tuple(main_menu_choices(turn)),
        meta={"kind": "member_bound", "role": str(member.role)}))


def handle_group(turn: Turn) -> None:
    """A group chat: only ``/bind CODE`` (綁定 CODE) from a bound secretariat code is handled.

    The bot says nothing to unbound groups' chatter and ignores ordinary talk in bound ones.
    """
    command = parse_command(turn.incoming.text or "")
    if command is None or command.name != "bind" or not command.arg:
        return
    channel, chat_id = turn.incoming.channel, turn.incoming.chat_id
    if binding_for_chat(session=turn.session, channel=channel, chat_id=chat_id) is not None:
        turn.say(texts.GROUP_ALREADY_BOUND)
        return
    minutes = _code_lock_minutes(turn)
    if minutes is not None:
        turn.say(texts.TOO_MANY_CODES.format(minutes=minutes))
        return
    try:
        invitation = check_invitation(session=turn.session, text=command.arg, now=turn.now)
        if invitation.role != Role.SECRETARIAT:
            raise InvitationError(InvitationProblem.UNKNOWN)
    except InvitationError:
        # One answer for every refusal, each counted: a group is no oracle of valid codes.
        _wrong_code(turn)
        minutes = _code_lock_minutes(turn)
        turn.say(texts.TOO_MANY_CODES.format(minutes=minutes) if minutes is not None
                 else texts.GROUP_CODE_REFUSED)
        return
    binder = member_for_identity(session=turn.session, channel=channel,
                                 platform_user_id=turn.incoming.user_id)
    binding = ChatBinding(agency_id=invitation.agency_id, channel=channel, chat_id=chat_id,
                          role=Role.SECRETARIAT, bound_by_member_id=binder.id if binder else None,
                          created_at=turn.now)
    turn.session.add(binding)
    invitation.used_at = turn.now
    turn.session.add(invitation)
    turn.session.flush()
    release_held(session=turn.session, agency_id=invitation.agency_id, now=turn.now)
    agency = turn.session.get(Agency, invitation.agency_id)
    logger.info("group chat bound as secretariat of agency %s", invitation.agency_id)
    bound = texts.GROUP_BOUND.format(agency=agency.name if agency else "")
    suffix = turn.incoming.command_suffix
    # meta: the adapter may now offer this chat the desk's commands (Telegram's chat scope).
    turn.replies.append(Outgoing(f"{bound}\n{texts.commands_only_hint(suffix)}" if suffix
                                 else bound, tuple(desk_menu_choices(turn)),
                                 meta={"kind": "group_bound"}))


def handle_lifecycle(turn: Turn) -> None:
    """The bot was followed, unfollowed, added to or removed from a group."""
    incoming = turn.incoming
    kind = incoming.lifecycle
    if kind == "follow":
        if turn.member is None:
            turn.say(texts.WELCOME_STRANGER)
            return
        set_identity_reachable(session=turn.session, channel=incoming.channel,
                               platform_user_id=incoming.user_id, reachable=True, now=turn.now)
        adopt_display_name(session=turn.session, member=turn.member, channel=incoming.channel,
                           platform_user_id=incoming.user_id,
                           display_name=incoming.display_name)
        turn.say(f"{texts.WELCOME_BACK}{turn.member.name}您好，請選擇功能：",
                 main_menu_choices(turn))
    elif kind == "unfollow":
        set_identity_reachable(session=turn.session, channel=incoming.channel,
                               platform_user_id=incoming.user_id, reachable=False, now=turn.now)
    elif kind == "join":
        if binding_for_chat(session=turn.session, channel=incoming.channel,
                            chat_id=incoming.chat_id) is None:
            turn.say(texts.group_joined(incoming.command_suffix))
    elif kind == "leave":
        binding = unbind_chat(session=turn.session, channel=incoming.channel,
                              chat_id=incoming.chat_id)
        if binding is not None:
            logger.info("group chat unbound: the bot left it")
            label = {"line": " LINE ", "telegram": " Telegram "}.get(incoming.channel, "")
            turn.notify(
                _admins_elsewhere(turn, binding.agency_id),
                Outgoing(texts.GROUP_LEFT_NOTICE.format(channel=label)),
                key=f"left:{incoming.channel}:{incoming.chat_id}:{incoming.event_id}")


def _admins_elsewhere(turn: Turn, agency_id: int) -> list[tuple[str, str]]:
    """Where to tell that the group is gone: other secretariat chats, else the admins and
    secretariat members themselves."""
    found = secretariat_destinations(session=turn.session, agency_id=agency_id)
    admins = turn.session.exec(select(Member).where(
        Member.agency_id == agency_id, Member.role == Role.ADMIN,
        col(Member.active).is_(True))).all()
    for admin in admins:
        assert admin.id is not None
        found += member_destinations(session=turn.session, member_id=admin.id)
    return list(dict.fromkeys(found))
