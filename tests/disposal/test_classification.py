"""Issue 17 item 6: the township's 四个一批 "处置" opens a disposal request for the village to complete, "盘活" a task
on the township's problem list to change the contract or the operator; each once, and the confirmation leads there."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from bot.services.assessment import classes as four_way
from bot.storage.models import Problem, User
from bot.storage.models_disposal import Disposal
from bot.storage.models_schedule import OutboxMessage
from tests.disposal.conftest import csrf, submit_report, text_of


def _choose(client, asset_id: int, chosen: str, note: str):
    page = client.get(f"/classify/{asset_id}")
    return client.post(f"/classify/{asset_id}", data={"csrf": csrf(page), "chosen": chosen, "note": note})


def test_dispose_opens_one_disposal_request_for_the_village(town):
    submit_report(town)
    leader = town.client(town.leader)
    done = _choose(leader, town.asset.id, "dispose", "大棚已到使用年限，村里决定拆除")
    with Session(town.engine) as session:
        rows = session.exec(select(Disposal).where(Disposal.asset_id == town.asset.id)).all()
        assert len(rows) == 1
        draft = rows[0]
        assert (draft.status, draft.created_by, draft.class_id is not None) == ("draft", town.leader.id, True)
        assert "大棚已到使用年限，村里决定拆除" in draft.description
        told = session.exec(select(OutboxMessage).where(OutboxMessage.subject == f"disposal/{draft.id}")).all()
        assert {m.recipient for m in told} == {f"u{town.cadre.id}"}
    assert done.url.path == f"/disposals/{draft.id}"
    assert "已记录：新桥村蔬菜大棚 — 处置一批。已发起处置申请" in text_of(done.text)
    assert "由“四个一批”分类发起：待村级完善申请" in done.text

    # Confirming it again opens nothing more.
    again = _choose(leader, town.asset.id, "dispose", "再次确认")
    assert again.url.path == f"/disposals/{draft.id}"
    with Session(town.engine) as session:
        assert len(session.exec(select(Disposal).where(Disposal.asset_id == town.asset.id)).all()) == 1

    # The village completes the prefilled request: the same disposal goes on.
    cadre = town.client(town.cadre)
    assert f"/disposals/new?asset={town.asset.id}" in cadre.get(f"/disposals/{draft.id}").text
    form = cadre.get(f"/disposals/new?asset={town.asset.id}")
    assert "乡镇已将该资产确定为“处置一批”" in form.text and "大棚已到使用年限" in form.text
    assert re.search(r'value="damaged" checked', form.text)
    sent = cadre.post("/disposals/new", data={"csrf": csrf(form), "asset": str(town.asset.id), "reason": "damaged",
                                              "way": "scrap", "description": "大棚已到使用年限，骨架锈蚀",
                                              "confirm": "1"})
    assert sent.url.path == f"/disposals/{draft.id}"
    with Session(town.engine) as session:
        assert session.get(Disposal, draft.id).status == "requested"


def test_revitalise_opens_one_contract_task_on_the_problem_list(town):
    submit_report(town)
    leader = town.client(town.leader)
    done = _choose(leader, town.asset.id, "revitalise", "大棚经营不善，拟更换经营主体")
    with Session(town.engine) as session:
        tasks = session.exec(select(Problem).where(Problem.asset_id == town.asset.id,
                                                   Problem.kind == "revitalise")).all()
        assert len(tasks) == 1 and tasks[0].status == "open" and tasks[0].owner_level == "township"
    assert done.url.path == f"/problems/{tasks[0].id}"
    words = text_of(done.text)
    assert "已列入乡镇问题清单" in words and "盘活一批：变更该资产的经营合同或经营主体。" in words
    assert f'href="/ledger/assets/{town.asset.id}/contract?' in done.text
    assert "revitalise" not in words
    _choose(leader, town.asset.id, "revitalise", "再次确认")
    with Session(town.engine) as session:
        assert len(session.exec(select(Problem).where(Problem.kind == "revitalise")).all()) == 1


def test_the_telegram_confirmation_opens_the_request_too(town):
    """The same rule whichever channel the leader confirms on (``confirm_class`` is Telegram's road)."""
    submit_report(town)
    town.client(town.leader).get("/classify")  # the suggestions of the month
    with Session(town.engine) as session:
        leader = session.get(User, town.leader.id)
        from bot.clock import period_of, utcnow

        four_way.confirm_class(session, leader, town.asset.id, period_of(utcnow(), town.settings.tz), "处置",
                               "到使用年限")
        session.commit()
        assert session.exec(select(Disposal).where(Disposal.asset_id == town.asset.id)).one().status == "draft"
