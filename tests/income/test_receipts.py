"""A payment's receipt: the village uploads a photo or PDF with the payment; people who see the asset open it,
another village's cadre and the public page do not; a fake file is refused in words and nothing is recorded."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.services import income
from bot.storage.models import Asset, User
from bot.storage.models_income import DistributionRecord
from tests.services.images import make_jpeg

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _filed_plan(engine, world) -> int:
    with Session(engine) as session:
        def who(user_id: int) -> User:
            return session.get(User, user_id)

        plan = income.draft_plan(session, who(world.cadre), world.greenhouse, 2026, "8",
                                 [income.ShareIn("households", "70", 45), income.ShareIn("reinvest", "30")])
        income.submit_plan(session, who(world.cadre), plan.id)
        income.approve_plan(session, who(world.leader), plan.id)
        income.file_plan(session, who(world.department), plan.id)
        session.commit()
        return plan.id


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _pay(client, plan_id: int, url: str, receipt: tuple[str, bytes, str], amount: str):
    token = _csrf(client.get(url).text)
    return client.post(f"/income/plans/{plan_id}/record?lang=zh_CN",
                       data={"csrf": token, "category": "households", "date": "2026-01-05", "amount": amount,
                             "confirm": "1"}, files={"receipt": receipt})


def test_a_payment_keeps_its_receipt_for_the_asset_s_people_only(engine, world, client_for):
    plan_id = _filed_plan(engine, world)
    url = f"/income/assets/{world.greenhouse}/plan?lang=zh_CN&year=2026"
    village = client_for(world.cadre)
    form = village.get(url).text
    assert 'enctype="multipart/form-data"' in form and 'name="receipt"' in form and "银行回单" in form

    # A file that only calls itself a photo: refused in words, nothing recorded, what was typed kept.
    fake = _pay(village, plan_id, url, ("回单.jpg", b"\xff\xd8\xffnot really a jpeg" * 10, "image/jpeg"), "2")
    assert fake.status_code == 303
    page = village.get(fake.headers["location"]).text
    assert 'class="error"' in page and 'value="2"' in page
    with Session(engine) as session:
        assert session.exec(select(DistributionRecord)).all() == []

    photo = make_jpeg(640, 480, seed=3)
    done = _pay(village, plan_id, url, ("回单.jpg", photo, "image/jpeg"), "2")
    assert done.status_code == 303
    _pay(village, plan_id, url, ("名单.pdf", PDF, "application/pdf"), "1")
    with Session(engine) as session:
        records = session.exec(select(DistributionRecord).order_by(DistributionRecord.id)).all()
        assert [r.amount for r in records] == [2, 1] and all(len(r.attachment or "") == 64 for r in records)
        first, second = records[0].id, records[1].id
    page = village.get(url).text
    assert f"/income/records/{first}/receipt" in page and "凭证" in page

    shown = client_for(world.leader).get(f"/income/records/{first}/receipt")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.content.startswith(b"\xff\xd8") and shown.content != photo  # the display copy, no metadata
    pdf = village.get(f"/income/records/{second}/receipt")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content == PDF
    assert "no-store" in pdf.headers["cache-control"]
    # Another village's cadre, another township: not theirs. Nobody signed in: nothing.
    assert client_for(world.other_cadre).get(f"/income/records/{first}/receipt").status_code == 404
    assert client_for(world.other_leader).get(f"/income/records/{first}/receipt").status_code == 404
    anonymous_client = TestClient(village.app, follow_redirects=False)
    anonymous = anonymous_client.get(f"/income/records/{first}/receipt")
    assert anonymous.status_code in (303, 401, 403)
    with Session(engine) as session:
        token = session.get(Asset, world.greenhouse).public_token
    public = anonymous_client.get(f"/p/{token}?lang=zh_CN")
    assert public.status_code == 200 and "新桥村蔬菜大棚" in public.text and "/receipt" not in public.text
