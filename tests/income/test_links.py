"""Issue 17's pages link only where the link opens: for every role of the county (``tests.worlds``, with a village
supervisor and an administrator added), every link on the income, inventory, disposal and contract pages — and on
the pages they lead to within those areas — answers 200 to that user. The links a page shows or hides by the
viewer's rights (the ledger's asset page from the income page, the contract page from the ledger's, the request
from a disposal's page) show exactly when their target opens. A page outside the viewer's area or role answers
as it did: 404, 403 or 400, never a page."""

from __future__ import annotations

import html
import re
from collections import Counter
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlmodel import Session

from bot.services import contracts, disposal, income
from bot.services.income import ShareIn
from bot.storage.models import OrgUnit, User
from tests.factories import make_user
from tests.income.conftest import NOW

PDF = b"%PDF-1.4\n% valuation report\n"
SHARES = [ShareIn("households", "60", "45"), ShareIn("public_jobs", "30", "6"), ShareIn("reinvest", "10")]
# The areas whose pages are followed further; any other page linked from them is opened, not followed.
AREAS = ("/income", "/inventory", "/disposals", "/ledger/assets/")
HREF = re.compile(r'href="([^"]+)"')
PER_SHAPE = 3  # pages of one shape (/income/assets/<n>?year=<n>, …) followed per user: the years go back far


def _setup(engine, world, client) -> dict[str, int]:
    """A plan of the greenhouse submitted to the township; the workshop's disposal in its public notice (with the
    valuation's report); the greenhouse's contract; a village supervisor and an administrator."""
    blobs = client.app.state.web.store.blobs
    with Session(engine, expire_on_commit=False) as session:
        cadre, leader = session.get(User, world.cadre), session.get(User, world.leader)
        county = session.get(User, world.county)
        plan = income.draft_plan(session, cadre, world.greenhouse, 2026, "10", SHARES, now=NOW)
        income.submit_plan(session, cadre, plan.id, now=NOW)
        row = disposal.request(session, cadre, world.workshop, reason="idle", method="transfer",
                               description="闲置两年", now=NOW)
        day = disposal.today(session, session.get(OrgUnit, world.tree.village_a1.id), NOW)
        disposal.record_meeting(session, cadre, row.id, kind="villagers", held_on=day, attendees=60, result="agreed",
                                now=NOW)
        disposal.record_valuation(session, leader, row.id, amount="12.5", valuer="桃源县评估所", valued_on=day,
                                  attachment=("评估报告.pdf", PDF), store=blobs, now=NOW)
        disposal.approve_township(session, leader, row.id, now=NOW)
        disposal.approve_county(session, county, row.id, now=NOW)
        disposal.start_notice(session, leader, row.id, now=NOW)
        contracts.save_contract(session, county, world.greenhouse, {
            "operator": "桃源县农业发展有限公司", "mode": "lease", "start": "2024-04-01", "end": "2027-03-31",
            "income_amount": "12", "income_terms": "每月支付租金1万元"}, new=True, now=NOW)
        supervisor = make_user(session, "village_supervisor", world.tree.village_a1, "新桥村监委会刘主任")
        admin = make_user(session, "admin", None, "系统管理员")
        session.commit()
        return {"plan": plan.id, "disposal": row.id, "supervisor": supervisor.id, "admin": admin.id}


def _people(world, made) -> dict[str, int]:
    return {"cadre": world.cadre, "supervisor": made["supervisor"], "other_cadre": world.other_cadre,
            "leader": world.leader, "other_leader": world.other_leader, "county": world.county,
            "department": world.department, "tourism": world.tourism, "admin": made["admin"]}


def _key(url: str) -> str:
    parts = urlsplit(url)
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if k != "lang"))
    return parts.path + ("?" + query if query else "")


def _shape(url: str) -> str:
    return re.sub(r"\d+", "<n>", _key(url))


def _links(text: str) -> list[str]:
    found = [html.unescape(h) for h in HREF.findall(text)]
    return [h for h in found if h.startswith("/") and not h.startswith(("//", "/static/", "/favicon.ico"))]


def _follow(client, starts: list[str]) -> tuple[list[str], dict[str, str]]:
    """Open the start pages that open for the user; follow every link of the areas' pages, open every other
    link once. Return the links checked and {link: why it failed}."""
    checked: list[str] = []
    failed: dict[str, str] = {}
    seen: set[str] = set()
    shapes: Counter[str] = Counter()
    queue: list[tuple[str, str]] = []
    for start in starts:
        answer = client.get(start)
        seen.add(_key(start))
        if answer.status_code == 200:
            queue += [(link, start) for link in _links(answer.text)]
    while queue:
        link, source = queue.pop(0)
        if _key(link) in seen:
            continue
        seen.add(_key(link))
        answer = client.get(link)
        checked.append(link)
        if answer.status_code != 200:
            failed[link] = f"{answer.status_code} (linked from {source})"
            continue
        shapes[_shape(link)] += 1
        if (urlsplit(link).path.startswith(AREAS) and answer.headers["content-type"].startswith("text/html")
                and shapes[_shape(link)] <= PER_SHAPE):
            queue += [(found, link) for found in _links(answer.text)]
    return checked, failed


def test_every_link_of_the_pages_opens_for_each_role(engine, world, client_for, time_machine):
    time_machine.move_to(NOW, tick=False)
    clients = {}
    made = _setup(engine, world, client_for(world.cadre))
    gh, workshop, village = world.greenhouse, world.workshop, world.tree.village_a1.id
    starts = ["/income", "/income?show=approve", "/income?show=file", f"/income/assets/{gh}",
              f"/income/assets/{gh}/plan", "/inventory", f"/inventory?unit={village}",
              f"/inventory/submit?unit={village}", "/disposals", "/disposals?all=1", f"/disposals/{made['disposal']}",
              f"/disposals?asset={workshop}", f"/disposals/new?asset={gh}", f"/ledger/assets/{gh}",
              f"/ledger/assets/{gh}/contract", f"/ledger/assets/{gh}/owners"]
    counts = {}
    for name, user_id in _people(world, made).items():
        clients[name] = client = client_for(user_id)
        checked, failed = _follow(client, starts)
        assert failed == {}, (name, failed)
        counts[name] = len(checked)

        # The links shown by the viewer's rights show exactly when their target opens.
        opens = {path: client.get(path).status_code == 200 for path in (
            f"/ledger/assets/{gh}", f"/ledger/assets/{gh}/contract", f"/disposals/new?asset={gh}")}
        income_page = client.get(f"/income/assets/{gh}?lang=zh_CN").text
        assert (f'href="/ledger/assets/{gh}?' in income_page) == opens[f"/ledger/assets/{gh}"], name
        if opens[f"/ledger/assets/{gh}"]:
            ledger_page = client.get(f"/ledger/assets/{gh}?lang=zh_CN").text
            assert (f'href="/ledger/assets/{gh}/contract?' in ledger_page) == opens[f"/ledger/assets/{gh}/contract"]
        listing = client.get("/disposals?lang=zh_CN").text
        assert (f"/disposals/new?asset={gh}&amp;" in listing) == opens[f"/disposals/new?asset={gh}"], name
    # The village's people see no ledger; the township, the county and the administrator do.
    for name, expected in (("cadre", 404), ("supervisor", 404), ("leader", 200), ("county", 200), ("admin", 200),
                           ("department", 200), ("other_leader", 404)):
        assert clients[name].get(f"/ledger/assets/{gh}").status_code == expected, name
    # Who sees the asset reads its contract; only the township and the county office have the forms to change it.
    for name, editable in (("cadre", False), ("supervisor", False), ("department", False), ("leader", True),
                           ("county", True)):
        page = clients[name].get(f"/ledger/assets/{gh}/contract")
        assert page.status_code == 200, name
        assert ('method="post"' in page.text) == editable, name
    # The income's years go back to 2000, and no link leads before it.
    cadre = clients["cadre"]
    assert "year=2000" in cadre.get("/income?year=2001").text and "year=1999" not in cadre.get("/income?year=2000").text
    assert "year=1999" not in cadre.get(f"/income/assets/{gh}?year=2000").text
    assert cadre.get("/income?year=1999").status_code == 400
    # Each crawl checked the pages it reached (not an empty walk).
    assert min(counts.values()) > 5 and counts["cadre"] > 15 and counts["leader"] > 15, counts


def test_pages_outside_the_viewers_area_or_role_are_refused(engine, world, client_for, time_machine):
    time_machine.move_to(NOW, tick=False)
    made = _setup(engine, world, client_for(world.cadre))
    gh, workshop, village = world.greenhouse, world.workshop, world.tree.village_a1.id
    plan, row = made["plan"], made["disposal"]
    other_leader, other_cadre = client_for(world.other_leader), client_for(world.other_cadre)
    # A disposal or asset of another area answers like an unknown one.
    for path in (f"/disposals/{row}", f"/disposals/{row}/valuation", f"/disposals/{row}/notice.pdf",
                 f"/disposals?asset={workshop}", "/disposals?asset=999999", "/disposals/999999",
                 f"/ledger/assets/{gh}/contract", f"/ledger/assets/{gh}/owners"):
        assert other_leader.get(path).status_code == 404, path
    leader = client_for(world.leader)
    assert leader.get(f"/disposals/{row}/valuation").content == PDF
    assert leader.get(f"/disposals/{row}/notice.pdf").content.startswith(b"%PDF")
    # The inventory: another village's sheet is refused, an unknown unit is not found, a year out of range is wrong.
    for path in (f"/inventory?unit={village}", f"/inventory/submit?unit={village}",
                 f"/inventory/export.xlsx?unit={village}"):
        assert other_cadre.get(path).status_code == 403, path
    assert other_cadre.get("/inventory?unit=999999").status_code == 404
    assert leader.get(f"/inventory?unit={village}&year=1999").status_code == 400
    assert leader.get(f"/inventory?unit={village}&year=2025").status_code == 200
    # Income: another township's leader is refused the asset's pages; an unknown plan is not found.
    for path in (f"/income/assets/{gh}", f"/income/assets/{gh}/plan", f"/income/plans/{plan}/approve"):
        assert other_leader.get(path).status_code == 403, path
    assert leader.get("/income/plans/999999/approve").status_code == 404
    assert leader.get(f"/income/plans/{plan}/approve").status_code == 200
