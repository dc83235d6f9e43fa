"""The `qr` command: `villagebot qr --village CODE_OR_NAME -o DIR` writes QR codes and A4 signboards."""

from __future__ import annotations

from pathlib import Path

import click

from bot.i18n import N_


@click.command("qr")
@click.option("--village", "village_key", required=True, help="The village's 12-digit code or its name.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write <project_code>.png and the signboards into.")
@click.option("--font", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A TrueType CJK font file (default: found with fc-match).")
@click.pass_obj
def qr(ctx, village_key: str, output: Path, font: Path | None) -> None:
    """Write each asset's QR code (PNG) and printable A4 signboard (PDF and PNG) for one village."""
    from sqlmodel import Session

    from bot.services.orgs import OrgError, find_unit
    from bot.services.signboard import SignboardError, write_village

    settings = ctx.settings
    with Session(ctx.engine) as session:
        try:
            village = find_unit(session, village_key, level="village")
            written = write_village(session, village, output, base_url=settings.public_url, tz=settings.tz,
                                    supervision_phone=settings.supervision_phone, font=font)
        except (OrgError, SignboardError) as exc:
            ctx.fail(exc.msgid, **exc.params)
            return
    for item in written:
        click.echo(f"{item.project_code}\t{item.url}")
    click.echo(ctx.t(N_("Wrote QR codes and signboards for {n} assets of {village} to {folder}."),
                     n=len(written), village=village.name, folder=str(output)))
