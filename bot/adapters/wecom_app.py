"""The WeCom (企业微信) self-built app: its callback URL, the checklist as a WeCom conversation, and the
web form's sign-in inside WeCom (OAuth ``snsapi_base``).

Callback URL ``/wecom/callback`` (set in the app's 接收消息 settings, docs/wecom.md):

- ``GET`` with ``msg_signature``, ``timestamp``, ``nonce``, ``echostr``: WeCom checks the URL; the
  echostr is answered decrypted when its signature holds, else 403.
- ``POST``: an encrypted message or event. A wrong signature, or a message for another corp id or
  app: 403. A body that is not WeCom's (not XML, no ``Encrypt``, a truncated ciphertext): 400,
  logged — never a 5xx, which would only make WeCom send it again. A callback already handled
  (the same ``MsgId``, or the same event from the same member at the same time) is dropped: its key
  is in ``wecom_callback``, written in the transaction of the change it makes, so one whose handling
  failed is handled when WeCom repeats it.

Every answer to a member goes out as outbox rows (channel ``wecom_app``, recipient ``w…``, keyed by
the callback: a callback handled twice cannot queue its answers twice), written in the transaction
that commits the change; the outbox's courier sends them at once (``bot.services.outbox``).

The conversation drives the same services as Telegram and the web form (``reports``, ``evidence``,
``problems``): drafts are shared, each answer is saved at once. A member is known by their UserId
(``wecom_identity``): bound by sending ``绑定 CODE`` (the invite code) or recorded by an officer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from sqlalchemy import delete, update
from sqlmodel import Session, select

from bot.adapters import wecom_cards as cards
from bot.adapters.wecom_crypto import BAD_RECEIVER, BAD_SIGNATURE, CryptoError, MsgCrypt
from bot.clock import utcnow
from bot.config import Settings
from bot.flows import AnswerError
from bot.i18n import N_, UserError, normalise_locale, translate
from bot.services import problems, reports, wecom_people
from bot.services.access import AccessDenied
from bot.services.evidence import EvidenceError, EvidenceStore, flag_label
from bot.services.outbox import WECOM_APP
from bot.services.outbox_queue import message_key, queue
from bot.services.wecom_api import WeComApi, WeComError, api_for, oauth_url
from bot.storage.models import OrgUnit, Report, User
from bot.storage.models_wecom import WeComCallback, WeComIdentity

log = logging.getLogger(__name__)

CALLBACK_PATH = "/wecom/callback"
OAUTH_PATH = "/auth/wecom"
JOIN_PATH = "/wecom/join"  # + "/<invite code>": the invite link that opens in WeCom
INVITE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
FOLLOW_UP_TTL = dt.timedelta(minutes=30)
KEEP_CALLBACKS = dt.timedelta(days=7)
BIND = re.compile(r"^\s*(?:绑定|bind)\s*[:：]?\s*(\S+)\s*$", re.IGNORECASE)
REPORT_WORDS = {"填报", "检查", "报告", "月检", "report", "/report"}
CONTINUE_WORDS = {"继续", "continue", "/continue"}
LATER_WORDS = {"稍后", "later", "/later"}
HELP_WORDS = {"帮助", "help", "/help", "?", "？"}
TYPED = ("text", "number", "date")
USER_ERRORS = (UserError, AnswerError, AccessDenied, EvidenceError, wecom_people.WeComBindError)
OUTSIDE = N_("This is outside your area.")
SAFE_NEXT = re.compile(r"^/(?!/)[A-Za-z0-9/_\-.?=&%]*$")

MSG_NOT_BOUND = N_("Welcome to VillageBot. Your WeCom account is not linked yet: send 绑定 followed by your "
                   "invite code, for example 绑定 AbC123, or ask your township to record your WeCom account.")
MSG_BOUND = N_("Linked: {name}. Send 填报 to start this month's checks.")
MSG_HELP = N_("Send 填报 to check your assets, 继续 to see the current question again. Answer with the card's "
              "buttons; type text, numbers and dates; send photos and your location with the + button.")
MSG_LATER = N_("Saved. Your draft waits until the end of the month; send 填报 to continue.")
MSG_PICK = N_("There is no asset with this number. Send 填报 to see the list.")
MSG_NO_ACTIVE = N_("Send 填报 to choose an asset to check.")
MSG_EXPECTED = {
    None: N_("All questions are answered: please review and submit."),
    "photo": N_("A photo is due here: please send a photo, not text."),
    "location": N_("Your location is due here: send it with the + button, or Skip."),
    "other": N_("Please answer with the card's buttons."),
}
MSG_SUBMITTED = N_("Submitted: the {period} check of {asset}. Thank you!")
MSG_PROBLEMS = N_("{count} problem(s) recorded; your township has been told.")
MSG_ACKED = N_("Acknowledged: the township is handling the problem.")
MSG_RESOLVE_NOTE = N_("Reply with a short note on what was done to resolve the problem.")
MSG_RESOLVED = N_("Resolved. Thank you.")
MSG_MEDIA = N_("The photo could not be fetched from WeCom. Please send it again.")
MSG_CHOSEN = N_("Chosen")
MSG_SIGN_IN_REFUSED = N_("This WeCom account is not linked to VillageBot. Send your invite code to the "
                         "VillageBot app in WeCom first.")


# ---------------------------------------------------------------------------------------------- callbacks

def callback_key(msg: dict[str, str]) -> str:
    """The replay key of a callback: its MsgId, else the event's sender, time, kind and key."""
    if msg.get("MsgId"):
        key = f"m|{msg['MsgId']}"
    else:
        key = "e|" + "|".join(msg.get(name, "") for name in ("FromUserName", "CreateTime", "Event", "EventKey",
                                                             "TaskId"))
    return key if len(key) <= 200 else key[:130] + "#" + hashlib.sha256(key.encode()).hexdigest()


def _claim(session: Session, key: str) -> bool:
    """Write the callback's key in the current transaction; False if it was handled already."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (insert(WeComCallback).values(key=key, at=utcnow()).on_conflict_do_nothing(index_elements=["key"])
            .returning(WeComCallback.key))
    return session.execute(stmt).first() is not None


_last_prune: list[float | None] = [None]  # when this process last pruned (time.monotonic())


def _prune(session: Session) -> None:
    """Forget handled callbacks older than ``KEEP_CALLBACKS`` (WeCom repeats one within seconds), at most
    hourly per process, in the caller's transaction."""
    import time

    last = _last_prune[0]
    if last is not None and time.monotonic() - last < 3600:
        return
    _last_prune[0] = time.monotonic()
    session.execute(delete(WeComCallback).where(WeComCallback.at < utcnow() - KEEP_CALLBACKS))


def selected_options(xml: str) -> list[str]:
    """The option ids of a vote card event's ``SelectedItems`` (kept as XML by the parser)."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return []
    return [(node.text or "").strip() for node in root.iter("OptionId") if (node.text or "").strip()]


# ---------------------------------------------------------------------------------------------- a turn

@dataclass
class Turn:
    """One callback being handled: who wrote, in which session, and the answers it queues."""

    session: Session
    settings: Settings
    api: WeComApi | None
    store: EvidenceStore
    userid: str
    key: str
    identity: WeComIdentity | None = None
    user: User | None = None
    out: list[tuple[str, dict]] = field(default_factory=list)
    media: bytes | WeComError | None = None  # an image message's file, fetched before the transaction

    @property
    def locale(self) -> str:
        return normalise_locale(self.user.locale if self.user else "zh_CN")

    def t(self, msgid: str, **params: Any) -> str:
        return translate(self.locale, msgid, **params)

    def error(self, exc: Exception) -> str:
        if isinstance(exc, (UserError, AnswerError)) or hasattr(exc, "msgid"):
            msgid, params = exc.msgid, getattr(exc, "params", {}) or {}
            return translate(self.locale, msgid, **params)
        return self.t(OUTSIDE)

    def say(self, content: str) -> None:
        self.out.append(("wecom-text", cards.text(content)))

    def card(self, payload: dict) -> None:
        self.out.append(("wecom-card" if payload.get("msgtype") == "template_card" else "wecom-text", payload))

    def update_card(self, response_code: str, label: str) -> None:
        if response_code:
            self.out.append(("wecom-update", {"response_code": response_code, **cards.replace(label)}))

    def flush(self) -> None:
        """Queue the answers as outbox rows (in the session's transaction; the caller commits)."""
        county = self._county_id()
        if county is None or not self.out:
            if self.out:
                log.warning("wecom: no county to file the answers to %s under; dropped", self.userid)
            return
        now = utcnow()
        rows = []
        for number, (kind, payload) in enumerate(self.out):
            params: dict[str, Any] = {"to": self.userid}
            if kind == "wecom-update":
                params.update(response_code=payload["response_code"], payload={"button": payload["button"]})
            else:
                params["payload"] = payload
            rows.append({
                "key": message_key(f"w|{self.key}|{number}"), "county_id": county, "kind": kind,
                "step": f"reply-{number}", "subject": f"wecom/{self.userid}"[:100], "item": "wecom", "period": "",
                "role": self.user.role if self.user else "", "scope": "", "channel": WECOM_APP,
                "recipient": f"w{self.userid}"[:32], "recipient_name": (self.user.name if self.user else "")[:100],
                "locale": self.locale, "send_at": now, "urgent": True, "body": [["wecom", params]], "actions": [],
                "collapsed": 0, "status": "pending", "attempts": 0, "next_attempt_at": now, "recovered": 0,
                "created_at": now})
        queue(self.session, rows)

    def _county_id(self) -> int | None:
        unit = self.session.get(OrgUnit, self.user.org_unit_id) if self.user and self.user.org_unit_id else None
        if unit is not None:
            return int(unit.path.strip("/").split("/")[0])
        first = self.session.exec(select(OrgUnit.id).where(OrgUnit.level == "county").order_by(OrgUnit.id)).first()
        return first


# ---------------------------------------------------------------------------------------------- handling

def handle(engine, settings: Settings, api: WeComApi | None, store: EvidenceStore, msg: dict[str, str]) -> str:
    """Handle one decrypted callback (in a worker thread); return 'done', 'replay' or 'ignored'."""
    userid = msg.get("FromUserName", "")
    if not userid:
        return "ignored"
    key = callback_key(msg)
    media: bytes | WeComError | None = None
    if msg.get("MsgType") == "image" and msg.get("MediaId") and api is not None:
        # Fetched before the transaction starts: no database lock is held during a download.
        with Session(engine) as session:
            if session.get(WeComCallback, key) is not None:
                log.info("wecom: callback %s already handled; dropped", key)
                return "replay"
        try:
            media = api.media(msg["MediaId"])  # the evidence store refuses one too large, with its reason
        except WeComError as exc:
            media = exc
    with Session(engine) as session:
        if not _claim(session, key):
            session.rollback()
            log.info("wecom: callback %s already handled; dropped", key)
            return "replay"
        turn = Turn(session, settings, api, store, userid, key, media=media)
        try:
            _dispatch(turn, msg)
        except USER_ERRORS as exc:
            session.rollback()
            turn.say(turn.error(exc))
        _claim(session, key)  # again: a refused answer rolled the first one back
        _prune(session)
        turn.flush()
        session.commit()
    return "done"


def _dispatch(turn: Turn, msg: dict[str, str]) -> None:
    kind = msg.get("MsgType", "")
    event = msg.get("Event", "")
    if kind == "event" and event not in ("template_card_event",):
        return  # entering the app, location reports, menu views: nothing to answer
    content = (msg.get("Content") or "").strip() if kind == "text" else ""
    bind = BIND.match(content) if content else None
    identity = wecom_people.identity_of(turn.session, turn.userid)
    if bind and INVITE.fullmatch(bind.group(1)):
        user = wecom_people.bind_by_invite(turn.session, bind.group(1), turn.userid)
        turn.session.commit()
        turn.user, turn.identity = user, wecom_people.identity_of(turn.session, turn.userid)
        turn.say(turn.t(MSG_BOUND, name=user.name))
        return
    if identity is None or bind:
        turn.say(turn.t(MSG_NOT_BOUND) if identity is None else turn.t(N_(
            "This invite code is not valid. Ask your township for a new one.")))
        return
    if identity.bound_at is None:
        wecom_people.first_contact(turn.session, identity)
        turn.session.commit()
    user = turn.session.get(User, identity.user_id)
    if user is None or not user.active:
        turn.say(translate("zh_CN", MSG_NOT_BOUND))
        return
    turn.identity, turn.user = identity, user
    if kind == "event":
        _on_card_event(turn, msg)
    elif kind == "text":
        _on_text(turn, content)
    elif kind == "image":
        _on_image(turn, msg)
    elif kind == "location":
        _on_location(turn, msg)
    else:
        turn.say(turn.t(MSG_HELP))


def _activate(turn: Turn, report_id: int | None) -> None:
    identity = turn.identity
    if identity.active_report_id != report_id:
        turn.session.execute(update(WeComIdentity).where(WeComIdentity.id == identity.id)
                             .values(active_report_id=report_id))
        identity.active_report_id = report_id


def ask(turn: Turn, report: Report, note: str | None = None) -> None:
    """Queue the card of the report's current question."""
    turn.card(cards.question(turn.locale, report.id, reports.subject_name(turn.session, report),
                             reports.walker_for(report), note))


def _refuse(turn: Turn, report_id: int, exc: Exception) -> None:
    """Roll back, then show the same question again with the reason."""
    turn.session.rollback()
    turn.session.expire_all()
    report = turn.session.get(Report, report_id)
    ask(turn, report, note="❗ " + turn.error(exc))


def _active_report(turn: Turn) -> Report | None:
    rid = turn.identity.active_report_id
    report = turn.session.get(Report, rid) if rid else None
    if report is None or report.status != "draft" or not report.current:
        if rid:
            _activate(turn, None)
        return None
    return report


def _overview(turn: Turn) -> None:
    period = reports.current_period(tz=turn.settings.tz)
    items = reports.month_overview(turn.session, turn.user, period)
    for payload in cards.overview(turn.locale, period, items):
        turn.card(payload)


def _start(turn: Turn, asset_id: int) -> None:
    report = reports.start_or_resume(turn.session, turn.user, asset_id, channel="wecom")
    _activate(turn, report.id)
    ask(turn, report)


def _take_follow_up(turn: Turn) -> tuple[str, Any] | None:
    pending = turn.identity.follow_up
    if not pending:
        return None
    turn.session.execute(update(WeComIdentity).where(WeComIdentity.id == turn.identity.id).values(follow_up=None))
    turn.identity.follow_up = None
    if str(pending.get("until", "")) < utcnow().isoformat():
        return None
    return pending.get("kind"), pending.get("argument")


def _on_text(turn: Turn, content: str) -> None:
    pending = _take_follow_up(turn)
    if pending and pending[0] == "resolve":
        problems.resolve(turn.session, turn.user, int(pending[1]), content)
        turn.session.commit()
        turn.say(turn.t(MSG_RESOLVED))
        return
    lowered = content.lower()
    if lowered in REPORT_WORDS:  # the list: a number sent next picks an asset (the draft stays saved)
        _activate(turn, None)
        _overview(turn)
        return
    if lowered in LATER_WORDS:
        _activate(turn, None)
        turn.say(turn.t(MSG_LATER))
        return
    if lowered in HELP_WORDS:
        turn.say(turn.t(MSG_HELP))
        return
    report = _active_report(turn)
    if lowered in CONTINUE_WORDS:
        if report is None:
            turn.say(turn.t(MSG_NO_ACTIVE))
        else:
            ask(turn, report)
        return
    if report is None:
        if content.isdigit():
            items = reports.month_overview(turn.session, turn.user, reports.current_period(tz=turn.settings.tz))
            number = int(content)
            if 1 <= number <= len(items):
                _start(turn, items[number - 1].asset.id)
                return
            turn.say(turn.t(MSG_PICK))
            return
        turn.say(turn.t(MSG_NO_ACTIVE))
        return
    q = reports.walker_for(report).current()
    if q is None or q.type not in TYPED:
        ask(turn, report, note="❗ " + turn.t(_expected(q)))
        return
    _answer(turn, report.id, q.key, content)


def _expected(q) -> str:
    if q is None:
        return MSG_EXPECTED[None]
    return MSG_EXPECTED.get(q.type, MSG_EXPECTED["other"])


def _answer(turn: Turn, report_id: int, key: str, raw: Any) -> None:
    try:
        report, _ = reports.answer(turn.session, turn.user, report_id, key, raw)
    except (AnswerError, UserError) as exc:
        _refuse(turn, report_id, exc)
        return
    ask(turn, report)


def _current_of(turn: Turn, kind: str) -> tuple[Report | None, Any]:
    report = _active_report(turn)
    if report is None:
        turn.say(turn.t(MSG_NO_ACTIVE))
        return None, None
    q = reports.walker_for(report).current()
    if q is None or q.type != kind:
        ask(turn, report, note="❗ " + turn.t(_expected(q)))
        return None, None
    return report, q


def _on_image(turn: Turn, msg: dict[str, str]) -> None:
    report, q = _current_of(turn, "photo")
    if report is None:
        return
    data = turn.media
    if not isinstance(data, bytes):
        log.warning("wecom: media/get of %s failed: %s", msg.get("MediaId", ""), data)
        ask(turn, report, note="❗ " + turn.t(MSG_MEDIA))
        return
    try:
        report, _, flags = reports.add_photo(turn.session, turn.user, report.id, q.key, data, turn.store)
    except (AnswerError, UserError, EvidenceError) as exc:
        _refuse(turn, report.id, exc)
        return
    note = "\n".join("⚠ " + flag_label(turn.locale, f) for f in flags) or None
    ask(turn, report, note=note)


def _on_location(turn: Turn, msg: dict[str, str]) -> None:
    report, q = _current_of(turn, "location")
    if report is None:
        return
    try:
        lat, lon = float(msg.get("Location_X", "")), float(msg.get("Location_Y", ""))
    except ValueError:
        ask(turn, report, note="❗ " + turn.t(_expected(q)))
        return
    _answer(turn, report.id, q.key, {"lat": lat, "lon": lon})


# --- card events -------------------------------------------------------------------------------

_STEPS = {"back": (reports.back, False), "skip": (reports.skip, True), "done": (reports.done, True)}


def _on_card_event(turn: Turn, msg: dict[str, str]) -> None:
    key = msg.get("EventKey", "")
    code = msg.get("ResponseCode", "")
    head, _, rest = key.partition(":")
    try:
        if head == "a":
            turn.update_card(code, turn.t(MSG_CHOSEN))
            _start(turn, int(rest))
        elif head == "v":
            rid, q_key, option = rest.split(":", 2)
            _card_answer(turn, code, int(rid), q_key, option)
        elif head == "m":
            rid, _, q_key = rest.partition(":")
            chosen = selected_options(msg.get("SelectedItems", "<SelectedItems/>"))
            _card_vote(turn, code, int(rid), q_key, chosen)
        elif head == "n":
            _navigate(turn, code, rest)
        elif head == "pb":
            _problem(turn, code, rest)
        else:
            raise AccessDenied(OUTSIDE)
    except ValueError as exc:  # malformed or forged keys
        if hasattr(exc, "msgid"):
            raise
        raise AccessDenied(OUTSIDE) from None


def _label_of(report: Report, q_key: str, option: str, locale: str) -> str:
    question = reports.walker_for(report).form.question(q_key)
    found = question.option(option) if question is not None else None
    return translate(locale, found.label) if found else option


def _card_answer(turn: Turn, code: str, rid: int, q_key: str, option: str) -> None:
    try:
        report, _ = reports.answer(turn.session, turn.user, rid, q_key, option)
    except AnswerError as exc:
        _refuse(turn, rid, exc)
        return
    _activate(turn, report.id)
    turn.update_card(code, _label_of(report, q_key, option, turn.locale))
    ask(turn, report)


def _card_vote(turn: Turn, code: str, rid: int, q_key: str, chosen: list[str]) -> None:
    walker_report = turn.session.get(Report, rid)
    reports.require_subject(turn.session, turn.user, "report.view", walker_report)
    question = reports.walker_for(walker_report).form.question(q_key)
    try:
        if question is not None and question.type == "multi":
            if chosen:
                report, _ = reports.answer(turn.session, turn.user, rid, q_key, chosen)
            else:
                report, _ = reports.done(turn.session, turn.user, rid, q_key)
        else:
            if len(chosen) != 1:
                raise AnswerError(N_("Please choose one option."), key=q_key)
            report, _ = reports.answer(turn.session, turn.user, rid, q_key, chosen[0])
    except AnswerError as exc:
        _refuse(turn, rid, exc)
        return
    _activate(turn, report.id)
    turn.update_card(code, translate(turn.locale, N_("Done")))
    ask(turn, report)


def _navigate(turn: Turn, code: str, rest: str) -> None:
    rid_text, _, tail = rest.partition(":")
    action, _, q_key = tail.partition(":")
    rid = int(rid_text)
    if action in _STEPS:
        service, keyed = _STEPS[action]
        try:
            report, _ = service(turn.session, turn.user, rid, q_key) if keyed else service(turn.session, turn.user,
                                                                                            rid)
        except AnswerError as exc:
            _refuse(turn, rid, exc)
            return
        _activate(turn, report.id)
        turn.update_card(code, turn.t(MSG_CHOSEN))
        ask(turn, report)
        return
    report = turn.session.get(Report, rid)
    reports.require_subject(turn.session, turn.user, "report.view", report)
    if action == "later":
        _activate(turn, None)
        turn.update_card(code, turn.t(N_("Later")))
        turn.say(turn.t(MSG_LATER))
    elif action == "resume":
        _activate(turn, report.id)
        ask(turn, report)
    elif action == "confirm":
        result = reports.submit(turn.session, turn.user, rid)  # writes the township's alerts with the submission
        _activate(turn, None)
        turn.update_card(code, turn.t(N_("Submit")))
        lines = [turn.t(MSG_SUBMITTED, period=result.report.period,
                        asset=reports.subject_name(turn.session, result.report))]
        if result.problems:
            lines.append(turn.t(MSG_PROBLEMS, count=len(result.problems)))
        lines += ["⚠ " + flag_label(turn.locale, flag) for flag in result.report.flags or []
                  if isinstance(flag, dict) and flag.get("question_key")]
        turn.say("\n".join(lines))
    else:
        raise AccessDenied(OUTSIDE)


def _problem(turn: Turn, code: str, rest: str) -> None:
    action, _, problem_id = rest.partition(":")
    pid = int(problem_id)
    if action == "ack":
        problems.acknowledge(turn.session, turn.user, pid)
        turn.session.commit()
        turn.update_card(code, turn.t(N_("Acknowledge")))
        turn.say(turn.t(MSG_ACKED))
    elif action == "res":
        until = (utcnow() + FOLLOW_UP_TTL).isoformat()
        turn.session.execute(update(WeComIdentity).where(WeComIdentity.id == turn.identity.id)
                             .values(follow_up={"kind": "resolve", "argument": pid, "until": until}))
        turn.say(turn.t(MSG_RESOLVE_NOTE))
    else:
        raise AccessDenied(OUTSIDE)


# ---------------------------------------------------------------------------------------------- routes

def crypt_for(settings: Settings) -> MsgCrypt | None:
    """The callback crypto of the configured app, or None."""
    if not settings.wecom_enabled:
        return None
    return MsgCrypt(settings.wecom_token, settings.wecom_encoding_aes_key, settings.wecom_corp_id)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the callback URL and the OAuth sign-in (404 while the WeCom app is not configured)."""
    store = EvidenceStore.from_settings(settings)

    @app.get(CALLBACK_PATH, include_in_schema=False)
    def wecom_verify(msg_signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = ""):
        crypt = crypt_for(settings)
        if crypt is None:
            return PlainTextResponse("", status_code=404)
        try:
            return PlainTextResponse(crypt.verify_url(msg_signature, timestamp, nonce, echostr))
        except CryptoError as exc:
            log.warning("wecom: URL verification refused (%s)", exc)
            return PlainTextResponse("", status_code=403 if exc.code == BAD_SIGNATURE else 400)

    @app.post(CALLBACK_PATH, include_in_schema=False)
    async def wecom_callback(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = ""):
        crypt = crypt_for(settings)
        if crypt is None:
            return PlainTextResponse("", status_code=404)
        body = await request.body()
        try:
            msg = crypt.decrypt_body(msg_signature, timestamp, nonce, body)
        except CryptoError as exc:
            log.warning("wecom: callback refused (%s; %d bytes)", exc, len(body))
            forged = exc.code in (BAD_SIGNATURE, BAD_RECEIVER)
            return PlainTextResponse("", status_code=403 if forged else 400)
        if msg.get("ToUserName", settings.wecom_corp_id) != settings.wecom_corp_id or \
                msg.get("AgentID", settings.wecom_agent_id) not in (settings.wecom_agent_id, ""):
            log.warning("wecom: callback for corp %s agent %s refused", msg.get("ToUserName"), msg.get("AgentID"))
            return PlainTextResponse("", status_code=403)
        try:
            await asyncio.to_thread(handle, engine, settings, api_for(settings), store, msg)
        except Exception:  # noqa: BLE001 - logged; WeCom repeats the callback and it is handled then
            log.exception("wecom: callback %s failed", callback_key(msg))
            return PlainTextResponse("", status_code=503)
        return PlainTextResponse("")

    @app.get(JOIN_PATH + "/{invite}", include_in_schema=False)
    def wecom_join(invite: str):
        """An invite link opened in WeCom (a QR code scanned with WeCom): WeCom's silent sign-in, then
        the member is bound to the invite's user and lands on their home page."""
        from urllib.parse import quote

        from bot.web.common import WebError

        if api_for(settings) is None or not INVITE.fullmatch(invite):
            raise WebError(404, N_("The WeCom app is not set up on this installation."))
        back = f"{settings.public_url}{OAUTH_PATH}?next=%2Fhome&invite={quote(invite, safe='')}"
        return RedirectResponse(oauth_url(settings, back), status_code=303)

    @app.get(OAUTH_PATH, include_in_schema=False)
    def wecom_sign_in(request: Request, code: str = "", next: str = "/home", invite: str = ""):
        """The web form opened inside WeCom: without ``code``, off to WeCom's silent sign-in; with it,
        the member's UserId (auth/getuserinfo) opens a session for the bound user (bound first to the
        ``invite``'s user when it comes from an invite link)."""
        from bot.web.common import WebError, set_session_cookie

        api = api_for(settings)
        if api is None:
            raise WebError(404, N_("The WeCom app is not set up on this installation."))
        target = next if SAFE_NEXT.fullmatch(next or "") else "/home"
        if not code:
            from urllib.parse import quote

            back = f"{settings.public_url}{OAUTH_PATH}?next={quote(target, safe='')}"
            return RedirectResponse(oauth_url(settings, back), status_code=303)
        try:
            userid = api.user_of_code(code)
        except WeComError as exc:
            log.info("wecom: OAuth code refused (%s)", exc)
            raise WebError(403, MSG_SIGN_IN_REFUSED) from None
        with Session(engine) as session:
            if invite and INVITE.fullmatch(invite):
                try:
                    wecom_people.bind_by_invite(session, invite, userid)
                    session.commit()
                except wecom_people.WeComBindError as exc:
                    session.rollback()
                    raise WebError(403, exc.msgid) from None
            identity = wecom_people.identity_of(session, userid)
            if identity is not None and identity.bound_at is None:
                wecom_people.first_contact(session, identity)
            user = session.get(User, identity.user_id) if identity is not None else None
            if user is None or not user.active:
                session.rollback()
                raise WebError(403, MSG_SIGN_IN_REFUSED)
            response = RedirectResponse(target, status_code=303)
            set_session_cookie(request, response, session, user, via="wecom")
            session.commit()
        return response
