"""The inventory on the web: the cadre reaches the sheet from /home, confirms each asset (a refusal keeps what was
typed), reviews and submits the year; the township leader sees the villages not done, reminds one, reads a sheet
without the forms, and downloads the xlsx; a cadre of another village is refused."""

from __future__ import annotations

import io
import re

import openpyxl
import time_machine
from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import duties
from bot.storage.models import OrgUnit
from bot.storage.models_schedule import OutboxMessage
from tests.duties.harness import Web, csrf, local, settings_for
from tests.inventory.test_inventory import ITEM, world

NOW = local(2027, 1, 12, 10)


def _confirm(web: Web, asset_id: int, **data):
    page = web.client.get("/inventory?year=2026")
    form = {"csrf": csrf(page.text), "year": "2026", "exists": "yes", "state": "operating", "value": "100",
            "income_settled": "yes", "income_received": "3.75", "note": "", **data}
    return web.client.post(f"/inventory/asset/{asset_id}", data=form)


def _remind(web: Web, village_id: int):
    page = web.client.get("/inventory?year=2026")
    return web.client.post("/inventory/remind", data={"csrf": csrf(page.text), "year": "2026",
                                                       "village": str(village_id)})


def test_the_cadre_confirms_and_submits_and_the_township_follows(sqlite_engine, tmp_path):
    engine, settings = sqlite_engine, settings_for(tmp_path)
    with Session(engine, expire_on_commit=False) as session:
        w, road = world(session)
    ids = {k: u.id for k, u in w.people.items()}
    workshop = w.assets["village_a1"]
    with time_machine.travel(NOW, tick=False):
        cadre = Web(engine, settings, ids["cadre_a1"])
        home = cadre.client.get("/home").text
        assert "/inventory" in home
        page = cadre.client.get("/inventory").text
        assert "年度资产清查和收益清算" in page and "清查年度：2026年" in page
        assert f'id="a{workshop.id}"' in page and f'id="a{road.id}"' in page and "新桥村到户羊" not in page
        assert 'value="100"' in page and "3.75" in page  # proposed from the ledger and the monthly checks
        assert re.search(r'id="duty"><span class="badge draft">[^<]+</span> [^<]*2027-03-31', page)
        # A value that is not a number is refused, and what was typed is kept.
        refused = _confirm(cadre, workshop.id, value="一百", note="仓库")
        assert refused.status_code == 200 and 'role="alert"' in refused.text and "仓库" in refused.text
        assert _confirm(cadre, workshop.id).status_code == 200
        # Not everything confirmed: the review page says so and offers no submit button.
        review = cadre.client.get("/inventory/submit?year=2026").text
        assert 'action="/inventory/submit' not in review and "还有1项资产未确认或收益未清算" in review
        done = _confirm(cadre, road.id, state="idle", value="20", income_received="0")
        assert "闲置" in done.text
        review = cadre.client.get("/inventory/submit?year=2026")
        assert 'action="/inventory/submit' in review.text and "120" in review.text  # the totals
        submitted = cadre.client.post("/inventory/submit", data={"csrf": csrf(review.text), "year": "2026"})
        assert submitted.status_code == 200 and 'role="status"' in submitted.text
        assert 'action="/inventory/asset/' not in submitted.text  # final
        assert '<span class="badge done">' in submitted.text  # the duty service says done
        with Session(engine) as session:
            states = duties.states(session, session.get(OrgUnit, w.tree.village_a1.id), local(2027, 1, 1),
                                   local(2027, 12, 31), now=NOW, items=[ITEM])
            assert [s.state for s in states] == [duties.DONE]

        # A cadre of another village: refused on the sheet and on a confirmation.
        other = Web(engine, settings, ids["cadre_a2"])
        assert other.client.get(f"/inventory?unit={w.tree.village_a1.id}&year=2026").status_code == 403
        assert _confirm(other, road.id).status_code == 403

        # The township leader: the villages, 王庄村 not confirmed, the sheet read-only, the export.
        leader = Web(engine, settings, ids["leader_a"])
        assert "/inventory" in leader.client.get("/home").text
        listing = leader.client.get("/inventory?year=2026").text
        assert "王庄村" in listing and w.assets["village_a2"].name in listing
        # The leader reminds 王庄村 now: one message to its cadre (once a day), none for 新桥村 (submitted).
        assert f'name="village" value="{w.tree.village_a1.id}"' not in listing
        reminded = leader.client.post("/inventory/remind", data={"csrf": csrf(listing), "year": "2026",
                                                                 "village": str(w.tree.village_a2.id)})
        assert reminded.status_code == 200 and "已提醒王庄村的村干部" in reminded.text
        again = leader.client.post("/inventory/remind", data={"csrf": csrf(listing), "year": "2026",
                                                              "village": str(w.tree.village_a2.id)})
        assert "今天已经提醒过王庄村的村干部" in again.text
        with Session(engine) as session:
            sent = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "notice")).all()
        assert [(m.recipient, m.item, m.period) for m in sent] == [(f"u{ids['cadre_a2']}", ITEM, "2026")]
        assert translate("zh_CN", sent[0].body[0][0], **sent[0].body[0][1]).startswith("新桥镇提醒：王庄村2026年度")
        assert _remind(other, w.tree.village_a2.id).status_code == 403  # a cadre may not
        sheet = leader.client.get(f"/inventory?unit={w.tree.village_a2.id}&year=2026").text
        assert 'action="/inventory/asset/' not in sheet
        link = re.search(r'href="(/inventory/export\.xlsx[^"]+)"', listing).group(1).replace("&amp;", "&")
        export = leader.client.get(link)
        assert export.status_code == 200
        rows = list(openpyxl.load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
        names = {r[4]: r for r in rows[3:]}
        assert set(names) == {workshop.name, "新桥村道路", w.assets["village_a2"].name}  # 新桥镇 only
        assert names["新桥村道路"][7] == "闲置" and names["新桥村道路"][-1] == "已提交"
