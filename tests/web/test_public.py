"""The public QR page: the disclosure whitelist, photos without EXIF, the villager report form."""

from __future__ import annotations

import io
import json

from PIL import Image
from sqlmodel import Session, select

from bot.services import public, villager_reports
from bot.storage.models import AuditEntry, Problem, ProblemEvent
from tests.services.images import make_jpeg, make_pdf
from tests.web.conftest import SECRETS, csrf_of


def test_page_shows_the_disclosure_in_chinese(client, world):
    page = client.get(f"/p/{world.asset.public_token}")
    assert page.status_code == 200
    html = page.text
    for fact in ("新桥村光伏电站", "新桥村", "新桥镇", "桃源县", "120.5", "80", "40.5", "2019",
                 "新桥村股份经济合作社",
                 "新桥村村民委员会", "桃源县光伏运维有限公司", "2020-01-01", "2029-12-31", "3.5", "45", "12",
                 "0391-5551234", "提升一批", "公示栏", "问题正在处理"):
        assert fact in html, fact
    assert f"/p/{world.asset.public_token}/photo/{world.board_sha}.jpg" in html
    assert f"/p/{world.asset.public_token}/photo/{world.sign_sha}.jpg" in html
    assert world.hidden_sha not in html


def test_english_switch(client, world):
    html = client.get(f"/p/{world.asset.public_token}?lang=en").text
    assert "Report a problem" in html and "Operator" in html and "problems are being handled" in html
    assert 'lang="en"' in html


def test_no_personal_data_on_page_or_api(client, world):
    html = client.get(f"/p/{world.asset.public_token}").text + client.get(
        f"/p/{world.asset.public_token}?lang=en").text
    body = client.get(f"/api/public/{world.asset.public_token}")
    assert body.status_code == 200
    dumped = json.dumps(body.json(), ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in html, secret
        assert secret not in dumped, secret
    assert set(body.json()) == {
        "token", "name", "asset_type", "industry_category", "village", "township", "county", "funds_total",
        "funds", "year_completed", "owner", "custodian", "operator", "contract_start", "contract_end", "year",
        "income_distributed", "households_benefited", "poor_households_benefited", "last_check",
        "four_way_class", "photos", "supervision_phone", "posted_evaluation", "income_shared",
        "disposal"}


def test_unknown_token_is_a_404_page(client, world):
    page = client.get("/p/no-such-token")
    assert page.status_code == 404
    assert "页面不存在" in page.text
    assert client.get("/api/public/no-such-token").status_code == 404


def test_photo_route_serves_display_copy_without_exif(client, world, store):
    response = client.get(f"/p/{world.asset.public_token}/photo/{world.board_sha}.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content == store.display(world.board_sha)
    with Image.open(io.BytesIO(response.content)) as image:
        assert not image.getexif()


def test_photo_route_refuses_other_photos(client, world):
    token = world.asset.public_token
    # a photo of another question of the same report
    assert client.get(f"/p/{token}/photo/{world.hidden_sha}.jpg").status_code == 404
    # this asset's photo asked through another asset's page
    assert client.get(f"/p/{world.other_asset.public_token}/photo/{world.board_sha}.jpg").status_code == 404
    assert client.get(f"/p/{token}/photo/{'0' * 64}.jpg").status_code == 404
    assert client.get(f"/p/{token}/photo/..%2F..%2Fetc%2Fpasswd.jpg").status_code == 404


def test_draft_photos_are_not_public(client, world, engine):
    with Session(engine) as session:
        report = session.get(type(world.report), world.report.id)
        report.status = "draft"
        report.submitted_at = None
        session.add(report)
        session.commit()
    assert client.get(f"/p/{world.asset.public_token}/photo/{world.board_sha}.jpg").status_code == 404
    assert world.board_sha not in client.get(f"/p/{world.asset.public_token}").text


def _report(client, token, **fields):
    page = client.get(f"/p/{token}")
    data = {"csrf": csrf_of(page.text), "category": "other", "text": "路灯坏了"}
    data.update(fields.pop("data", {}))
    return client.post(f"/p/{token}/report", data=data, **fields)


def test_villager_report_creates_a_township_problem(client, world, engine):
    response = _report(client, world.asset.public_token,
                       data={"text": "大门被人拆走了", "category": "damaged"},
                       files={"photo": ("p.jpg", make_jpeg(400, 300, seed=9), "image/jpeg")})
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/p/{world.asset.public_token}?")
    shown = client.get(response.headers["location"])
    assert "已转给乡镇" in shown.text
    with Session(engine) as session:
        problem = session.exec(select(Problem).where(Problem.source == "villager")).one()
        assert (problem.asset_id, problem.owner_level, problem.severity, problem.kind) == (
            world.asset.id, "township", "major", "villager.damaged")
        assert problem.description == "大门被人拆走了"
        event = session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)).one()
        assert event.action == "created" and event.note.startswith("photo sha256:")
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == public.REPORT_ACTION)).one()
        assert entry.entity_id == str(problem.id) and entry.actor.startswith("device:")


def test_minor_by_default_and_no_photo_needed(client, world, engine):
    assert _report(client, world.asset.public_token, files={"photo": ("", b"", "application/octet-stream")}
                   ).status_code == 303
    with Session(engine) as session:
        problem = session.exec(select(Problem).where(Problem.source == "villager")).one()
        assert problem.severity == "minor"


def test_bad_photo_is_a_friendly_message_and_nothing_is_saved(client, world, engine):
    response = _report(client, world.asset.public_token, data={"text": "<script>alert(1)</script>"},
                       files={"photo": ("x.pdf", make_pdf(), "application/pdf")})
    assert response.status_code == 400
    assert "不是照片" in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text  # kept, escaped, for the retry
    with Session(engine) as session:
        assert session.exec(select(Problem).where(Problem.source == "villager")).all() == []


def test_csrf_is_required(client, world, engine):
    token = world.asset.public_token
    client.get(f"/p/{token}")  # the device cookie exists, but no token is sent
    assert client.post(f"/p/{token}/report", data={"text": "x", "category": "other"}).status_code == 403
    assert client.post(f"/p/{token}/report", data={"text": "x", "category": "other",
                                                   "csrf": "forged"}).status_code == 403
    # a token taken from another browser does not pass with this browser's cookie
    other = type(client)(client.app, follow_redirects=False)
    stolen = csrf_of(other.get(f"/p/{token}").text)
    assert client.post(f"/p/{token}/report", data={"text": "x", "category": "other",
                                                   "csrf": stolen}).status_code == 403
    with Session(engine) as session:
        assert session.exec(select(Problem).where(Problem.source == "villager")).all() == []


def test_rate_limited_per_device(client, world):
    token = world.asset.public_token
    for n in range(villager_reports.PER_DEVICE_LIMIT):
        assert _report(client, token, data={"text": f"路灯坏了 {n}号"}).status_code == 303
    refused = _report(client, token)
    assert refused.status_code == 429
    assert "明天再试" in refused.text
    # another device may still report
    other = type(client)(client.app, follow_redirects=False)
    assert _report(other, token).status_code == 303


def test_busy_asset_holds_reports_for_moderation(client, world, monkeypatch, engine):
    monkeypatch.setattr(villager_reports, "PER_ASSET_LIMIT", 2)
    token = world.asset.public_token
    for n in range(2):
        fresh = type(client)(client.app, follow_redirects=False)
        assert _report(fresh, token, data={"text": f"第{n}个问题"}).headers["location"].endswith("sent=filed#report")
    fresh = type(client)(client.app, follow_redirects=False)
    held = _report(fresh, token, data={"text": "第三个问题"})
    assert held.status_code == 303 and "sent=held" in held.headers["location"]
    assert "乡镇核实后" in fresh.get(held.headers["location"]).text
    with Session(engine) as session:
        assert len(session.exec(select(Problem).where(Problem.source == "villager")).all()) == 2
    # the threshold is per asset: another asset is not affected
    assert "sent=filed" in _report(fresh, world.other_asset.public_token).headers["location"]


def test_html_in_asset_fields_is_escaped(client, world, engine):
    with Session(engine) as session:
        asset = session.get(type(world.asset), world.asset.id)
        asset.name = '<img src=x onerror="alert(1)">'
        asset.operator = "<script>alert('op')</script>"
        session.add(asset)
        session.commit()
    html = client.get(f"/p/{world.asset.public_token}").text
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_a_photo_replaced_before_submission_is_not_shown(client, world, engine):
    with Session(engine) as session:
        report = session.get(type(world.report), world.report.id)
        report.answers = {k: v for k, v in report.answers.items() if k != "board_photo"}
        session.add(report)
        session.commit()
    html = client.get(f"/p/{world.asset.public_token}").text
    assert world.board_sha not in html and world.sign_sha in html
    assert client.get(f"/p/{world.asset.public_token}/photo/{world.board_sha}.jpg").status_code == 404
