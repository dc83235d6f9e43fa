"""Printable A4 signboards (PDF and PNG) and QR codes of assets' public pages.

The signboard carries the asset's permanent disclosed facts (those of ``bot.services.public``
that do not change month to month) in Chinese and the QR code of ``{public_url}/p/<token>``,
where the live facts are. Chinese needs a real CJK TrueType font: ``find_cjk_font`` looks for
one (fc-match, then known paths) and raises ``SignboardError`` naming the package to install,
so a missing font never prints empty boxes. reportlab embeds TrueType outlines only, so the
CFF-based Noto Sans CJK does not qualify; WenQuanYi Micro Hei does.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFont
from sqlmodel import Session, select

from bot.i18n import N_, translate
from bot.services import access, public
from bot.services.qr import qr_image, write_qr_png
from bot.storage.models import Asset, OrgUnit
from bot.web import labels

LOCALE = "zh_CN"
FONT_PACKAGE = "fonts-wqy-microhei"
KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
PROBE = "村资产公示"
A4_PT = (595.28, 841.89)
PNG_DPI = 150
MSG_NO_FONT = N_("No Chinese font was found, so the signboard cannot be printed. "
                 "Install the {package} package (scripts/system-deps.sh does) "
                 "or pass --font with a TrueType font file (.ttf/.ttc).")
MSG_BAD_FONT = N_("The font {path} cannot print Chinese. Use a TrueType CJK font such as {package}.")
MSG_LOCAL_URL = N_("The QR codes would point to {url}, an address only this computer or office network can open: "
                   "villagers scanning the signboard would reach nothing. Set VILLAGEBOT_PUBLIC_URL to the "
                   "public https address of this service (for example https://zichan.example.gov.cn) and "
                   "print again.")
MSG_NOT_HTTPS = N_("The QR codes would point to {url}, which is not an https address: phones warn about it or "
                   "refuse it, and a printed sign cannot be changed later. Set VILLAGEBOT_PUBLIC_URL to the "
                   "public https address of this service (for example https://zichan.example.gov.cn) and "
                   "print again.")
MSG_TEST_ONLY = N_("Only for a test print: pass --allow-local-url, or set VILLAGEBOT_ALLOW_LOCAL_PUBLIC_URL=1.")
MSG_NO_ASSETS = N_("{unit} has no assets to print signboards for.")
MSG_UNIT_LEVEL = N_("Choose a township or a village.")
DATE = N_("{year}-{month}-{day}")
TITLE = N_("Poverty-alleviation project asset disclosure")
SCAN = N_("Scan to see this asset's income, checks and photos, or to report a problem")


class SignboardError(RuntimeError):
    """A signboard cannot be made; ``msgid`` is translatable."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


def _covers_chinese(path: Path) -> bool:
    """Return whether reportlab can embed ``path`` and it has glyphs for Chinese."""
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        font = TTFont("probe", str(path), subfontIndex=0)
    except (TTFError, OSError, ValueError):
        return False
    return all(ord(ch) in font.face.charToGlyph for ch in PROBE)


def _fc_match() -> list[str]:
    if shutil.which("fc-match") is None:
        return []
    found = []
    for pattern in ("WenQuanYi Micro Hei", ":lang=zh-cn"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True,
                                 timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out:
            found.append(out)
    return found


def find_cjk_font(explicit: Path | None = None, candidates: Iterable[str] | None = None) -> Path:
    """Return a TrueType font file that prints Chinese; raise SignboardError when there is none."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file() or not _covers_chinese(path):
            raise SignboardError(MSG_BAD_FONT, path=str(path), package=FONT_PACKAGE)
        return path
    for name in (list(candidates) if candidates is not None else [*_fc_match(), *KNOWN_FONTS]):
        path = Path(name)
        if path.is_file() and _covers_chinese(path):
            return path
    raise SignboardError(MSG_NO_FONT, package=FONT_PACKAGE)


# Host names that never resolve on the public internet.
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".lan", ".home", ".intranet", ".corp")


def url_problem(base: str) -> str | None:
    """Return why ``base`` cannot go on a permanent sign (a msgid taking ``url``), or None when it can.

    Refused: a loopback, private, link-local or unspecified address, a host name that only resolves
    locally (``localhost``, a name without a dot, ``.local`` …), and anything that is not https.
    """
    parts = urlsplit(base)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or host == "localhost" or "." not in host and ":" not in host or host.endswith(_LOCAL_SUFFIXES):
        return MSG_LOCAL_URL
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and not ip.is_global:
        return MSG_LOCAL_URL
    if parts.scheme != "https":
        return MSG_NOT_HTTPS
    return None


def check_public_url(base: str, *, allow_local: bool = False) -> None:
    """Raise SignboardError when signs for ``base`` would be unusable, unless ``allow_local`` (a test print)."""
    problem = url_problem(base)
    if problem is not None and not allow_local:
        raise SignboardError(problem, url=base.rstrip("/") + "/p/…")


def date_words(day: dt.date | None) -> str:
    """Return a date as people write it (2020年1月1日), '' for None."""
    if day is None:
        return ""
    return translate(LOCALE, DATE, year=day.year, month=day.month, day=day.day)


def public_url(base: str, token: str) -> str:
    """Return the public page address encoded in an asset's QR code."""
    return f"{base.rstrip('/')}/p/{token}"


def facts(d: public.Disclosure) -> list[tuple[str, str]]:
    """Return the signboard's (label, value) lines in Chinese: the permanent disclosed facts."""
    def t(msgid: str, **params: object) -> str:
        return translate(LOCALE, msgid, **params)

    money = public.format_money
    kind = t(labels.label(labels.ASSET_TYPES, d.asset_type))
    if d.industry_category:
        kind += " · " + t(labels.label(labels.INDUSTRIES, d.industry_category))
    funds = t(N_("{amount} ten-thousand yuan in total"), amount=money(d.funds_total))
    if d.funds:
        funds += "（" + "，".join(f"{t(labels.FUND_SOURCES[s])} {money(a)}" for s, a in d.funds) + "）"
    lines = [
        (t(N_("Asset name")), d.name),
        (t(N_("Location")), " ".join(x for x in (d.county, d.township, d.village) if x)),
        (t(N_("Type")), kind),
        (t(N_("Funds")), funds),
        (t(N_("Year built")), t(N_("{year}"), year=d.year_completed) if d.year_completed else ""),
        (t(N_("Owner")), d.owner or ""),
        (t(N_("Custodian")), d.custodian or ""),
        (t(N_("Operator")), d.operator or ""),
    ]
    if d.contract_start or d.contract_end:
        lines.append((t(N_("Contract period")),
                      f"{date_words(d.contract_start) or '…'} – {date_words(d.contract_end) or '…'}"))
    if d.supervision_phone:
        lines.append((t(N_("Supervision telephone")), d.supervision_phone))
    return [(label, value) for label, value in lines if value]


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (character by character, as Chinese allows)."""
    lines, current = [], ""
    for ch in text:
        if measure(current + ch) > width and current:
            lines.append(current)
            current = ch.lstrip()
        else:
            current += ch
    return [*lines, current] if current else lines


@dataclass(frozen=True)
class Layout:
    """Sizes in points on an A4 page (the PNG scales them by its DPI)."""

    margin: float = 48
    title: float = 26
    name: float = 20
    body: float = 14
    leading: float = 1.45
    qr: float = 230


def _draw(d: public.Disclosure, url: str, *, text: Callable[[float, float, str, float], None],
          measure: Callable[[str, float], float], qr: Callable[[float, float, float], None],
          layout: Layout = Layout()) -> None:
    """Lay the signboard out once for both outputs; y grows downwards from the page top."""
    width, height = A4_PT
    inner = width - 2 * layout.margin
    y = layout.margin
    title = translate(LOCALE, TITLE)
    text((width - measure(title, layout.title)) / 2, y, title, layout.title)
    y += layout.title * 2
    label_w = max(measure(label + "：", layout.body) for label, _ in facts(d))
    for label, value in facts(d):
        text(layout.margin, y, label + "：", layout.body)
        for part in wrap(value, inner - label_w, lambda s: measure(s, layout.body)):
            text(layout.margin + label_w, y, part, layout.body)
            y += layout.body * layout.leading
        y += layout.body * 0.3
    qr_top = max(y + 16, height - layout.margin - layout.qr - layout.body * 5)
    qr((width - layout.qr) / 2, qr_top, layout.qr)
    y = qr_top + layout.qr + 8
    for part in wrap(translate(LOCALE, SCAN), inner, lambda s: measure(s, layout.body)):
        text((width - measure(part, layout.body)) / 2, y, part, layout.body)
        y += layout.body * layout.leading
    small = layout.body * 0.8
    text((width - measure(url, small)) / 2, y, url, small)


@lru_cache(maxsize=4)
def _reportlab_font(path: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = "CJK-" + Path(path).stem
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    return name


def _pdf_page(page, d: public.Disclosure, url: str, name: str) -> None:
    """Draw one signboard on the current page of a reportlab canvas and end the page."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics

    height = A4_PT[1]

    def text(x: float, y: float, s: str, size: float) -> None:
        page.setFont(name, size)
        page.drawString(x, height - y - size, s)

    def qr(x: float, y: float, size: float) -> None:
        page.drawImage(ImageReader(qr_image(url)), x, height - y - size, size, size)

    _draw(d, url, text=text, measure=lambda s, size: pdfmetrics.stringWidth(s, name, size), qr=qr)
    page.showPage()


def write_pdf(d: public.Disclosure, url: str, path: Path, font: Path) -> Path:
    """Write the A4 signboard as a PDF with the font embedded."""
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(str(path), pagesize=A4_PT)
    page.setTitle(d.name)
    _pdf_page(page, d, url, _reportlab_font(str(font)))
    page.save()
    return path


def write_many_pdf(boards: Iterable[tuple[public.Disclosure, str]], out: Path | BinaryIO, font: Path,
                   title: str = "") -> int:
    """Write several signboards, one A4 page each, into one PDF (a path or a binary file); return the pages."""
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(out if not isinstance(out, Path) else str(out), pagesize=A4_PT)
    page.setTitle(title)
    name = _reportlab_font(str(font))
    pages = 0
    for d, url in boards:
        _pdf_page(page, d, url, name)
        pages += 1
    page.save()
    return pages


def write_png(d: public.Disclosure, url: str, path: Path, font: Path, dpi: int = PNG_DPI) -> Path:
    """Write the A4 signboard as a PNG at ``dpi``."""
    scale = dpi / 72
    image = Image.new("RGB", (round(A4_PT[0] * scale), round(A4_PT[1] * scale)), "white")
    draw = ImageDraw.Draw(image)
    fonts: dict[float, ImageFont.FreeTypeFont] = {}

    def face(size: float) -> ImageFont.FreeTypeFont:
        if size not in fonts:
            fonts[size] = ImageFont.truetype(str(font), round(size * scale), index=0)
        return fonts[size]

    def text(x: float, y: float, s: str, size: float) -> None:
        draw.text((x * scale, y * scale), s, font=face(size), fill="black")

    def qr(x: float, y: float, size: float) -> None:
        code = qr_image(url).convert("RGB").resize((round(size * scale),) * 2, Image.Resampling.NEAREST)
        image.paste(code, (round(x * scale), round(y * scale)))

    _draw(d, url, text=text, measure=lambda s, size: face(size).getlength(s) / scale, qr=qr)
    image.save(path, format="PNG", dpi=(dpi, dpi))
    return path


@dataclass(frozen=True)
class Written:
    """The files made for one asset."""

    project_code: str
    url: str
    qr_png: Path
    pdf: Path
    png: Path


def safe_name(project_code: str) -> str:
    """Return a project code usable as a file name (path separators and odd characters replaced)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in project_code).strip(".")
    return cleaned or "asset"


def write_village(session: Session, village: OrgUnit, out_dir: Path, *, base_url: str, tz,
                  supervision_phone: str = "", font: Path | None = None) -> list[Written]:
    """Write ``<code>.png`` (QR), ``<code>-signboard.pdf`` and ``.png`` for each asset of a village."""
    font_path = find_cjk_font(font)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    assets = session.exec(select(Asset).where(Asset.village_id == village.id, Asset.status != "deleted")
                          .order_by(Asset.project_code)).all()
    for asset in assets:
        d = public.disclosure(session, asset, tz=tz, supervision_phone=supervision_phone)
        url = public_url(base_url, asset.public_token)
        stem = safe_name(asset.project_code)
        written.append(Written(
            asset.project_code, url, write_qr_png(url, out_dir / f"{stem}.png"),
            write_pdf(d, url, out_dir / f"{stem}-signboard.pdf", font_path),
            write_png(d, url, out_dir / f"{stem}-signboard.png", font_path)))
    return written


def unit_assets(session: Session, unit: OrgUnit) -> list[Asset]:
    """Return the assets (not deleted) of a village, or of every village of a township, by village and code."""
    if unit.level not in ("village", "township"):
        raise SignboardError(MSG_UNIT_LEVEL)
    return list(session.exec(
        select(Asset).join(OrgUnit, Asset.village_id == OrgUnit.id)
        .where(OrgUnit.path.like(unit.path + "%"), Asset.status != "deleted")
        .order_by(OrgUnit.path, Asset.project_code)).all())


def printable_units(session: Session, user) -> list[tuple[OrgUnit, int]]:
    """Return the townships and villages within ``user``'s area (tree order) with their number of assets."""
    from sqlalchemy import func

    access.require(session, user, "signboard.print")
    counts = dict(session.exec(
        select(Asset.village_id, func.count()).where(Asset.status != "deleted").group_by(Asset.village_id)).all())
    units = session.exec(select(OrgUnit).where(OrgUnit.level.in_(("township", "village")),
                                               access.scope_filter(session, user)).order_by(OrgUnit.path)).all()
    by_township: dict[int, int] = {}
    for unit in units:
        if unit.level == "village" and unit.parent_id is not None:
            by_township[unit.parent_id] = by_township.get(unit.parent_id, 0) + counts.get(unit.id, 0)
    return [(u, counts.get(u.id, 0) if u.level == "village" else by_township.get(u.id, 0)) for u in units]


def unit_pdf(session: Session, user, unit_id: int, out: Path | BinaryIO, *, base_url: str, tz,
             supervision_phone: str = "", font: Path | None = None, allow_local: bool = False) -> tuple[OrgUnit, int]:
    """Write the signboards of a township's or village's assets as one PDF for ``user`` (who must be
    allowed to print signboards there); refuse an address that cannot go on a sign. Return the unit and pages."""
    unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
    if unit is None:
        raise access.AccessDenied(N_("This is outside your area."))
    access.require(session, user, "signboard.print", unit)
    check_public_url(base_url, allow_local=allow_local)
    return unit, write_unit_pdf(session, unit, out, base_url=base_url, tz=tz,
                                supervision_phone=supervision_phone, font=font)


def write_unit_pdf(session: Session, unit: OrgUnit, out: Path | BinaryIO, *, base_url: str, tz,
                   supervision_phone: str = "", font: Path | None = None) -> int:
    """Write the signboards of every asset of a township or village into one PDF; return the pages."""
    font_path = find_cjk_font(font)
    assets = unit_assets(session, unit)
    if not assets:
        raise SignboardError(MSG_NO_ASSETS, unit=unit.name)
    boards = ((public.disclosure(session, a, tz=tz, supervision_phone=supervision_phone),
               public_url(base_url, a.public_token)) for a in assets)
    return write_many_pdf(boards, out, font_path, title=unit.name)
