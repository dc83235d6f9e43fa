"""``villagebot duty …``: the duties of a county's policy profile from the command line (as the system).

    villagebot duty list   [--scope 青山县] [--at 2026-07-02T10:00] [--all]
    villagebot duty record department_supervision --unit 青山县 --period 2026-H1 --date 2026-06-20 \\
                           --note "到新桥镇督导" [--attachment minutes.pdf]
    villagebot duty review --village 新桥村 --year 2026 --evaluation ASSET_ID=sheet.yaml …
    villagebot duty grade  --township 新桥镇 --year 2026

``list`` prints every duty of every unit in the scope whose deadline is in the last twelve months or the
rest of this year (state: not due yet, due, done with when and how, late, not applicable); ``record`` is an officer's record (date,
note, optional attachment) for a duty whose profile item says ``done_by: record``; ``review`` and
``grade`` are the township's year-end review of a village and the county's grading of a township
(seed 004 五（三）2–3). Each is audited; refusals end with exit status 2.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml
from sqlmodel import Session, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, UserError
from bot.services import cycle, duties
from bot.services.access import AccessDenied
from bot.services.evidence import EvidenceStore
from bot.services.orgs import OrgError, find_unit
from bot.storage.models import OrgUnit

if TYPE_CHECKING:
    from bot.cli import Context


@click.group("duty")
def duty() -> None:
    """Duties of the policy profile: list their state, record an officer's duty, review and grade."""


def _find(ctx: Context, session: Session, key: str | None, level: str | None = None) -> OrgUnit:
    if key:
        try:
            return find_unit(session, key, level)
        except OrgError as exc:
            ctx.fail(exc.msgid, **exc.params)
    counties = session.exec(select(OrgUnit).where(OrgUnit.level == "county")).all()
    if len(counties) != 1:
        ctx.fail(N_("Name the county with --county (there are {n})."), n=len(counties))
    return counties[0]


def _id(unit: OrgUnit) -> int:
    """A stored unit's id (the model types it optional: it is None only before the row is written)."""
    if unit.id is None:
        raise ValueError(f"{unit.name} is not stored")
    return unit.id


def _moment(ctx: Context, value: str | None) -> dt.datetime:
    if not value:
        return utcnow()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        ctx.fail(N_("Give the moment as YYYY-MM-DDTHH:MM."))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ctx.settings.tz)
    return as_utc(moment)


@duty.command("list")
@click.option("--scope", "scope_key", help="A county, township or village (code or name).")
@click.option("--at", "at", help="The moment to ask about (local time), default now.")
@click.option("--all", "show_all", is_flag=True, help="Also the duties not due yet and not applicable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per duty.")
@click.pass_obj
def duty_list(ctx: Context, scope_key: str | None, at: str | None, show_all: bool, as_json: bool) -> None:
    """Every duty of the units in the scope (the last twelve months and the rest of this year) and its state."""
    now = _moment(ctx, at)
    with Session(ctx.engine) as session:
        scope = _find(ctx, session, scope_key)
        profile = duties.profile_of(session, scope)
        if profile is None:
            ctx.fail(duties.MSG_NO_PROFILE)
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(profile.timezone)
        year = now.astimezone(tz).year
        end = dt.datetime(year + 1, 1, 1, tzinfo=tz) + dt.timedelta(days=20)
        for state in duties.states(session, scope, now - dt.timedelta(days=365), as_utc(end), now=now):
            if not show_all and state.state in (duties.NOT_DUE, duties.NOT_APPLICABLE):
                continue
            if as_json:
                click.echo(json.dumps({
                    "item": state.item, "unit": state.unit_name, "unit_id": state.unit_id, "period": state.period,
                    "due_at": state.due_at.isoformat(), "state": state.state,
                    "done_at": state.done.at.isoformat() if state.done else None,
                    "done_by": state.done.by if state.done else None}, ensure_ascii=False))
                continue
            line = (f"{state.due_at.astimezone(tz):%Y-%m-%d}  {ctx.t(state.label)}  "
                    f"{duties.period_name(state.period, ctx.lang)}  {state.unit_name}  "
                    f"{ctx.t(duties.STATE_LABELS[state.state])}")
            if state.done:
                line += f"  {state.done.at.astimezone(tz):%Y-%m-%d %H:%M}  {ctx.t(duties.BY_LABELS[state.done.by])}"
            click.echo(line)


@duty.command("record")
@click.argument("item")
@click.option("--unit", "unit_key", help="The responsible unit (the county for county and department duties).")
@click.option("--period", required=True, help="The duty's period: 2026-H1, 2026-Q3, 2026 …")
@click.option("--date", "day", required=True, help="The day it was done, YYYY-MM-DD.")
@click.option("--note", required=True, help="What was done.")
@click.option("--attachment", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A file to keep.")
@click.pass_obj
def duty_record(ctx: Context, item: str, unit_key: str | None, period: str, day: str, note: str,
                attachment: Path | None) -> None:
    """Record a duty done by an officer's record (a visit, a report to the county, a sample check …)."""
    try:
        occurred = dt.date.fromisoformat(day)
    except ValueError:
        ctx.fail(N_("Give the date as YYYY-MM-DD."))
    with Session(ctx.engine) as session:
        unit = _find(ctx, session, unit_key)
        file = (attachment.name, attachment.read_bytes()) if attachment else None
        try:
            row = duties.record(session, None, item, period, occurred_on=occurred, note=note, attachment=file,
                                data_dir=ctx.settings.data_dir, max_bytes=ctx.settings.max_upload_mb * 1024 * 1024,
                                unit=unit, store=EvidenceStore.from_settings(ctx.settings).blobs)
        except (UserError, AccessDenied) as exc:
            ctx.fail(exc.msgid, **getattr(exc, "params", {}))
        profile = duties.profile_of(session, unit)
        recorded_for = session.get(OrgUnit, row.org_unit_id)
        label = profile.item(item).label if profile is not None else item
        click.echo(ctx.t(N_("Recorded: {item}, {period}, {unit}."), item=ctx.t(label),
                         period=duties.period_name(period, ctx.lang),
                         unit=recorded_for.name if recorded_for is not None else unit.name))


@duty.command("review")
@click.option("--village", "village_key", required=True, help="The village (code or name).")
@click.option("--year", required=True, type=int)
@click.option("--evaluation", "files", multiple=True,
              help="ASSET_ID=FILE: the township's evaluation of an asset (a facts file of `villagebot score`).")
@click.pass_obj
def duty_review(ctx: Context, village_key: str, year: int, files: tuple[str, ...]) -> None:
    """The township's year-end review of a village: score it from the evaluations of its assets."""
    evaluations = {}
    for entry in files:
        asset_id, _, path = entry.partition("=")
        if not asset_id.strip().isdigit() or not path:
            ctx.fail(N_("Give each evaluation as ASSET_ID=FILE."))
        try:
            evaluations[int(asset_id)] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            ctx.fail(N_("Cannot read {file}."), file=path)
    with Session(ctx.engine) as session:
        village = _find(ctx, session, village_key, "village")
        try:
            step = cycle.review(session, None, _id(village), year, evaluations)
        except (UserError, AccessDenied) as exc:
            ctx.fail(exc.msgid, **getattr(exc, "params", {}))
        click.echo(ctx.t(N_("{village} scored {score} for {year}."), village=village.name, score=step.data["score"],
                         year=year))


@duty.command("grade")
@click.option("--township", "township_key", required=True, help="The township (code or name).")
@click.option("--year", required=True, type=int)
@click.pass_obj
def duty_grade(ctx: Context, township_key: str, year: int) -> None:
    """The county's grading of a township on the mean of its villages' review scores."""
    with Session(ctx.engine) as session:
        township = _find(ctx, session, township_key, "township")
        try:
            step = cycle.grade(session, None, _id(township), year)
        except (UserError, AccessDenied) as exc:
            ctx.fail(exc.msgid, **getattr(exc, "params", {}))
        click.echo(ctx.t(N_("{township} graded {grade} ({score}) for {year}."), township=township.name,
                         grade=step.data["grade"], score=step.data["score"], year=year))
