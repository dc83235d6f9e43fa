"""The `score` command group: `villagebot score project FILE.yaml [--json] [-o FILE.xlsx] [--lang …]`."""

from __future__ import annotations

import json

import click

from bot.i18n import SUPPORTED, normalise_locale
from bot.scoring.engine import score_facts_file
from bot.scoring.errors import ScoringInputError
from bot.scoring.sheet import render_text, sheet_json
from bot.scoring.xlsx import write_xlsx

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
    """Score one project's facts file and print its score sheet."""
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
