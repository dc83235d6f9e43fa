"""The audit log on the web (``/audit``): an administrator reads all of it, a county officer what concerns
their county (its units, people, assets, reports and problems) and what its people did. Filters: who, what
kind, which asset (project code or name) or unit, a date range; newest first, a page at a time, every entry
in words. ``/audit/verify`` runs the check of ``villagebot audit verify`` (every signature and link, and the
chain against the checkpoints) and says in words where tampering was found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from sqlmodel import select

from bot.config import Settings
from bot.i18n import N_, translate
from bot.services import audit, reports
from bot.services.access import PERMISSIONS, AccessDenied, require, scope_filter
from bot.services.duties import period_name
from bot.services.problem_list import STATUS_LABELS as PROBLEM_STATUS
from bot.services.reach import ROLE_LABELS
from bot.services.signboard import DATE
from bot.storage.models import Asset, OrgUnit, Problem, Report, User
from bot.web import menu
from bot.web.common import WebError, locale_of, query_id, render, require_user, web

router = APIRouter(tags=["office"])

menu.add("/audit", N_("Audit log"), section=menu.OFFICE,
         hint=N_("Who changed what and when; check that nobody altered the record"), action="audit.view", order=60)

KIND_LABELS = {
    "asset": N_("Assets"), "report": N_("Reports and checks"), "cycle": N_("Sign-off, posting and year-end"),
    "problem": N_("Problems"), "villager_report": N_("Villagers' reports"), "asset_class": N_("Four-way classes"),
    "user": N_("People and invites"), "telegram": N_("Telegram accounts"), "session": N_("Sign-ins"),
    "org": N_("Organisation tree"), "policy": N_("Policy profile"), "duty": N_("Duties recorded"),
    "notice": N_("Notices"), "channel": N_("Group channels"), "disposal": N_("Disposals"),
}
ACTION_LABELS = {
    "asset.create": N_("Asset added to the ledger"), "asset.update": N_("Asset changed in the ledger"),
    "asset.classify": N_("Four-way class confirmed"), "asset_class.suggest": N_("Four-way class suggested"),
    "report.start": N_("Report started"), "report.submit": N_("Report submitted"),
    "report.approve": N_("Report approved"), "report.send_back": N_("Report sent back"),
    "report.reopen": N_("Report reopened for correction"), "report.expire": N_("Unfinished draft expired"),
    "report.discard": N_("Draft discarded"), "cycle.sign_off": N_("Report signed off by the supervisor"),
    "cycle.post": N_("Report posted publicly"), "cycle.report_up": N_("Report sent up to the township"),
    "cycle.send_back": N_("Report sent back by the supervisor"), "cycle.review": N_("Year-end review of a village"),
    "cycle.grade": N_("Year-end grading of a township"), "problem.acknowledge": N_("Problem acknowledged"),
    "problem.in_hand": N_("Problem being handled"), "problem.resolve": N_("Problem resolved"),
    "problem.escalated": N_("Problem handed up to the county"), "problem.decided": N_("County decided on a problem"),
    "problem.villager_report": N_("Villager reported a problem"),
    "problem.villager_report_repeated": N_("Villager reported a problem again"),
    "problem.villager_spam": N_("Villager problem marked as spam"),
    "villager_report.held": N_("Villager report held for moderation"),
    "villager_report.repeated": N_("Held villager report sent again"),
    "villager_report.accept": N_("Held villager report accepted"),
    "villager_report.discard": N_("Held villager report dropped"),
    "villager_report.spam": N_("Held villager report marked as spam"),
    "user.invite": N_("Person invited"), "user.reinvite": N_("Invite re-issued"), "user.activate": N_("Person joined"),
    "user.deactivate": N_("Person deactivated"), "user.locale": N_("Language changed"),
    "telegram.bind": N_("Telegram account linked"), "session.open": N_("Signed in on the web"),
    "session.revoke": N_("Web sign-in ended"), "session.revoke_all": N_("All web sign-ins ended"),
    "org.create": N_("Unit added to the organisation tree"), "org.update": N_("Unit changed"),
    "policy.use": N_("Policy profile chosen"), "duty.done": N_("Duty recorded as done"),
    "notice.queue": N_("Notice queued"), "channel.register": N_("Group channel registered"),
    # issue 17: the steps of a disposal (bot.services.disposal)
    "disposal.draft": N_("Disposal opened by the four-way classification"),
    "disposal.request": N_("Disposal requested"), "disposal.meeting": N_("Village meeting on a disposal recorded"),
    "disposal.valuation": N_("Valuation for a disposal recorded"),
    "disposal.township": N_("Disposal approved by the township"), "disposal.county": N_("Disposal approved by the county"),
    "disposal.notice": N_("Public notice of a disposal started"), "disposal.record": N_("Disposal recorded"),
    "disposal.refuse": N_("Disposal refused"), "disposal.withdraw": N_("Disposal request withdrawn"),
}
MSG_SYSTEM = N_("the system")
MSG_CLI = N_("the command line")
MSG_VILLAGER = N_("a villager (anonymous)")
MSG_DEMO = N_("the demo data")
MSG_BAD_DATE = N_("Dates are written like 2026-03-31.")
MSG_NO_ASSET = N_("No asset in your area matches “{text}”.")
MSG_KEY = N_("The audit key cannot be read, so the log cannot be checked. Ask whoever runs the service to "
             "restore the audit key file.")


@dataclass
class Row:
    id: int
    when: str
    who: str
    what: str
    about: str
    details: list[str]


def _t(locale: str, msgid: str, **params: object) -> str:
    return translate(locale, msgid, **params)


def _when(at: dt.datetime, tz, locale: str) -> str:
    local = at.astimezone(tz) if at.tzinfo else at.replace(tzinfo=dt.UTC).astimezone(tz)
    return _t(locale, DATE, year=local.year, month=local.month, day=local.day) + local.strftime(" %H:%M")


def _action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return KIND_LABELS.get(action.split(".", 1)[0], N_("Other change"))


def _by_ids(session, model, ids) -> dict:
    ids = {int(i) for i in ids if i is not None and str(i).isdigit()}
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(model).where(model.id.in_(ids))).all()}


def describe(session, entries: list, tz, locale: str) -> list[Row]:
    """Say each entry in words: when, who, what was done, what it was about, the changed values that matter."""
    users = _by_ids(session, User, [e.actor_user_id for e in entries]
                    + [e.entity_id for e in entries if e.entity == "app_user"])
    units = _by_ids(session, OrgUnit, [e.entity_id for e in entries if e.entity == "org_unit"])
    report_rows = _by_ids(session, Report, [e.entity_id for e in entries if e.entity == "report"])
    problems = _by_ids(session, Problem, [e.entity_id for e in entries if e.entity == "problem"])
    asset_ids = [e.entity_id for e in entries if e.entity == "asset"]
    asset_ids += [r.asset_id for r in report_rows.values()] + [p.asset_id for p in problems.values()]
    asset_ids += [e.after.get("asset_id") for e in entries
                  if e.entity in ("asset_class", "villager_report") and isinstance(e.after, dict)]
    assets = _by_ids(session, Asset, asset_ids)
    report_units = _by_ids(session, OrgUnit, [r.org_unit_id for r in report_rows.values()])

    def asset_name(asset_id) -> str:
        asset = assets.get(int(asset_id)) if asset_id is not None and str(asset_id).isdigit() else None
        return asset.name if asset else ""

    rows = []
    for e in entries:
        if e.actor_user_id is not None and e.actor_user_id in users:
            person = users[e.actor_user_id]
            who = f"{person.name}（{_t(locale, ROLE_LABELS.get(person.role, person.role))}）" if locale != "en" \
                else f"{person.name} ({_t(locale, ROLE_LABELS.get(person.role, person.role))})"
        elif e.actor.startswith("device:"):
            who = _t(locale, MSG_VILLAGER)
        elif e.actor == "cli":
            who = _t(locale, MSG_CLI)
        elif e.actor == "demo":
            who = _t(locale, MSG_DEMO)
        else:
            who = _t(locale, MSG_SYSTEM)
        before = e.before if isinstance(e.before, dict) else {}
        after = e.after if isinstance(e.after, dict) else {}
        about = ""
        eid = int(e.entity_id) if e.entity_id and e.entity_id.isdigit() else None
        if e.entity == "asset":
            about = asset_name(eid)
        elif e.entity == "report" and eid in report_rows:
            report = report_rows[eid]
            subject = asset_name(report.asset_id) or (report_units[report.org_unit_id].name
                                                      if report.org_unit_id in report_units else "")
            about = _t(locale, N_("{subject}, {period}"), subject=subject, period=period_name(report.period, locale))
        elif e.entity == "problem" and eid in problems:
            about = _t(locale, N_("Problem {number} of {asset}"), number=eid, asset=asset_name(problems[eid].asset_id))
        elif e.entity == "org_unit" and eid in units:
            about = units[eid].name
        elif e.entity == "app_user" and eid in users:
            about = users[eid].name
        elif e.entity in ("asset_class", "villager_report"):
            about = asset_name(after.get("asset_id"))
        details = []
        status_labels = PROBLEM_STATUS if e.entity == "problem" else reports.STATUS_LABELS
        status, old = after.get("status"), before.get("status")
        if isinstance(status, str) and status in status_labels:
            new = _t(locale, status_labels[status])
            details.append(_t(locale, N_("Status: {before} → {after}"), before=_t(locale, status_labels[old]),
                              after=new) if isinstance(old, str) and old in status_labels
                           else _t(locale, N_("Status: {after}"), after=new))
        if isinstance(after.get("period"), str) and e.entity != "report":
            details.append(_t(locale, N_("Period: {period}"), period=period_name(after["period"], locale)))
        for key, msgid in (("note", N_("Note: {text}")), ("reason", N_("Reason: {text}"))):
            if isinstance(after.get(key), str) and after[key].strip() and after[key] != "demo":
                details.append(_t(locale, msgid, text=after[key][:300]))
        if e.action == "policy.use" and after.get("policy_profile"):
            details.append(_t(locale, N_("Profile: {name}"), name=_profile_title(after["policy_profile"], locale)))
        if e.action in ("user.invite",) and after.get("role") in ROLE_LABELS:
            details.append(_t(locale, N_("Role: {role}"), role=_t(locale, ROLE_LABELS[after["role"]])))
        rows.append(Row(e.id, _when(e.at, tz, locale), who, _t(locale, _action_label(e.action)), about, details))
    return rows


def _profile_title(profile_id: str, locale: str) -> str:
    from bot.policy.loading import is_shipped, load

    if is_shipped(profile_id):
        return _t(locale, load(profile_id).title)
    return _t(locale, N_("the county's own profile"))


def _date(value: str | None, tz, *, end: bool = False) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise WebError(400, MSG_BAD_DATE) from None
    if not 2000 <= day.year <= 2099:
        raise WebError(400, MSG_BAD_DATE)
    moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), tzinfo=tz)
    return moment.astimezone(dt.UTC)




@router.get("/audit", include_in_schema=False)
def audit_page(request: Request):
    """Browse the audit log with filters, a page at a time, in words."""
    state = web(request)
    tz = state.settings.tz
    locale = locale_of(request)
    params = request.query_params
    who = params.get("who", "")
    query = audit.Browse(page=query_id(params.get("page")) or 1, since=_date(params.get("from"), tz),
                         until=_date(params.get("to"), tz, end=True))
    if who == "system":
        query.system = True
    else:
        query.actor_user_id = query_id(who)
    kind = params.get("kind", "")
    query.kind = kind if kind in KIND_LABELS or kind.replace("_", "").isalpha() and len(kind) <= 32 else None
    asset_text = params.get("asset", "").strip()[:100]
    error = None
    with state.session() as session:
        user = require_user(request, session)
        try:
            scope_path = audit.viewer_scope(session, user)
            unit_id = query_id(params.get("unit"))
            if unit_id is not None:
                unit = session.get(OrgUnit, unit_id)
                if unit is None or (scope_path is not None and not unit.path.startswith(scope_path)):
                    raise AccessDenied(N_("This is outside your area."))
                query.unit_path = unit.path
            if asset_text:
                require(session, user, "asset.view")
                like = f"%{asset_text.replace('%', '').replace('_', '')}%"
                found = session.exec(
                    select(Asset.id).join(OrgUnit, OrgUnit.id == Asset.village_id)
                    .where(scope_filter(session, user), (Asset.project_code.like(like)) | (Asset.name.like(like)))
                    .limit(200)).all()
                if not found:
                    error = _t(locale, MSG_NO_ASSET, text=asset_text)
                query.asset_ids = tuple(found)
            entries, total = audit.browse(session, user, query)
            people = audit.actors(session, user)
            families = audit.kinds(session, user)
            units = session.exec(select(OrgUnit).where(OrgUnit.level.in_(("county", "township", "village")),
                                                       scope_filter(session, user)).order_by(OrgUnit.path)).all()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        rows = describe(session, entries, tz, locale)
        pages = max(1, -(-total // audit.PAGE_SIZE))
        kept = {k: v for k, v in params.items() if k in ("who", "kind", "asset", "unit", "from", "to") and v}

        def page_link(number: int) -> str:
            return "/audit?" + urlencode({**kept, "page": number, "lang": locale})

        can_verify = "audit.verify" in PERMISSIONS.get(user.role, frozenset())
        return render(
            request, "office/audit.html", rows=rows, total=total, page=min(query.page, pages), pages=pages,
            page_link=page_link, people=[(pid, name, _t(locale, ROLE_LABELS.get(role, role)))
                                         for pid, name, role in people],
            kinds=[(k, _t(locale, KIND_LABELS.get(k, N_("Other change")))) for k in families],
            units=units, f=kept, error=error, can_verify=can_verify, filtered=bool(kept))


@router.get("/audit/verify", include_in_schema=False)
def verify_page(request: Request):
    """Check the whole chain as ``villagebot audit verify`` does and say the result in words."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        try:
            require(session, user, "audit.verify")
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        try:
            result = audit.verify(session, checkpoints=[audit.current().checkpoint_file])
        except audit.AuditKeyError:
            return render(request, "office/audit_verify.html", result=None, key_error=MSG_KEY, findings=[])
    findings = [(f.entry_id, f.msgid, f.params) for f in result.findings]
    checkpoint_at = None
    if result.last_checkpoint is not None:  # in the installation's time zone, as every other time on the pages
        stamp = dt.datetime.fromisoformat(result.last_checkpoint.at.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        checkpoint_at = stamp.astimezone(state.settings.tz).strftime("%Y-%m-%d %H:%M")
    return render(request, "office/audit_verify.html", result=result, key_error=None, findings=findings,
                  checkpoint_at=checkpoint_at)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the audit log pages."""
    app.include_router(router)
