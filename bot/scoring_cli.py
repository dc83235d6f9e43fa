"""The `score` command group.

    villagebot score project FILE.yaml [--json] [-o FILE.xlsx] [--lang …]     pure: a facts file
    villagebot score asset CODE [--year Y] [--judgments FILE] [--rubric ID] [--json] [-o FILE.xlsx]
    villagebot score classify --township X [--period YYYY-MM] [--json]
    villagebot score compliance --scope X (--period YYYY-MM | --year YYYY) [--json]

The last three read the registry through ``bot.services.assessment`` (imported inside the commands,
so that ``bot/scoring`` itself never loads the database layer).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click
import yaml

from bot.i18n import N_, SUPPORTED, normalise_locale, translate
from bot.scoring.engine import score_facts_file
from bot.scoring.errors import ScoringInputError
from bot.scoring.numbers import plain
from bot.scoring.sheet import render_text, sheet_json
from bot.services.score_sheet import write_xlsx

BAD_INPUT = 2


@click.group("score")
def score() -> None:
    """Score projects and assets against the published rubrics."""


@score.command("project")
@click.argument("facts_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the score sheet as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write the score sheet to this .xlsx file.")
@click.option("--lang", type=click.Choice(SUPPORTED), default="zh_CN", show_default=True, help="Language of the sheet.")
def project(facts_file: str, as_json: bool, output: str | None, lang: str) -> None:
    """Score one project's facts file and print its score sheet.

    As evaluation reports write it (docs/scoring.md): facts, a fact the evaluators could not establish as
    `unknown`, and for any indicator, part or sub-item the evaluator's `{deduction, reason}` in place of its rule.
    """
    locale = normalise_locale(lang)
    try:
        sheet = score_facts_file(facts_file)
    except ScoringInputError as exc:
        click.echo(exc.message(locale), err=True)
        raise SystemExit(BAD_INPUT) from exc
    if output:
        write_xlsx(sheet, output, locale)
    if as_json:
        click.echo(json.dumps(sheet_json(sheet, locale), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(sheet, locale), nl=False)


# --- scoring over the registry (bot.services.assessment): database access stays out of bot/scoring ---

@contextmanager
def registry_session():
    """Yield (session, settings) on the configured database (VILLAGEBOT_DATABASE_URL…); commit at the end."""
    from bot.config import ConfigError, load_settings
    from bot.storage.db import make_engine, session_scope

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            yield session, settings
    finally:
        engine.dispose()


def read_yaml(path: str) -> object:
    """Return the parsed YAML file; refuse an unreadable one naming it."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScoringInputError(N_("Cannot read {field}: {detail}"), field=str(path),
                                detail=str(exc)) from exc


def refuse(message: str) -> None:
    """Print a refusal and exit with the bad-input code."""
    click.echo(message, err=True)
    raise SystemExit(BAD_INPUT)


def current_year(tz) -> int:
    """Return this year on the county's wall clock."""
    from bot.clock import utcnow

    return utcnow().astimezone(tz).year


@score.command("asset")
@click.argument("code")
@click.option("--year", type=int, help="Year of the evaluation (default: this year).")
@click.option("--judgments", "judgments_file", type=click.Path(exists=True, dir_okay=False),
              help="The evaluator's facts file: facts the registry does not hold, and the judgments.")
@click.option("--rubric", help="Rubric id (default: the file's, else the year-end rubric of the asset type).")
@click.option("--json", "as_json", is_flag=True, help="Print the score sheet as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Also write the score sheet to this .xlsx file.")
@click.option("--lang", type=click.Choice(SUPPORTED), default="zh_CN", show_default=True,
              help="Language of the sheet.")
def asset(code: str, year: int | None, judgments_file: str | None, rubric: str | None, as_json: bool,
          output: str | None, lang: str) -> None:
    """Score one asset of the registry: ledger funds and monthly-report figures are filled in."""
    from sqlmodel import select

    from bot.services.assessment import score_asset
    from bot.storage.models import Asset

    locale = normalise_locale(lang)
    try:
        evaluation = read_yaml(judgments_file) if judgments_file else None
        with registry_session() as (session, settings):
            found = session.exec(select(Asset).where(Asset.project_code == code.strip())).first()
            if found is None:
                refuse(translate(locale, N_("No asset has the project code {code}."), code=code))
            result = score_asset(session, found.id, year=year or current_year(settings.tz),
                                 evaluation=evaluation, rubric=rubric)
    except ScoringInputError as exc:
        refuse(exc.message(locale))
    filled = [{"field": f"facts.{path}", "value": plain(value), "source": step.render(locale)}
              for path, (value, step) in result.filled.sources.items()]
    if output:
        write_xlsx(result.sheet, output, locale)
    if as_json:
        click.echo(json.dumps({**sheet_json(result.sheet, locale), "registry_facts": filled},
                              ensure_ascii=False, indent=2))
        return
    click.echo(render_text(result.sheet, locale), nl=False)
    click.echo(translate(locale, N_("Filled from the registry:")))
    for item in filled:
        click.echo(f"  {item['field']} = {item['value']}  ({item['source']})")


@score.command("classify")
@click.option("--township", required=True, help="Township name or 12-digit division code.")
@click.option("--period", help="Month YYYY-MM (default: this month).")
@click.option("--json", "as_json", is_flag=True, help="Print the suggestions as JSON.")
@click.option("--lang", type=click.Choice(SUPPORTED), default="zh_CN", show_default=True, help="Language.")
def classify_cmd(township: str, period: str | None, as_json: bool, lang: str) -> None:
    """Suggest and store the 四个一批 class of every operating asset of a township."""
    from bot.clock import period_of, utcnow
    from bot.services.assessment import AssessmentError, suggest_classes
    from bot.services.assessment.classes import class_label, reason_steps
    from bot.services.orgs import OrgError, find_unit

    locale = normalise_locale(lang)
    entries = []
    try:
        with registry_session() as (session, settings):
            unit = find_unit(session, township, "township")
            chosen = period or period_of(utcnow(), settings.tz)
            for item in suggest_classes(session, unit, chosen):
                row = item.row
                entries.append({
                    "code": item.asset.project_code, "name": item.asset.name,
                    "suggested": row.suggested if row else None, "confirmed": row.confirmed if row else None,
                    "note": row.note if row else None,
                    "reasons": [s.render(locale) for s in reason_steps(row)] if row else [],
                    "signals": [s.render(locale) for s in reason_steps(row, main=False)] if row else [],
                })
    except (OrgError, AssessmentError) as exc:
        refuse(translate(locale, exc.msgid, **exc.params))
    if as_json:
        click.echo(json.dumps({"township": unit.name, "period": chosen, "assets": entries},
                              ensure_ascii=False, indent=2))
        return
    click.echo(translate(locale, N_("四个一批 of {township}, {period}"), township=unit.name, period=chosen))
    for entry in entries:
        if entry["suggested"] is None:
            verdict = translate(locale, N_("no submitted report to read"))
        else:
            verdict = translate(locale, class_label(entry["suggested"]))
            if entry["confirmed"]:
                verdict += " · " + translate(locale, N_("confirmed: {label}"),
                                             label=translate(locale, class_label(entry["confirmed"])))
        click.echo(f"{entry['name']} ({entry['code']}): {verdict}")
        for reason in entry["reasons"]:
            click.echo(f"  - {reason}")
        for signal in entry["signals"]:
            click.echo(f"  · {signal}")


@score.command("compliance")
@click.option("--scope", "scope_name", required=True,
              help="County, township or village: name or division code.")
@click.option("--period", help="Month YYYY-MM.")
@click.option("--year", type=int, help="Whole year.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--lang", type=click.Choice(SUPPORTED), default="zh_CN", show_default=True, help="Language.")
def compliance_cmd(scope_name: str, period: str | None, year: int | None, as_json: bool, lang: str) -> None:
    """Reporting compliance of a scope and every unit below it, for a month or a year."""
    from bot.services.assessment import AssessmentError, compliance_scores
    from bot.services.orgs import OrgError, find_unit

    locale = normalise_locale(lang)
    if (period is None) == (year is None):
        refuse(translate(locale, N_("Give either --period YYYY-MM or --year YYYY.")))
    try:
        with registry_session() as (session, _settings):
            unit = find_unit(session, scope_name)
            result = compliance_scores(session, unit, period or f"{year:04d}")
    except (OrgError, AssessmentError) as exc:
        refuse(translate(locale, exc.msgid, **exc.params))
    rows = [{"level": level, "scope": unit.name if level == "county" else s.scope, "expected": s.expected,
             "counts": s.counts, "rates": {k: str(v) for k, v in s.rates.items()},
             "score": format(s.score, ".2f")}
            for level, scores in result.levels.items() for s in scores]
    if as_json:
        click.echo(json.dumps({"scope": unit.name, "period": result.period, "as_of": result.as_of.isoformat(),
                               "scores": rows}, ensure_ascii=False, indent=2))
        return
    click.echo(translate(locale, N_("Reporting compliance of {scope}, {period} (as of {day})"),
                         scope=unit.name, period=result.period, day=result.as_of.isoformat()))
    if not rows:
        click.echo(translate(locale, N_("No report was due yet in this period.")))
        return
    click.echo(translate(locale, N_("scope | reports expected | on time % | complete % | valid photos % | "
                                    "problems solved in time % | score")))
    for row in rows:
        rates = row["rates"]
        click.echo(f"{row['scope']} | {row['expected']} | {rates['on_time']} | {rates['complete']} | "
                   f"{rates['evidence']} | {rates['problems']} | {row['score']}")
