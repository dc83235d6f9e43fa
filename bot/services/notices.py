"""Event notices: the messages a change causes, written to the outbox in the change's own transaction.

The services call these functions just before they commit (``reports.submit``, ``review.send_back``,
``cycle.send_back``, ``problem_list.decide``, the creation of a villager's report); nothing here
sends anything. Each notice becomes one ``OutboxMessage`` per recipient route, which the outbox
delivers like a reminder: claimed once, retried, forwarded up the chain when a route is dead.

Who receives a notice:

- a person with a bound, reachable Telegram account: a Telegram message with its buttons;
- for notices to a township (serious problems, villagers' reports, the county's decisions): also
  each of the township's WeCom / DingTalk group robots (text, with web links instead of buttons);
- nobody reachable at all: the message is still written to the people it is for, so that
  delivery finds them unreachable and forwards it to the next level up (as for reminders).

Keys start with ``n|`` (``outbox.NOTICE_PREFIX``): ``n|<subject>|<step>|<recipient>/<channel>``, so
a notice is written once per event. A serious problem's alert also records ``ProblemEvent('alerted')``:
the planner then never repeats it (it only escalates to the county if nobody acknowledges).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.i18n import N_, normalise_locale
from bot.services import audit, cycle_forms, wecom_people
from bot.services.outbox_queue import NOTICE_PREFIX, message_key, queue
from bot.services.users import leaders_of, telegram_chats
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, Report, User
from bot.storage.models_schedule import ChannelRoute

log = logging.getLogger(__name__)

ALERT = N_("⚠ Serious problem at {asset} ({village}): {problem}. Reported by {who}.")
SIGN_OFF_WAITING = N_("A report waits for your sign-off before it goes up: {title}")
SIGN_OFF_TITLE = N_("Sign off: {form} · {subject} · {period}")
SENT_BACK_TOWNSHIP = N_("Your township sent back the {period} check of {asset}: {reason}\n"
                        "Your answers are kept; correct them and submit again.")
SENT_BACK_SUPERVISOR = N_("Your village supervisor sent back {form} of {subject} for {period}: {reason}\n"
                          "Your answers are kept; correct them and submit again.")
DECIDED = N_("The county decided on the problem at {asset} ({village}): {decision}")
VILLAGER = N_("A villager reported a problem at {asset} ({village}): {text}")
ESCALATED = N_("{township} hands up the problem at {asset} ({village}) for the county's decision. "
               "Proposal: {proposal}")
SERIOUS_ITEM = "serious_problem"  # the planner's item of serious problems (bot.policy.alerts.ITEM)
ITEM = "notice"


def _code(unit: OrgUnit) -> str:
    """The planner's scope code of a unit (administrative code, or ``#<id>``)."""
    return unit.code or f"#{unit.id}"


def _county_id(unit: OrgUnit) -> int:
    return int(unit.path.strip("/").split("/")[0])


def _township(session: Session, village: OrgUnit) -> OrgUnit:
    parent = session.get(OrgUnit, village.parent_id) if village.parent_id else None
    return parent if parent is not None and parent.level == "township" else village


def _translatable(msgid: str, **params: object) -> dict:
    """A body parameter translated into each recipient's language when the message is composed."""
    return {"_t": msgid, "p": params}


def _routes(session: Session, people: list[User], township: OrgUnit | None,
            forward_when_nobody: bool = True) -> list[tuple[str, str, str, str]]:
    """Return (recipient, channel, name, locale) of every reachable route to ``people`` (and the
    township's group robots, if given). When none is reachable, the people themselves, so that
    delivery forwards the message up the chain (unless ``forward_when_nobody`` is False)."""
    chats = telegram_chats(session, [p.id for p in people])
    found = [(f"u{p.id}", "telegram", p.name, normalise_locale(p.locale)) for p in people if p.id in chats]
    in_wecom = wecom_people.members(session, [p.id for p in people])  # the WeCom app, for those who have it
    found += [(f"u{p.id}", "wecom_app", p.name, normalise_locale(p.locale)) for p in people if p.id in in_wecom]
    if township is not None:
        robots = session.exec(select(ChannelRoute).where(ChannelRoute.org_unit_id == township.id,
                                                         col(ChannelRoute.reachable).is_(True))
                              .order_by(ChannelRoute.id)).all()
        found += [(f"r{r.id}", r.kind, r.name, "zh_CN") for r in robots]
    if not found and forward_when_nobody:
        found = [(f"u{p.id}", "telegram", p.name, normalise_locale(p.locale)) for p in people]
    return found


def _write(session: Session, *, unit: OrgUnit, kind: str, step: str, subject: str, item: str, period: str,
           role: str, routes: list[tuple[str, str, str, str]], body: list, actions: list[str],
           now: dt.datetime, urgent: bool = False, actor: audit.Actor = audit.SYSTEM) -> int:
    """Queue one notice to every route (audited); return how many rows were written."""
    if not routes:
        log.warning("notice %s %s: nobody to tell at %s", subject, step, unit.name)
        return 0
    rows = [{
        "key": message_key(f"{NOTICE_PREFIX}{subject}|{step}|{person}/{channel}"), "county_id": _county_id(unit),
        "kind": kind, "step": step, "subject": subject, "item": item, "period": period, "role": role,
        "scope": _code(unit), "channel": channel, "recipient": person, "recipient_name": name[:100],
        "locale": locale, "send_at": now, "urgent": urgent, "body": body, "actions": actions, "collapsed": 0,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "recovered": 0, "created_at": utcnow(),
    } for person, channel, name, locale in routes]
    written = queue(session, rows)
    audit.record(session, actor, "notice.queue", "outbox_message", subject, None,
                 {"notice": step, "recipients": [f"{person}/{channel}" for person, channel, _, _ in routes]})
    return written


def _problem_params(session: Session, problem: Problem) -> tuple[Asset, OrgUnit, dict]:
    asset = session.get(Asset, problem.asset_id)
    village = session.get(OrgUnit, asset.village_id)
    return asset, village, {"asset": asset.name, "village": village.name}


# ---------------------------------------------------------------------------------------------- notices

def report_submitted(session: Session, user: User, report: Report, problems: list[Problem],
                     now: dt.datetime | None = None) -> int:
    """The notices of a submission: the township's alert on each new serious problem, and the
    village supervisors' "a report waits for your sign-off". Return how many rows were written."""
    now = now or utcnow()
    written = serious_problems(session, [p for p in problems if p.severity == "serious"], reporter=user, now=now)
    if cycle_forms.needs_sign_off(report):
        written += sign_off_waiting(session, report, cycle_forms.supervisors_of(session, report), now=now)
    return written


def serious_problems(session: Session, problems: list[Problem], *, reporter: User | None,
                     now: dt.datetime | None = None) -> int:
    """Alert the village's township at once of serious problems, with Acknowledge / Resolve; each
    alerted problem gets ``ProblemEvent('alerted')`` so the planner never repeats the alert."""
    now = now or utcnow()
    written = 0
    for problem in problems:
        _, village, params = _problem_params(session, problem)
        township = _township(session, village)
        routes = _routes(session, leaders_of(session, village), township)
        label = _translatable(problem.description) if problem.description else problem.kind
        body = [[ALERT, {**params, "problem": label, "who": reporter.name if reporter else "-"}]]
        count = _write(session, unit=township, kind="alert", step="alert-now", subject=f"problem/{problem.id}",
                       item=SERIOUS_ITEM, period=str(problem.id), role="township_leader", routes=routes, body=body,
                       actions=[f"acknowledge:{problem.id}", f"resolve:{problem.id}"], now=now, urgent=True)
        if routes:
            session.add(ProblemEvent(problem_id=problem.id, at=now, action="alerted",
                                     note=f"outbox: {', '.join(f'{p}/{c}' for p, c, _, _ in routes)}"[:500]))
        written += count
    return written


def sign_off_waiting(session: Session, report: Report, supervisors: list[User],
                     now: dt.datetime | None = None) -> int:
    """Tell the village supervisors that a submitted report waits for their sign-off (with its button)."""
    now = now or utcnow()
    unit = session.get(OrgUnit, report.org_unit_id)
    from bot.flows import load_form

    title = _translatable(SIGN_OFF_TITLE, form=_translatable(load_form(report.form_id).title),
                          subject=_subject_name(session, report), period=report.period)
    return _write(session, unit=unit, kind="notice", step=f"sign-off-v{report.version}", subject=f"report/{report.id}",
                  item=ITEM, period=report.period, role="village_supervisor",
                  routes=_routes(session, supervisors, None), body=[[SIGN_OFF_WAITING, {"title": title}]],
                  actions=[f"sign_off:{report.id}"], now=now)


def sent_back(session: Session, new: Report, reason: str, *, by: str, actor: audit.Actor = audit.SYSTEM,
              now: dt.datetime | None = None) -> int:
    """Tell the cadre who submitted a report that it was sent back (``by`` 'township' or 'supervisor'),
    with a button that reopens exactly the new version. A township's send-back is not forwarded to the
    township itself when the cadre cannot be reached."""
    now = now or utcnow()
    cadre_id = new.created_by
    cadre = session.get(User, cadre_id) if cadre_id else None
    if cadre is None or not cadre.active:
        return 0
    subject = _subject_name(session, new)
    if by == "township":
        body = [[SENT_BACK_TOWNSHIP, {"period": new.period, "asset": subject, "reason": reason}]]
    else:
        from bot.flows import load_form

        body = [[SENT_BACK_SUPERVISOR, {"form": _translatable(load_form(new.form_id).title), "subject": subject,
                                        "period": new.period, "reason": reason}]]
    unit = session.get(OrgUnit, new.org_unit_id) if new.org_unit_id else None
    if unit is None and new.asset_id is not None:
        unit = session.get(OrgUnit, session.get(Asset, new.asset_id).village_id)
    routes = _routes(session, [cadre], None, forward_when_nobody=by != "township")
    return _write(session, unit=unit, kind="notice", step="sent-back", subject=f"report/{new.id}", item=ITEM,
                  period=new.period, role=cadre.role, routes=routes, body=body, actions=[f"reopen:{new.id}"],
                  now=now, actor=actor)


def problem_decided(session: Session, problem: Problem, decision: str, *, actor: audit.Actor = audit.SYSTEM,
                    now: dt.datetime | None = None) -> int:
    """Tell the township (leaders and groups) of the county's decision on a problem it handed up."""
    now = now or utcnow()
    _, village, params = _problem_params(session, problem)
    township = _township(session, village)
    step = f"decided-{int(now.timestamp())}"
    return _write(session, unit=township, kind="notice", step=step, subject=f"problem/{problem.id}", item=ITEM,
                  period=str(problem.id), role="township_leader",
                  routes=_routes(session, leaders_of(session, village), township),
                  body=[[DECIDED, {**params, "decision": decision}]], actions=[f"problem:{problem.id}"],
                  now=now, actor=actor)


def problem_escalated(session: Session, problem: Problem, proposal: str, *, actor: audit.Actor = audit.SYSTEM,
                      now: dt.datetime | None = None) -> int:
    """Tell the county office that a township handed a problem up for its decision."""
    now = now or utcnow()
    _, village, params = _problem_params(session, problem)
    township = _township(session, village)
    county = session.get(OrgUnit, _county_id(village))
    officers = list(session.exec(select(User).where(User.role == "county_officer", col(User.active).is_(True),
                                                    User.org_unit_id == county.id).order_by(User.id)).all())
    return _write(session, unit=county, kind="notice", step=f"escalated-{int(now.timestamp())}",
                  subject=f"problem/{problem.id}", item=ITEM, period=str(problem.id), role="county_officer",
                  routes=_routes(session, officers, None),
                  body=[[ESCALATED, {**params, "township": township.name, "proposal": proposal}]],
                  actions=[f"problem:{problem.id}"], now=now, actor=actor)


def villager_report(session: Session, problem: Problem, now: dt.datetime | None = None) -> int:
    """Tell the township (leaders and groups) of a villager's report from an asset's QR page."""
    now = now or problem.created_at or utcnow()
    _, village, params = _problem_params(session, problem)
    township = _township(session, village)
    return _write(session, unit=township, kind="notice", step="villager-report", subject=f"problem/{problem.id}",
                  item=ITEM, period=str(problem.id), role="township_leader",
                  routes=_routes(session, leaders_of(session, village), township),
                  body=[[VILLAGER, {**params, "text": problem.description or ""}]],
                  actions=[f"problem:{problem.id}"], now=now)


def _subject_name(session: Session, report: Report) -> str:
    if report.asset_id is not None:
        return session.get(Asset, report.asset_id).name
    return session.get(OrgUnit, report.org_unit_id).name
