"""The `qr` command: `villagebot qr --village CODE_OR_NAME -o DIR` writes QR codes and A4 signboards.

A QR code on a permanent sign must point at an address villagers' phones can open: the command refuses a
loopback, private or non-https ``VILLAGEBOT_PUBLIC_URL`` unless ``--allow-local-url`` (or
``VILLAGEBOT_ALLOW_LOCAL_PUBLIC_URL=1``) says it is a test print.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.i18n import N_


@click.command("qr")
@click.option("--village", "village_key", default=None, help="The village's 12-digit code or its name.")
@click.option("--township", "township_key", default=None,
              help="Instead of --village: every village of this township (12-digit code or name).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write <project_code>.png and the signboards into.")
@click.option("--font", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A TrueType CJK font file (default: found with fc-match).")
@click.option("--allow-local-url", is_flag=True, default=False,
              help="Print even when VILLAGEBOT_PUBLIC_URL is a local or non-https address (test prints only).")
@click.pass_obj
def qr(ctx, village_key: str | None, township_key: str | None, output: Path, font: Path | None,
       allow_local_url: bool) -> None:
    """Write each asset's QR code (PNG) and printable A4 signboard (PDF and PNG) for a village or township."""
    from sqlmodel import Session, select

    from bot.services.orgs import OrgError, find_unit
    from bot.services.signboard import MSG_TEST_ONLY, SignboardError, check_public_url, write_village
    from bot.storage.models import OrgUnit

    if (village_key is None) == (township_key is None):
        ctx.fail(N_("Give either --village or --township."))
        return
    settings = ctx.settings
    try:
        check_public_url(settings.public_url, allow_local=allow_local_url or settings.allow_local_public_url)
    except SignboardError as exc:
        click.echo(ctx.t(exc.msgid, **exc.params), err=True)
        ctx.fail(MSG_TEST_ONLY)
        return
    written = []
    with Session(ctx.engine) as session:
        try:
            if village_key is not None:
                unit = find_unit(session, village_key, level="village")
                villages = [unit]
            else:
                unit = find_unit(session, township_key, level="township")
                villages = list(session.exec(select(OrgUnit).where(OrgUnit.parent_id == unit.id,
                                                                   OrgUnit.level == "village")
                                             .order_by(OrgUnit.path)).all())
            for village in villages:
                written += write_village(session, village, output, base_url=settings.public_url, tz=settings.tz,
                                         supervision_phone=settings.supervision_phone, font=font)
        except (OrgError, SignboardError) as exc:
            ctx.fail(exc.msgid, **exc.params)
            return
    for item in written:
        click.echo(f"{item.project_code}\t{item.url}")
    click.echo(ctx.t(N_("Wrote QR codes and signboards for {n} assets of {village} to {folder}."),
                     n=len(written), village=unit.name, folder=str(output)))
