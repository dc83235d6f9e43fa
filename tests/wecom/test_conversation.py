"""The checklist as a WeCom conversation, driven as WeCom drives it: encrypted callbacks in, the app's
cards out through the outbox to the WeCom double over HTTP.

A cadre binds with their invite code, checks an asset with buttons, a vote card (multi-select), typed
answers, photos fetched with media/get and a location, and flags a mortgage; the township leader,
whose WeCom account an officer recorded, is alerted with a template card and acknowledges from it.
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import reports
from bot.storage.models import Problem, Report, User
from bot.storage.models_schedule import OutboxMessage
from bot.storage.models_wecom import WeComIdentity
from tests.outbox.helpers import SERIOUS
from tests.services.images import make_jpeg
from tests.wecom.conftest import card_keys, card_text


def zh(msgid: str, **params) -> str:
    return translate("zh_CN", msgid, **params)


def _current(world, report_id: int):
    with Session(world.engine) as session:
        return reports.walker_for(session.get(Report, report_id)).current()


def _ok(response) -> None:
    assert response.status_code == 200, response.text
    world_result = response.text
    assert world_result == ""


def test_a_cadre_binds_checks_an_asset_and_the_leader_acknowledges_from_the_card(world):
    double = world.double
    # Not bound yet: told how to bind.
    _ok(world.text("LiSi", "你好"))
    world.deliver()
    assert "绑定" in card_text(world.last("LiSi"))

    # Binding by the invite code: the cadre's account is active and reachable in WeCom.
    _ok(world.text("LiSi", f"绑定 {world.codes['cadre']}"))
    world.deliver()
    assert zh("Linked: {name}. Send 填报 to start this month's checks.", name="cadre") in card_text(world.last("LiSi"))
    with Session(world.engine) as session:
        assert session.get(User, world.users["cadre"]).active
        identity = session.exec(select(WeComIdentity).where(WeComIdentity.userid == "LiSi")).one()
        assert identity.user_id == world.users["cadre"] and identity.bound_at is not None

    # 填报: the list, and a card with a button per asset still to do.
    _ok(world.text("LiSi", "填报"))
    world.deliver()
    listing, choose = double.sent_to("LiSi")[-2:]
    assert "1. ⬜ 新桥村扶贫车间" in card_text(listing) and "2. ⬜ 新桥村蔬菜大棚" in card_text(listing)
    greenhouse = world.assets["greenhouse"]
    assert f"a:{greenhouse}" in card_keys(choose)
    _ok(world.press("LiSi", choose, f"a:{greenhouse}"))
    world.deliver()
    assert double.updates[-1]["response_code"].endswith(f"a:{greenhouse}")  # the pressed card was updated
    with Session(world.engine) as session:
        report = session.exec(select(Report).where(Report.asset_id == greenhouse)).one()
        report_id = report.id
        assert report.channel == "wecom"

    photos = 0
    for _ in range(60):
        q = _current(world, report_id)
        card = world.last("LiSi")
        if q is None:
            break
        if q.type in ("yesno", "choice") and card["template_card"]["card_type"] == "button_interaction":
            key = f"v:{report_id}:{q.key}:{SERIOUS[q.key]}"
            assert key in card_keys(card), (q.key, card_keys(card))
            response = world.press("LiSi", card, key)
        elif q.type in ("multi", "choice"):
            assert card["template_card"]["card_type"] == "vote_interaction"
            assert card["template_card"]["checkbox"]["mode"] == (1 if q.type == "multi" else 0)
            chosen = SERIOUS[q.key] if q.type == "multi" else [SERIOUS[q.key]]
            response = world.press("LiSi", card, f"m:{report_id}:{q.key}", selected=chosen)
        elif q.type == "photo":
            have = len(reports.walker_for(_report(world, report_id)).answers.get(q.key) or [])
            if have:
                response = world.press("LiSi", card, f"n:{report_id}:done:{q.key}")
            else:
                photos += 1
                double.media[f"MEDIA{photos}"] = make_jpeg(96, 64, seed=photos)
                response = world.image("LiSi", f"MEDIA{photos}")
        elif q.type == "location":
            response = world.location("LiSi", 28.2001, 112.9002)
        else:
            response = world.text("LiSi", SERIOUS[q.key])
        _ok(response)
        world.deliver()
    else:
        raise AssertionError("the checklist did not end")

    # The same draft on the web form, opened inside WeCom (signed in by WeCom OAuth, no link).
    double.codes["web-1"] = "LiSi"
    opened = world.client.get(f"/auth/wecom?code=web-1&next=/f/report/{report_id}", follow_redirects=False)
    assert opened.headers["location"] == f"/f/report/{report_id}"
    page = world.client.get(f"/f/report/{report_id}")
    assert page.status_code == 200 and "新桥村蔬菜大棚" in page.text and "抵押" in page.text

    # The review card: every answer, and Submit.
    review = world.last("LiSi")
    assert "抵押" in card_text(review) or "Mortgaged" in card_text(review)
    _ok(world.press("LiSi", review, f"n:{report_id}:confirm"))
    world.deliver()
    done = card_text(world.last("LiSi"))
    assert "新桥村蔬菜大棚" in done and zh("{count} problem(s) recorded; your township has been told.",
                                        count=1) in done
    with Session(world.engine) as session:
        report = session.get(Report, report_id)
        assert report.status == "submitted"
        assert report.answers["unauthorised_acts"] == ["mortgage"]
        assert len(report.answers["board_photo"]) == 1 and report.answers["location"]["lat"] == 28.2001
        (problem,) = session.exec(select(Problem).where(Problem.report_id == report_id,
                                                        Problem.severity == "serious")).all()
    assert double.count("/cgi-bin/media/get") == photos == 2

    # The township leader (recorded by an officer, never wrote to the app) got the alert as a card.
    (alert,) = [p for p in double.sent_to("ZhaoLiu") if p["msgtype"] == "template_card"]
    assert card_keys(alert) == [f"pb:ack:{problem.id}", f"pb:res:{problem.id}"]
    assert "新桥村蔬菜大棚" in card_text(alert)
    _ok(world.press("ZhaoLiu", alert, f"pb:ack:{problem.id}"))
    world.deliver()
    assert zh("Acknowledged: the township is handling the problem.") in card_text(world.last("ZhaoLiu"))
    with Session(world.engine) as session:
        assert session.get(Problem, problem.id).status == "acknowledged"
        leader = session.exec(select(WeComIdentity).where(WeComIdentity.userid == "ZhaoLiu")).one()
        assert leader.bound_at is not None  # the first press bound the recorded account

    # Resolve from the same card: the app asks for a note, the next text resolves it.
    _ok(world.press("ZhaoLiu", alert, f"pb:res:{problem.id}"))
    world.deliver()
    assert zh("Reply with a short note on what was done to resolve the problem.") in card_text(world.last("ZhaoLiu"))
    _ok(world.text("ZhaoLiu", "已约谈经营主体，解除抵押"))
    world.deliver()
    with Session(world.engine) as session:
        assert session.get(Problem, problem.id).status == "resolved"

    assert len(double.sent_to("LiSi")) < 30  # under WeCom's limit per member and minute (tested apart)
    # Nothing was sent twice and nothing is left behind.
    assert len(double.task_ids) == sum(1 for _, p in double.sent if p["msgtype"] == "template_card")
    with Session(world.engine) as session:
        assert {m.status for m in session.exec(select(OutboxMessage)).all()} == {"sent"}


def _report(world, report_id: int) -> Report:
    with Session(world.engine, expire_on_commit=False) as session:
        return session.get(Report, report_id)
