"""Command groups ``villagebot policy …`` (a county's profile) and ``villagebot schedule …``
(preview what would be sent; run one tick). bot.cli registers them; ``ctx.obj`` is its Context."""

from __future__ import annotations

import datetime as dt
import json
import sys
from types import SimpleNamespace

import click
from sqlmodel import Session

from bot.clock import as_utc
from bot.i18n import N_, translate
from bot.policy.facts import NO_CHANNEL
from bot.policy.loading import available, load
from bot.policy.messages import render
from bot.policy.profile import Profile
from bot.policy.validate import ProfileError

CLI = "cli"
PERIOD_DUTY = N_("{label} ({role}, {frequency}): due at {time} on day {day} of month {month} of the period")
NEXT_PERIOD_DUTY = N_("{label} ({role}, {frequency}): due at {time} on day {day} of month {month} of the "
                      "following period")
LAST_DAY = N_("the last day")
NOT_JOINED = N_("not joined")
UNREACHED = N_("Warning: {n} of these message(s) cannot be sent: {people} person(s) have not joined yet ({names}). "
               "Re-issue their invites with `villagebot users pending` and `villagebot users reinvite`.")


def _county(ctx, session: Session, key: str):
    from bot.services.orgs import OrgError, find_unit

    try:
        return find_unit(session, key, level="county")
    except OrgError as exc:
        ctx.fail(exc.msgid, **exc.params)


@click.group("policy")
def policy() -> None:
    """Policy profiles: each county's calendar, reminders and escalation chain."""


@policy.command("list")
@click.pass_obj
def policy_list(ctx) -> None:
    """List the shipped profiles."""
    for name in available():
        profile = load(name)
        click.echo(f"{name:<16} {translate(ctx.lang, profile.title)}")


@policy.command("use")
@click.argument("profile_name", metavar="PROFILE")
@click.option("--county", "county_key", required=True, help="County name or 12-digit code.")
@click.pass_obj
def policy_use(ctx, profile_name: str, county_key: str) -> None:
    """Make a county follow a shipped profile (by id) or its own profile file (by path; its text is stored)."""
    from bot.services import audit, policies
    from bot.storage.db import session_scope

    try:
        with session_scope(ctx.engine) as session:
            county = _county(ctx, session, county_key)
            profile = policies.use(session, audit.Actor(None, CLI), county, profile_name)
            name = county.name
    except ProfileError as exc:
        click.echo(exc.describe(ctx.lang), err=True)
        sys.exit(2)
    except policies.PolicyError as exc:
        ctx.fail(exc.msgid, **exc.params)
    click.echo(ctx.t("{county} now follows the profile {profile}.", county=name, profile=profile.id))


@policy.command("show")
@click.option("--county", "county_key", required=True, help="County name or 12-digit code.")
@click.pass_obj
def policy_show(ctx, county_key: str) -> None:
    """Show the profile a county follows: duties, reminders, escalation, quiet hours."""
    from bot.services.policies import county_profile

    with Session(ctx.engine) as session:
        county = _county(ctx, session, county_key)
        if not county.policy_profile:
            ctx.fail(N_("{county} has no policy profile yet; choose one with `villagebot policy use`."),
                     county=county.name)
        try:
            profile = county_profile(session, county)
        except ProfileError as exc:
            click.echo(exc.describe(ctx.lang), err=True)
            sys.exit(2)
    for line in describe(profile, ctx.lang):
        click.echo(line)


def describe(profile: Profile, locale: str) -> list[str]:
    """Return a profile as readable lines in ``locale``."""
    t = lambda msgid, **p: translate(locale, msgid, **p)  # noqa: E731
    lines = [f"{profile.id}: {t(profile.title)}", t("Source: {source}", source=profile.source),
             t("Time zone: {zone}", zone=profile.timezone), t("Duties:")]
    for item in profile.items:
        msgid = NEXT_PERIOD_DUTY if item.due.next_period else PERIOD_DUTY
        lines.append("  " + t(msgid, label=t(item.label), role=item.role, frequency=item.frequency,
                              day=item.due.day or t(LAST_DAY), month=item.due.month,
                              time=item.due.time.strftime("%H:%M")))
    rem = profile.reminders
    lines.append(t("Reminders: {days} days before, at {time}", days=", ".join(map(str, rem.offsets_days)),
                   time=rem.at.strftime("%H:%M")))
    esc = profile.escalation
    lines.append(t("Escalation: {chain}; first {first} h after the deadline, then every {wait} h, "
                   "at most {repeats} repeats", chain=" → ".join(c.role for c in esc.chain),
                   first=esc.first_after.total_seconds() / 3600, wait=esc.wait.total_seconds() / 3600,
                   repeats=esc.max_repeats))
    quiet = profile.quiet_hours
    lines.append(t("Quiet hours: {start}–{end}", start=quiet.start.strftime("%H:%M"), end=quiet.end.strftime("%H:%M"))
                 if quiet else t("Quiet hours: none"))
    lines.append(t("Weekends are quiet: non-urgent messages wait for Monday.") if profile.working_days.weekends_quiet
                 else t("Weekends are working days."))
    return lines


@click.group("schedule")
def schedule() -> None:
    """Reminders, escalations and alerts: preview them, or run one tick."""


def _moment(value: str, tz: dt.tzinfo, *, end_of_day: bool = False) -> dt.datetime:
    """Parse a date (start or end of that local day) or an ISO datetime (naive = local)."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day + dt.timedelta(days=1 if end_of_day else 0), dt.time(), tzinfo=tz)
            return as_utc(moment - dt.timedelta(microseconds=1) if end_of_day else moment)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[+08:00]") from None
    return as_utc(moment if moment.tzinfo else moment.replace(tzinfo=tz))


@schedule.command("preview")
@click.option("--from", "start", required=True, help="First day (YYYY-MM-DD, local) or ISO time.")
@click.option("--to", "end", required=True, help="Last day (inclusive) or ISO time.")
@click.option("--scope", "scope_key", default=None, help="Only messages about this county, township or village.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@click.pass_obj
def schedule_preview(ctx, start: str, end: str, scope_key: str | None, as_json: bool) -> None:
    """List what would be sent, to whom, through which channel and when; sends nothing."""
    from bot.services.orgs import OrgError, find_unit
    from bot.services.schedule_facts import preview

    tz = ctx.settings.tz
    begin, finish = _moment(start, tz), _moment(end, tz, end_of_day=True)
    with Session(ctx.engine) as session:
        scope = None
        if scope_key:
            try:
                scope = find_unit(session, scope_key)
            except OrgError as exc:
                ctx.fail(exc.msgid, **exc.params)
        found = preview(session, begin, finish, scope)
        rows = []
        for view, message, facts in found:
            name = next((r.name for r in facts.routes(message.scope, message.role)
                         if r.person == message.recipient and r.channel == message.channel), message.recipient)
            local = message.at.astimezone(view.tz)
            rows.append({**message.as_dict(), "at": local.isoformat(), "county": view.county.name,
                         "recipient_name": name, "joined": message.channel != NO_CHANNEL,
                         "text": render(message, ctx.lang), "status": "planned"})
        rows += _notices(session, finish, scope, ctx.lang, tz)
    rows.sort(key=lambda r: (r["at"], r["key"]))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    absent = ctx.t(NOT_JOINED)
    for row in rows:
        channel = row["channel"] if row["joined"] else absent
        waiting = "  " + ctx.t("(waiting in the outbox)") if row["status"] != "planned" else ""
        click.echo(f"{row['at'][:16]}  {row['kind']:<10} {row['role']:<18} {row['scope']:<14} "
                   f"{channel:<8} {row['recipient_name']}  {row['subject']} {row['step']}{waiting}")
    click.echo(ctx.t("{n} message(s).", n=len(rows)))
    unreached = {row["recipient_name"] for row in rows if not row["joined"]}
    if unreached:
        click.echo(ctx.t(UNREACHED, n=sum(not row["joined"] for row in rows), people=len(unreached),
                         names="、".join(sorted(unreached))), err=True)


def _notices(session: Session, until: dt.datetime, scope, lang: str, tz: dt.tzinfo) -> list[dict]:
    """The event notices waiting in the outbox (alerts, sign-off and send-back notices, decisions,
    villagers' reports): written when something happened, sent at the next delivery."""
    from bot.services.outbox import compose, pending_notices
    from bot.storage.models import OrgUnit

    rows = []
    for message in pending_notices(session, until, scope):
        shown = SimpleNamespace(body=message.body, locale=lang, collapsed=message.collapsed,
                                actions=message.actions, subject=message.subject)
        text, buttons = compose(shown)  # in the reader's language
        county = session.get(OrgUnit, message.county_id)
        rows.append({
            "key": message.key, "kind": message.kind, "step": message.step, "subject": message.subject,
            "item": message.item, "period": message.period, "role": message.role, "scope": message.scope,
            "channel": message.channel, "recipient": message.recipient,
            "at": as_utc(message.send_at).astimezone(tz).isoformat(), "urgent": message.urgent, "due_at": None,
            "about": [], "actions": list(message.actions), "collapsed": message.collapsed,
            "county": county.name if county else "", "recipient_name": message.recipient_name or message.recipient,
            "text": text, "buttons": [b.data for b in buttons], "status": message.status, "joined": True})
    return rows


@schedule.command("tick")
@click.option("--at", "at", default=None, help="Run as of this ISO time (naive = local); default now.")
@click.pass_obj
def schedule_tick(ctx, at: str | None) -> None:
    """Run one tick: plan what is due by then into the outbox and send it."""
    from bot.services.channels import build_channels
    from bot.services.outbox import tick

    now = _moment(at, ctx.settings.tz) if at else None
    channels = build_channels(ctx.settings)
    try:
        result = tick(ctx.engine, channels, now=now)
    finally:
        for channel in channels.values():
            channel.close()
    click.echo(ctx.t("Planned {planned} new message(s); sent {sent}, retrying {retried}, unreachable {unreachable}, "
                     "failed {failed}, recovered {recovered}.", planned=result.inserted, sent=result.sent,
                     retried=result.retried, unreachable=result.unreachable, failed=result.failed,
                     recovered=result.recovered))


@schedule.command("add-group")
@click.option("--township", "township_key", required=True, help="Township name or 12-digit code.")
@click.option("--kind", type=click.Choice(["wecom", "dingtalk"]), required=True)
@click.option("--url", required=True, help="The group robot's webhook URL.")
@click.option("--name", required=True, help="The group's name, shown when a message is forwarded.")
@click.option("--secret", default=None, help="DingTalk signing secret (SEC…), for the signed variant.")
@click.pass_obj
def schedule_add_group(ctx, township_key: str, kind: str, url: str, name: str, secret: str | None) -> None:
    """Register a township's WeCom or DingTalk group robot: it receives what the township leader receives."""
    from bot.services import audit
    from bot.services.channels import register_route
    from bot.services.orgs import OrgError, find_unit
    from bot.storage.db import session_scope

    with session_scope(ctx.engine) as session:
        try:
            township = find_unit(session, township_key, level="township")
        except OrgError as exc:
            ctx.fail(exc.msgid, **exc.params)
        try:
            route = register_route(session, audit.Actor(None, CLI), township, kind, url, name, secret)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        route_id, township_name = route.id, township.name
    click.echo(ctx.t("Group {name} registered for {township} (route {id}).", name=name, township=township_name,
                     id=route_id))
