"""A crawler per role in real Chromium, at a phone's 360×740 and a desk's 1280×800.

Signed in through a real sign-in link, it starts at the role's home (/home) and follows only what a person
can follow: links within the site, and the buttons of GET forms (never a POST: the crawl changes nothing).
Every page is visited once (at most ``PER_SHAPE`` pages of one shape, e.g. /problems/<id>, and ``MAX_PAGES``
in all) and must show:

- no 4xx/5xx answer;
- no English word on a Chinese page (``ALLOWED_WORDS``: brand names, file types, units);
- no raw msgid or internal code (``INTERNAL``: ``in_hand``, ``2026Q4``, ``2026-H2``, ``2026-12``, ``sha256:``,
  ``{placeholder}``, snake_case keys);
- nothing wider than the viewport (the document's scrollWidth, and every element outside a ``.scroll``
  wrapper: a wide table scrolls inside its card);
- tap targets of at least 44 × 44 px for the links and buttons of the header and the main content.

The pages visited must include the role's ``MUST_REACH`` pages and every entry of its home menu
(``bot.web.menu``), so a page added by anyone is crawled, and must be reachable, as soon as it is in the menu.
Downloads (exports) are fetched, not opened: they must answer 200.

Screenshots (PNG, full page) go to ``$VILLAGEBOT_ARTIFACTS/crawl/<role>-<width>/`` (default
``test-artifacts/`` at the repository root, gitignored), one per page, named by visit order and path.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import uvicorn
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import reports, weblinks
from bot.storage.models import Problem, Report, User
from bot.web import menu
from bot.web.app import create_app
from tests.browser import CHROMIUM_ARGS
from tests.oversight.conftest import populate

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("VILLAGEBOT_ARTIFACTS") or ROOT / "test-artifacts") / "crawl"
VIEWPORTS = ((360, 740), (1280, 800))
MAX_PAGES = 40      # per role and viewport
PER_SHAPE = 2       # pages of one shape (/problems/<id>, /oversight/<id>?month=…) visited per crawl
MIN_TAP = 44        # px, both ways

# Which of the world's users plays each role.
PLAYERS = {"village_cadre": "cadre", "village_supervisor": "supervisor", "township_leader": "leader_a",
           "county_officer": "county", "department_officer": "department", "admin": "admin"}
NAMES = {"cadre": "王村干", "supervisor": "李监督", "leader_a": "张镇长", "leader_b": "赵乡长", "county": "陈科长",
         "department": "刘主任", "foreign_county": "周科长", "admin": "系统管理员"}

# The pages each role must reach from its home by links alone ({unit}: the user's own unit). The menu's
# entries are required too (see ``menu_paths``), so pages that register in the menu later join by themselves.
MUST_REACH = {
    "village_cadre": {"/home", "/f", "/f/report/{report}", "/me/sessions"},
    "village_supervisor": {"/home", "/f", "/f/signoff/{signoff}", "/me/sessions"},
    "township_leader": {"/home", "/review", "/problems", "/problems/{problem}", "/duties", "/duties/review",
                        "/oversight/{unit}", "/people/waiting", "/villager-reports", "/me/sessions"},
    "county_officer": {"/home", "/problems", "/problems/{problem}", "/duties", "/duties/grade",
                       "/oversight/{unit}", "/oversight/{township}", "/people/waiting", "/villager-reports",
                       "/me/sessions"},
    "department_officer": {"/home", "/problems", "/duties", "/oversight/{unit}", "/me/sessions"},
    "admin": {"/home", "/review", "/problems", "/duties", "/oversight",
              "/oversight/{county}", "/people/waiting", "/villager-reports", "/me/sessions"},
}

# Findings on pages whose modules other work is rewriting as this test is written (issue 15): listed here
# with their owner so that they show as warnings, not failures; each line goes when that work is merged.
# (page shape regex, finding regex, owner)
TOLERATED: list[tuple[str, str, str]] = []  # (page, finding, why) of findings another piece of work will fix

# Latin words a Chinese page may show: brand and product names, file types, units, the language switch.
ALLOWED_WORDS = {
    "villagebot", "english", "telegram", "wechat", "wecom", "dingtalk", "qr", "pdf", "xlsx", "csv", "excel",
    "yaml", "yml", "https", "http",
    "chrome", "chromium", "firefox", "safari", "edge", "windows", "android", "iphone", "ipad", "mac", "macos",
    "linux", "headlesschrome", "kwh", "kw", "mb", "kb", "gb", "km", "id",
}
WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z']+(?![A-Za-z0-9_])")
INTERNAL = {
    "snake_case key": re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"),
    "quarter code": re.compile(r"\b\d{4}-?Q[1-4]\b"),
    "half-year code": re.compile(r"\b\d{4}-?H[12]\b"),
    "month label": re.compile(r"(?<![\d-])20\d\d-(0[1-9]|1[0-2])(?![\d-])"),
    "hash": re.compile(r"sha256:|\b[0-9a-f]{40,}\b"),
    "placeholder": re.compile(r"\{[A-Za-z_]+\}"),
}
# Addresses a crawl never opens: signing out, files (fetched instead), the API, anything that is not a page.
SKIP = re.compile(r"^/(auth/|api/|static/|favicon\.ico|openapi\.json|docs|redoc|telegram/)")
DOWNLOAD = re.compile(r"/export(/|$)|\.(pdf|xlsx|csv|png|jpg|zip)$")

# What a page reports to the crawler, measured in the browser.
MEASURE = """() => {
  const vw = window.innerWidth;
  const outside = el => !el.closest('.scroll');
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && outside(el)) {
      wide.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className : '')
                + ' ' + Math.round(r.right) + 'px');
    }
  }
  const small = [];
  for (const el of document.querySelectorAll('header a[href], main a[href], main button, main input[type=submit]')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || style.visibility === 'hidden' || style.display === 'none') continue;
    if (r.height < %(tap)d || r.width < %(tap)d) {
      small.push((el.innerText || el.value || el.getAttribute('href') || '').trim().slice(0, 30)
                 + ' ' + Math.round(r.width) + '×' + Math.round(r.height));
    }
  }
  const links = Array.from(document.querySelectorAll('a[href]')).filter(a => !a.hasAttribute('download'))
    .map(a => a.href);
  const forms = Array.from(document.querySelectorAll('form')).filter(f => (f.method || 'get').toLowerCase() === 'get')
    .map(f => { const u = new URL(f.action || location.href);
                new FormData(f).forEach((v, k) => { if (typeof v === 'string') u.searchParams.set(k, v); });
                return u.href; });
  return {lang: document.documentElement.lang, text: document.body.innerText,
          scrollWidth: document.documentElement.scrollWidth, innerWidth: vw,
          wide: wide.slice(0, 5), small: small.slice(0, 8), links, forms};
}""".replace("%(tap)d", str(MIN_TAP))


@dataclass
class Crawl:
    """What one crawl saw: the pages visited (by path), the downloads fetched, and every finding."""

    visited: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


def shape(path: str, query: str) -> str:
    """Return a page's shape: its path with ids as <id>, and the names (not values) of its query."""
    keys = sorted({k for k, _ in parse_qsl(query) if k != "lang"})
    return re.sub(r"/\d+", "/<id>", path) + ("?" + "&".join(keys) if keys else "")


def english_words(text: str) -> list[str]:
    """Return the Latin words of a page's text that no allow-list excuses."""
    text = re.sub(r"https?://\S+", " ", text)  # an address shown as such (the public URL of the signboards)
    return sorted({w for w in WORD.findall(text) if w.lower().strip("'") not in ALLOWED_WORDS
                   and not re.fullmatch(r"[A-F0-9]{4}", w)})  # a group of the audit's check code (EFDB 12A0 …)


def internal_codes(text: str) -> list[str]:
    """Return the internal codes, raw msgids' placeholders and stored labels shown in a page's text."""
    return [f"{name}: {m.group(0)}" for name, rx in INTERNAL.items() for m in rx.finditer(text)][:8]


def crawl(context, base: str, start: str, out: Path, request) -> Crawl:
    """Visit every page reachable from ``start`` by links and GET forms; check each and screenshot it."""
    seen_urls: set[str] = set()
    shapes: Counter[str] = Counter()
    queue = [start]
    result = Crawl()
    page = context.new_page()
    while queue and len(result.visited) < MAX_PAGES:
        url = queue.pop(0)
        parts = urlsplit(url)
        query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if k != "lang"))
        key = parts.path + ("?" + query if query else "")
        if key in seen_urls:
            continue
        seen_urls.add(key)
        if DOWNLOAD.search(parts.path):
            if len(result.downloads) < 12:
                answer = request.get(url)
                result.downloads.append(parts.path)
                if answer.status >= 400:
                    result.findings.append(f"{key}: download answered {answer.status}")
            continue
        if shapes[shape(parts.path, parts.query)] >= PER_SHAPE:
            continue
        shapes[shape(parts.path, parts.query)] += 1
        try:
            response = page.goto(url, wait_until="load")
        except Exception as exc:  # noqa: BLE001 - a link whose answer is a file (Content-Disposition)
            if "Download is starting" not in str(exc):
                raise
            answer = request.get(url)
            result.downloads.append(parts.path)
            if answer.status >= 400:
                result.findings.append(f"{key}: download answered {answer.status}")
            continue
        status = response.status if response is not None else 0
        result.visited.append(key)
        where = f"{key} (at {page.viewport_size['width']} px)"
        if status >= 400:
            result.findings.append(f"{where}: answered {status}")
        seen = page.evaluate(MEASURE)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-") or "root"
        page.screenshot(path=str(out / f"{len(result.visited):02d}-{slug[:60]}.png"), full_page=True)
        if seen["lang"] == "zh-CN":
            if words := english_words(seen["text"]):
                result.findings.append(f"{where}: English on a Chinese page: {words[:8]}")
            if codes := internal_codes(seen["text"]):
                result.findings.append(f"{where}: internal code shown: {codes}")
        if seen["scrollWidth"] > seen["innerWidth"]:
            result.findings.append(f"{where}: the page is {seen['scrollWidth']} px wide: {seen['wide']}")
        elif seen["wide"]:
            result.findings.append(f"{where}: elements wider than the viewport: {seen['wide']}")
        if seen["small"]:
            result.findings.append(f"{where}: tap targets under {MIN_TAP} px: {seen['small']}")
        for link in seen["links"] + seen["forms"]:
            target = urlsplit(link)
            if link.startswith(base) and not SKIP.match(target.path):
                queue.append(base + target.path + ("?" + target.query if target.query else ""))
    page.close()
    return result


@dataclass
class Site:
    base: str
    engine: object
    settings: object
    world: object
    places: dict[str, int]


def _world(session: Session):
    """The oversight test county (two townships, reports, problems, classes), with people's names in Chinese,
    plain project codes, this month's reports of the cadre (one submitted, one sent back with a reason) and the
    village's year-end self-evaluation waiting for the supervisor's sign-off."""
    world = populate(session)
    for key, user in world.users.items():
        user.name = NAMES[key]
        session.add(user)
    for n, asset in enumerate(world.assets.values(), 1):
        asset.project_code = f"4305251{n:05d}"
        session.add(asset)
    period = reports.current_period(tz=dt.timezone(dt.timedelta(hours=8)))
    now = utcnow()
    cadre = world.users["cadre"]
    done = Report(asset_id=world.assets["workshop"].id, form_id="monthly-operating", period=period,
                  status="submitted", answers={"operating_normally": "yes"}, position="__review__",
                  created_by=cadre.id, submitted_by=cadre.id, submitted_at=now, channel="web")
    returned = Report(asset_id=world.assets["greenhouse"].id, form_id="monthly-operating", period=period,
                      status="draft", answers={"operating_normally": "yes"}, position="__review__",
                      created_by=cadre.id, channel="web", review_note="请补充公开栏照片")
    yearend = Report(org_unit_id=world.tree.village_a1.id, form_id="yearend-self-evaluation", period="2026",
                     status="submitted", position="__review__", created_by=cadre.id, submitted_by=cadre.id,
                     submitted_at=now, channel="web", answers={"targets_met": "most", "self_score": 92,
                                                               "summary": "道路完好，车间分红到户。"})
    session.add_all([done, returned, yearend])
    session.commit()
    problem = session.exec(select(Problem.id).where(Problem.asset_id == world.assets["workshop"].id)).first()
    return world, {"report": done.id, "problem": problem, "signoff": yearend.id}


@pytest.fixture
def site(sqlite_engine, settings):
    """The app under uvicorn (one worker, in a thread) on the populated county."""
    with Session(sqlite_engine, expire_on_commit=False) as session:
        world, places = _world(session)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings.model_copy(update={"public_url": base})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, sqlite_engine), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield Site(base, sqlite_engine, settings, world, places)
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def must_reach(role: str, user: User, site: Site) -> set[str]:
    """The role's required pages with its own ids filled in."""
    tree = site.world.tree
    ids = {"unit": user.org_unit_id, "township": tree.township_a.id, "county": tree.county.id, **site.places}
    return {re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), p) for p in MUST_REACH[role]}


def menu_paths(user: User) -> set[str]:
    """Every page of the user's home menu (its path, without a query)."""
    return {href.split("?")[0] for _section, entries in menu.for_user(user) for _entry, href in entries}


@pytest.mark.parametrize("role", list(MUST_REACH))
def test_every_page_a_role_may_use_is_reached_by_links_and_reads_right(site, chromium, role):
    with Session(site.engine) as session:
        user = session.get(User, site.world.users[PLAYERS[role]].id)
        wanted = must_reach(role, user, site) | menu_paths(user)
    findings: list[str] = []
    for width, height in VIEWPORTS:
        with Session(site.engine) as session:
            link = weblinks.create_link(session, session.get(User, user.id), secret=site.settings.secret_key,
                                        public_url=site.base)
            session.commit()
        mobile = width < 600
        context = chromium.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                       is_mobile=mobile, has_touch=mobile, locale="zh-CN")
        try:
            tab = context.new_page()
            assert tab.goto(link).status == 200 and urlsplit(tab.url).path == "/home"
            tab.close()
            out = ARTIFACTS / f"{role}-{width}"
            out.mkdir(parents=True, exist_ok=True)
            for old in out.glob("*.png"):
                old.unlink()
            result = crawl(context, site.base, f"{site.base}/home", out, context.request)
        finally:
            context.close()
        reached = {key.split("?")[0] for key in result.visited}
        missing = sorted(wanted - reached)
        assert not missing, f"{role} at {width} px did not reach {missing} (visited {sorted(reached)})"
        findings += result.findings
    tolerated = [f for f in findings if any(re.search(page, f) and re.search(what, f) for page, what, _ in TOLERATED)]
    for finding in tolerated:
        warnings.warn(f"tolerated until its owner's work is merged: {role}: {finding}", stacklevel=1)
    failures = [f for f in findings if f not in tolerated]
    assert not failures, f"{role}:\n" + "\n".join(failures)


def test_the_crawlers_checks_catch_what_they_are_meant_to(chromium):
    """The checks themselves: English and codes in text, a page too wide, an element too wide, a small link."""
    assert english_words("新桥村 · English · 2026年 · PDF · Pending review · kWh") == ["Pending", "review"]
    assert [c.split(":")[0] for c in internal_codes("处理中 in_hand 2026Q4 2026-H2 2026-12 sha256:ab {count}")] == [
        "snake_case key", "quarter code", "half-year code", "month label", "hash", "placeholder"]
    assert internal_codes("2026年12月 · 2026-12-02 · 2026年第四季度") == []
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.set_content('<html lang="zh-CN"><body><header><a href="/home">首页</a></header><main>'
                         '<div class="scroll" style="overflow-x:auto"><table><tr><td style="min-width:900px">宽'
                         '</td></tr></table></div><p><a href="/x" style="font-size:10px">小</a></p>'
                         '<div style="width:500px">太宽</div></main></body></html>')
        seen = page.evaluate(MEASURE)
    finally:
        context.close()
    assert seen["scrollWidth"] > 360 and [w.split()[0] for w in seen["wide"]] == ["div"]  # .scroll is allowed
    assert any(s.startswith("小 ") for s in seen["small"]) and any(s.startswith("首页 ") for s in seen["small"])
