"""Spam on the villagers' report channel (issue 14, point 4), over real HTTP on a real database.

A script that takes a fresh device cookie for every report is limited per (hashed) address; the same
text is folded into one problem with a count; a flooded asset holds new reports for moderation instead
of refusing them; the township marks spam and the sender is muted; another township cannot.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.config import Settings
from bot.services import villager_reports
from bot.services.access import AccessDenied
from bot.storage.models import AuditEntry, Problem, ProblemEvent, User
from bot.storage.models_villager import VillagerMute, VillagerReport
from bot.web.app import create_app
from tests.factories import make_user
from tests.web.conftest import app, client, csrf_of, store, web_settings, world  # noqa: F401
from tests.web.test_form import sign_in

SPAMMER = "203.0.113.7"


def browser(app, address: str) -> TestClient:  # noqa: F811
    """A fresh browser (no cookies) at ``address``."""
    return TestClient(app, follow_redirects=False, client=(address, 40000))


def send(client: TestClient, token: str, text: str, category: str = "other", **kwargs):  # noqa: F811
    page = client.get(f"/p/{token}", **kwargs)
    return client.post(f"/p/{token}/report", data={"csrf": csrf_of(page.text), "category": category,
                                                    "text": text}, **kwargs)


def outcome(response) -> str:
    assert response.status_code == 303, response.text
    return re.search(r"sent=(\w+)", response.headers["location"]).group(1)


def leader(engine, township) -> User:
    """A new township leader over ``township``."""
    with Session(engine, expire_on_commit=False) as session:
        user = make_user(session, "township_leader", township)
        session.commit()
        return user


def rows(engine, model, *where):
    with Session(engine) as session:
        return list(session.exec(select(model).where(*where)).all())


def test_200_scripted_reports_from_fresh_cookies_are_limited_by_address(app, world, engine):  # noqa: F811
    token = world.asset.public_token
    statuses = [send(browser(app, SPAMMER), token, f"第{n}号问题：资产被占用").status_code for n in range(200)]
    accepted = statuses.count(303)
    assert accepted == villager_reports.PER_ADDRESS_HOUR
    assert statuses.count(429) == 200 - accepted
    assert statuses[:accepted] == [303] * accepted  # the first ones pass, then every later one is refused
    reports = rows(engine, VillagerReport)
    assert len(reports) == accepted
    assert len({r.address_hash for r in reports}) == 1 and len({r.device_hash for r in reports}) == accepted
    # the address is never stored in clear: not in the reports, not in the audit log
    with Session(engine) as session:
        stored = repr([r.model_dump() for r in reports]) + repr(
            [e.model_dump() for e in session.exec(select(AuditEntry)).all()])
    assert SPAMMER not in stored and "203.0.113" not in stored
    # a villager elsewhere is not affected
    assert outcome(send(browser(app, "198.51.100.20"), token, "路灯坏了")) in ("filed", "held")


def test_refusal_is_in_chinese_and_english(app, world):  # noqa: F811
    token = world.asset.public_token
    for n in range(villager_reports.PER_ADDRESS_HOUR):
        send(browser(app, SPAMMER), token, f"问题{n}")
    zh = send(browser(app, SPAMMER), token, "再来一条")
    assert zh.status_code == 429 and "您所在的网络" in zh.text
    en = send(browser(app, SPAMMER), token, "again", params={"lang": "en"})
    assert en.status_code == 429 and "Many reports were sent from your network" in en.text


def test_the_device_cookie_is_issued_once_and_kept(app, world):  # noqa: F811
    villager = browser(app, "198.51.100.3")
    first = villager.get(f"/p/{world.asset.public_token}")
    assert "vb_device=" in first.headers.get("set-cookie", "")
    again = villager.get(f"/p/{world.asset.public_token}")
    assert "vb_device=" not in again.headers.get("set-cookie", "")
    assert csrf_of(first.text) == csrf_of(again.text)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(world, engine, web_settings):  # noqa: F811
    token = world.asset.public_token
    plain = create_app(web_settings, engine)
    statuses = [send(browser(plain, SPAMMER), token, f"伪造{n}",
                     headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(15)]
    assert statuses.count(303) == villager_reports.PER_ADDRESS_HOUR  # the forged header changed nothing

    proxied = create_app(Settings(**{**web_settings.model_dump(), "trusted_proxies": "10.0.0.0/8"}), engine)
    for n in range(15):  # behind the trusted proxy each client counts by its own address
        # a client's own forged hop on the left is not believed: the proxy appended the real one
        response = send(browser(proxied, "10.0.0.5"), token, f"代理{n}",
                        headers={"X-Forwarded-For": f"{SPAMMER}, 192.0.2.{n}"})
        assert response.status_code == 303
    by_address = {r.address_hash for r in rows(engine, VillagerReport)}
    assert len(by_address) == 1 + 15


def test_duplicate_text_is_folded_into_one_problem_with_a_count(app, world, engine):  # noqa: F811
    token = world.asset.public_token
    texts = ["路灯坏了！", "路灯 坏了", "路灯坏了。", "ＬＥＤ路灯坏了"]
    results = [outcome(send(browser(app, f"198.51.100.{n}"), token, text)) for n, text in enumerate(texts[:3])]
    assert results == ["filed", "folded", "folded"]
    assert outcome(send(browser(app, "198.51.100.9"), token, texts[3])) == "filed"  # other words: a new problem
    problems = rows(engine, Problem, Problem.source == "villager")
    assert len(problems) == 2
    first = min(problems, key=lambda p: p.id)
    primary = rows(engine, VillagerReport, VillagerReport.status == "filed", VillagerReport.problem_id == first.id)
    assert [r.count for r in primary] == [3]
    assert len(rows(engine, VillagerReport, VillagerReport.problem_id == first.id)) == 3
    again = rows(engine, ProblemEvent, ProblemEvent.problem_id == first.id, ProblemEvent.action == "reported_again")
    assert len(again) == 2 and "3" in again[-1].note
    # the same person sending it again is folded but not counted again
    assert outcome(send(browser(app, "198.51.100.1"), token, "路灯坏了")) == "folded"
    assert rows(engine, VillagerReport, VillagerReport.id == primary[0].id)[0].count == 3
    with Session(engine) as session:
        assert villager_reports.villager_count(session, first.id) == 3
    assert len(rows(engine, ProblemEvent, ProblemEvent.action == "reported_again")) == 2
    # the villager is told it was added to an earlier report
    shown = browser(app, "198.51.100.1").get(f"/p/{token}?sent=folded")
    assert "已有人反映过" in shown.text
    # the same text for another asset is its own problem
    assert outcome(send(browser(app, "198.51.100.50"), world.other_asset.public_token, texts[0])) == "filed"


def test_a_flood_never_locks_out_a_genuine_villager(app, world, engine):  # noqa: F811
    token = world.asset.public_token
    # a spammer with many addresses fills the asset's daily quota of filed reports...
    for n in range(villager_reports.PER_ASSET_LIMIT + 10):
        assert send(browser(app, f"192.0.2.{n + 1}"), token, f"垃圾信息 {n}").status_code == 303
    # ...and one address floods until refused
    while send(browser(app, SPAMMER), token, "广告广告").status_code != 429:
        pass
    # a genuine villager from another address is accepted, held for the township, not refused
    genuine = send(browser(app, "198.51.100.77"), token, "水泵房的门被撬开了", category="damaged")
    assert outcome(genuine) == "held"
    assert "乡镇核实后" in browser(app, "198.51.100.77").get(genuine.headers["location"]).text
    assert len(rows(engine, Problem, Problem.source == "villager")) == villager_reports.PER_ASSET_LIMIT
    held = rows(engine, VillagerReport, VillagerReport.status == "held")
    assert any(r.text == "水泵房的门被撬开了" for r in held)

    # the township sees the queue from its problem list and accepts the genuine report
    chief = leader(engine, world.tree.township_a)
    township = browser(app, "198.51.100.200")
    sign_in(township, engine, chief)
    listing = township.get("/problems")
    assert "/villager-reports" in listing.text and "待审核" in listing.text
    queue = township.get("/villager-reports")
    assert queue.status_code == 200 and "水泵房的门被撬开了" in queue.text
    report_id = next(r.id for r in held if r.text == "水泵房的门被撬开了")
    assert township.post(f"/villager-reports/{report_id}/accept",
                         data={"csrf": csrf_of(queue.text)}).status_code == 303
    accepted = rows(engine, Problem, Problem.description == "水泵房的门被撬开了")
    assert len(accepted) == 1 and accepted[0].severity == "major" and accepted[0].source == "villager"
    assert rows(engine, VillagerReport, VillagerReport.id == report_id)[0].status == "accepted"
    assert "水泵房的门被撬开了" not in township.get("/villager-reports").text


def test_marking_spam_mutes_the_source(app, world, engine):  # noqa: F811
    token = world.asset.public_token
    spammer = browser(app, SPAMMER)
    assert outcome(send(spammer, token, "加微信领补贴 xx123")) == "filed"
    problem = rows(engine, Problem, Problem.source == "villager")[0]
    chief = leader(engine, world.tree.township_a)
    township = browser(app, "198.51.100.200")
    sign_in(township, engine, chief)
    page = township.get(f"/problems/{problem.id}")
    assert f'action="/problems/{problem.id}/spam' in page.text
    assert township.post(f"/problems/{problem.id}/spam",
                         data={"csrf": csrf_of(page.text), "days": "7"}).status_code == 303

    closed = rows(engine, Problem, Problem.id == problem.id)[0]
    assert closed.status == "closed" and closed.resolved_by == chief.id
    assert {m.kind for m in rows(engine, VillagerMute)} == {"address", "device"}
    entry = rows(engine, AuditEntry, AuditEntry.action == "problem.villager_spam")
    assert len(entry) == 1 and entry[0].actor_user_id == chief.id and entry[0].entity_id == str(problem.id)
    assert "已关闭" in township.get(f"/problems/{problem.id}").text

    # the same phone is refused; a fresh cookie on the same address is only held, never filed
    again = send(spammer, token, "加微信领补贴 第二条")
    assert again.status_code == 429 and "暂停" in again.text
    assert outcome(send(browser(app, SPAMMER), token, "换个cookie再来")) == "held"
    assert rows(engine, VillagerReport, VillagerReport.status == "held")[0].muted_source is True
    # the muted text is not folded into anything, and other villagers are filed as usual
    assert outcome(send(browser(app, "198.51.100.8"), token, "加微信领补贴 xx123")) == "filed"
    assert len(rows(engine, Problem, Problem.source == "villager")) == 2


def test_a_held_report_can_be_discarded_as_spam(app, world, engine, monkeypatch):  # noqa: F811
    monkeypatch.setattr(villager_reports, "PER_ASSET_LIMIT", 0)
    token = world.asset.public_token
    assert outcome(send(browser(app, SPAMMER), token, "广告")) == "held"
    report = rows(engine, VillagerReport)[0]
    chief = leader(engine, world.tree.township_a)
    township = browser(app, "198.51.100.200")
    sign_in(township, engine, chief)
    queue = township.get("/villager-reports")
    assert township.post(f"/villager-reports/{report.id}/spam",
                         data={"csrf": csrf_of(queue.text), "days": "1"}).status_code == 303
    assert rows(engine, VillagerReport, VillagerReport.id == report.id)[0].status == "spam"
    assert len(rows(engine, VillagerMute)) == 2
    assert send(browser(app, SPAMMER), token, "广告2").status_code == 303  # held (muted address), not filed
    assert rows(engine, Problem, Problem.source == "villager") == []
    # a length not offered is refused
    queue = township.get("/villager-reports")
    held = rows(engine, VillagerReport, VillagerReport.status == "held")[0]
    refused = township.post(f"/villager-reports/{held.id}/spam", data={"csrf": csrf_of(queue.text), "days": "100000"})
    assert refused.status_code == 303 and refused.headers["location"].startswith("/villager-reports")  # a GET address
    assert 'role="alert"' in township.get(refused.headers["location"]).text
    assert rows(engine, VillagerReport, VillagerReport.id == held.id)[0].status == "held"


def test_another_township_cannot_mark_spam_or_moderate(app, world, engine, monkeypatch):  # noqa: F811
    token = world.asset.public_token  # in 新桥镇 (township_a)
    assert outcome(send(browser(app, "198.51.100.4"), token, "真实的问题")) == "filed"
    problem = rows(engine, Problem, Problem.source == "villager")[0]
    monkeypatch.setattr(villager_reports, "PER_ASSET_LIMIT", 0)
    assert outcome(send(browser(app, "198.51.100.5"), token, "另一个问题")) == "held"
    held = rows(engine, VillagerReport, VillagerReport.status == "held")[0]
    stranger = leader(engine, world.tree.township_b)
    with Session(engine) as session:
        cadre = session.get(User, world.cadre.id)
        for user in (stranger, cadre):
            with pytest.raises(AccessDenied):
                villager_reports.mark_problem_spam(session, user, problem.id)
            with pytest.raises(AccessDenied):
                villager_reports.accept(session, user, held.id)
        with pytest.raises(AccessDenied):  # an unknown id is refused like a foreign one
            villager_reports.mark_problem_spam(session, stranger, 2_000_000)
        assert villager_reports.held_reports(session, stranger)[1] == 0
        session.rollback()

    other = browser(app, "198.51.100.201")
    sign_in(other, engine, stranger)
    csrf = csrf_of(other.get(f"/p/{token}").text)  # the token is per browser, whatever the page
    assert other.post(f"/problems/{problem.id}/spam", data={"csrf": csrf, "days": "30"}).status_code == 403
    assert other.post(f"/villager-reports/{held.id}/discard", data={"csrf": csrf}).status_code == 403
    assert "另一个问题" not in other.get("/villager-reports").text
    assert rows(engine, Problem, Problem.id == problem.id)[0].status == "open"
    assert rows(engine, VillagerReport, VillagerReport.id == held.id)[0].status == "held"
    assert rows(engine, VillagerMute) == []
    assert rows(engine, AuditEntry, AuditEntry.action == "problem.villager_spam") == []


def test_a_monthly_report_problem_cannot_be_marked_spam(world, engine):  # noqa: F811
    chief = leader(engine, world.tree.township_a)
    with Session(engine) as session:
        problem = session.exec(select(Problem).where(Problem.source == "report")).one()
        with pytest.raises(villager_reports.ModerationError):
            villager_reports.mark_problem_spam(session, chief, problem.id)


def test_normalised_text_and_hashed_sources():
    assert villager_reports.normalise("  路灯，坏了！ ") == villager_reports.normalise("路灯坏了")
    assert villager_reports.normalise("ＡＢＣ abc") == "abcabc"
    one = villager_reports.source_of("k1", "2001:db8:1:2::5", "dev")
    assert one.address_hash == villager_reports.source_of("k1", "2001:db8:1:2:ffff::9", "other").address_hash
    assert one.address_hash != villager_reports.source_of("k1", "2001:db8:1:3::5", "dev").address_hash
    assert one.address_hash != villager_reports.source_of("k2", "2001:db8:1:2::5", "dev").address_hash  # keyed
    assert villager_reports.source_of("k", "::ffff:192.0.2.1", "d").address_hash == \
        villager_reports.source_of("k", "192.0.2.1", "d").address_hash
    assert "2001" not in one.address_hash and len(one.address_hash) == 64


def test_a_problem_closed_as_spam_takes_no_further_step(world, engine):  # noqa: F811
    from bot.services import problem_list, problems

    chief = leader(engine, world.tree.township_a)
    with Session(engine) as session:
        asset = session.get(type(world.asset), world.asset.id)
        filed = villager_reports.submit(session, asset, text="广告", category="other",
                                        source=villager_reports.source_of("k", "192.0.2.1", "d"))
        villager_reports.mark_problem_spam(session, chief, filed.problem.id, days=1)
        session.commit()
        for step in (lambda: problem_list.take_in_hand(session, chief, filed.problem.id),
                     lambda: problem_list.escalate(session, chief, filed.problem.id, "上报"),
                     lambda: problems.acknowledge(session, chief, filed.problem.id),
                     lambda: problems.resolve(session, chief, filed.problem.id, "处理了"),
                     lambda: villager_reports.mark_problem_spam(session, chief, filed.problem.id)):
            with pytest.raises(ValueError):
                step()
        assert session.get(Problem, filed.problem.id).status == "closed"


def test_concurrent_posts_cannot_all_pass_the_address_limit(app, world, engine):  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    token = world.asset.public_token
    forms = []
    for n in range(3 * villager_reports.PER_ADDRESS_HOUR):  # fresh browsers, each with its form ready
        fresh = browser(app, SPAMMER)
        forms.append((fresh, csrf_of(fresh.get(f"/p/{token}").text), n))

    def post(form):
        fresh, csrf, n = form
        return fresh.post(f"/p/{token}/report", data={"csrf": csrf, "category": "other", "text": f"并发{n}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [r.status_code for r in pool.map(post, forms)]
    assert statuses.count(303) == villager_reports.PER_ADDRESS_HOUR
    assert len(rows(engine, VillagerReport)) == villager_reports.PER_ADDRESS_HOUR


def test_trusted_proxies_setting_is_checked_at_start():
    from bot.config import ConfigError, load_settings

    assert Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_networks[1].num_addresses == 2 ** 24
    assert Settings().trusted_networks == ()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VILLAGEBOT_TRUSTED_PROXIES", "nginx")
        with pytest.raises(ConfigError, match="VILLAGEBOT_TRUSTED_PROXIES"):
            load_settings()
