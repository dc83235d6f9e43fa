"""The `wecom` commands: record a person's WeCom account, and the invite link that opens in WeCom.

    villagebot wecom record USER_ID WECOM_USERID   # the member id from the WeCom admin console (通讯录)
    villagebot wecom link INVITE_CODE [--qr FILE]  # the invite as a link / QR code to open in WeCom
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

from bot.i18n import N_


@click.group("wecom")
def wecom() -> None:
    """WeCom (企业微信) app: people's accounts and invite links (docs/wecom.md)."""


@wecom.command("record")
@click.argument("user_id", type=int)
@click.argument("wecom_userid")
@click.pass_obj
def record(ctx, user_id: int, wecom_userid: str) -> None:
    """Record the WeCom account (UserId) of a user: they receive their messages in WeCom at once."""
    from sqlmodel import Session

    from bot.services import wecom_people
    from bot.storage.models import User

    with Session(ctx.engine) as session:
        user = session.get(User, user_id) if 0 < user_id < 2 ** 31 else None
        if user is None:
            ctx.fail(N_("There is no user with the id {id}."), id=user_id)
            return
        try:
            wecom_people.record(session, None, user, wecom_userid)
        except wecom_people.WeComBindError as exc:
            ctx.fail(exc.msgid, **exc.params)
            return
        session.commit()
        click.echo(ctx.t(N_("Recorded: {name} is {userid} in WeCom."), name=user.name, userid=wecom_userid.strip()))


@wecom.command("link")
@click.argument("invite_code")
@click.option("--qr", "qr_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the link as a QR code (PNG) to scan with WeCom.")
@click.pass_obj
def link(ctx, invite_code: str, qr_path: Path | None) -> None:
    """Print the invite link that binds the WeCom account of whoever opens it in WeCom."""
    url = f"{ctx.settings.public_url}/wecom/join/{quote(invite_code.strip(), safe='')}"
    click.echo(url)
    if qr_path is not None:
        from bot.services.qr import write_qr_png

        write_qr_png(url, qr_path)
