"""Problems on the web: acknowledge → in hand → resolve with a note and a photo; hand up to the county;
the history in words; villagers' photos seen by their own township only; refusals that can be reloaded."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from bot.storage.models import AuditEntry, Problem, ProblemEvent
from bot.storage.models_schedule import OutboxMessage
from tests.services.images import make_jpeg
from tests.township.conftest import CHINESE_CODES, csrf, text_of, token


def test_acknowledge_in_hand_resolve_with_a_note_and_a_photo(town):
    leader = town.client(town.leader)
    pid = town.report_problem_id
    page = leader.get(f"/problems/{pid}")
    assert page.status_code == 200
    assert "待处理" in page.text and f'action="/problems/{pid}/ack' in page.text

    done = leader.post(f"/problems/{pid}/ack?lang=zh_CN", data={"csrf": csrf(page)})
    assert done.status_code == 200 and done.url.path == f"/problems/{pid}"  # post/redirect/get
    assert "已确认收到" in done.text and 'role="status"' in done.text
    assert f'action="/problems/{pid}/ack' not in done.text

    done = leader.post(f"/problems/{pid}/hand?lang=zh_CN", data={"csrf": csrf(done)})
    assert "已标记为处理中" in done.text
    assert f'action="/problems/{pid}/hand' not in done.text  # the button does not stay once pressed
    assert "处理中" in done.text

    photo = make_jpeg(800, 600, seed=3)
    done = leader.post(f"/problems/{pid}/resolve?lang=zh_CN", data={"csrf": csrf(done), "note": "已找到承租方，大棚恢复生产"},
                       files={"photo": ("after.jpg", photo, "image/jpeg")})
    assert done.status_code == 200 and done.url.path == f"/problems/{pid}"
    assert "已记录为解决" in done.text and "已找到承租方，大棚恢复生产" in done.text
    assert f'action="/problems/{pid}/resolve' not in done.text
    assert f"/problems/{pid}?" not in leader.get("/problems").text  # open only, by default
    assert f"/problems/{pid}?" in leader.get("/problems?open=0").text  # the filter's other choice
    with Session(town.engine) as session:
        problem = session.get(Problem, pid)
        assert problem.status == "resolved" and problem.resolution_note == "已找到承租方，大棚恢复生产"
        events = session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == pid)
                              .order_by(ProblemEvent.id)).all()
        assert [e.action for e in events] == ["created", "alerted", "acknowledged", "in_hand", "resolved", "photo"]
        sha = events[-1].note.removeprefix("sha256:")
        actions = [a.action for a in session.exec(select(AuditEntry).where(AuditEntry.entity_id == str(pid))).all()]
        assert {"problem.acknowledge", "problem.in_hand", "problem.resolve"} <= set(actions)
    shown = leader.get(f"/problems/{pid}/photo/{sha}.jpg")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert f"/problems/{pid}/photo/{sha}.jpg" in done.text

    # The history in words: who, when, what; no stored code on the Chinese page.
    words = text_of(done.text)
    for sentence in ("李书记在2026年12月月度检查中发现了此问题", "王镇长确认收到", "王镇长标记为处理中",
                     "王镇长已解决：已找到承租方，大棚恢复生产", "已立即通知乡镇：王镇长"):
        assert sentence in words, sentence
    assert not CHINESE_CODES.search(words), CHINESE_CODES.search(words)
    assert not re.findall(r"[A-Za-z_]{3,}", words)  # no English word on the Chinese page
    english = text_of(leader.get(f"/problems/{pid}?lang=en").text)
    assert "王镇长 acknowledged it." in english and "李书记 found it in the monthly check of December 2026." in english


def test_a_refused_step_redirects_to_an_address_that_reloads(town):
    leader = town.client(town.leader)
    pid = town.report_problem_id
    page = leader.get(f"/problems/{pid}")
    refused = leader.post(f"/problems/{pid}/resolve?lang=zh_CN", data={"csrf": csrf(page), "note": "  "},
                          files={"photo": ("x.jpg", b"not a picture at all", "image/jpeg")})
    assert refused.status_code == 200 and refused.url.path == f"/problems/{pid}"
    assert 'role="alert"' in refused.text
    again = leader.get(str(refused.url))  # reload: an ordinary GET, the message shown once
    assert again.status_code == 200 and 'role="alert"' not in again.text
    assert leader.get(f"/problems/{pid}?lang=en").status_code == 200
    # A photo that is not a picture: refused, what was typed is kept, nothing is written.
    refused = leader.post(f"/problems/{pid}/resolve", data={"csrf": csrf(page), "note": "已修复"},
                          files={"photo": ("x.jpg", b"not a picture at all", "image/jpeg")})
    assert refused.url.path == f"/problems/{pid}" and 'role="alert"' in refused.text and ">已修复</textarea>" in refused.text
    with Session(town.engine) as session:
        assert session.get(Problem, pid).status == "open"
    # Handing up without a proposal: refused the same way.
    refused = leader.post(f"/problems/{pid}/escalate", data={"csrf": csrf(page), "text": ""})
    assert refused.url.path == f"/problems/{pid}" and 'role="alert"' in refused.text


def test_hand_up_reaches_the_county(town):
    leader = town.client(town.leader)
    pid = town.villager_problem_id
    page = leader.get(f"/problems/{pid}")
    done = leader.post(f"/problems/{pid}/escalate?lang=zh_CN", data={"csrf": csrf(page), "text": "建议县里统一更换棚膜"})
    assert done.url.path == f"/problems/{pid}" and "已上报县级" in done.text
    assert "等待县级决定" in done.text and f'action="/problems/{pid}/escalate' not in done.text
    with Session(town.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.subject == f"problem/{pid}",
                                                        OutboxMessage.role == "county_officer")).all()
        assert [r.recipient for r in rows] == [f"u{town.officer.id}"]
        assert "建议县里统一更换棚膜" in str(rows[0].body)

    county = town.client(town.officer)
    listed = county.get("/problems?status=escalated")
    assert f"/problems/{pid}?" in listed.text
    first = re.search(r'href="/problems/(\d+)\?', county.get("/problems").text)
    assert int(first.group(1)) == pid  # what the county must decide comes first
    page = county.get(f"/problems/{pid}")
    assert f'action="/problems/{pid}/decide' in page.text
    done = county.post(f"/problems/{pid}/decide?lang=zh_CN", data={"csrf": csrf(page), "text": "同意更换，县里出资"})
    assert "已记录县级决定" in done.text
    words = text_of(done.text)
    assert "王镇长上报县级，建议：建议县里统一更换棚膜" in words
    assert "县乡村振兴局张科长记录了县级决定：同意更换，县里出资" in words
    with Session(town.engine) as session:
        assert session.get(Problem, pid).status == "in_hand"
        told = session.exec(select(OutboxMessage).where(OutboxMessage.subject == f"problem/{pid}",
                                                        OutboxMessage.role == "township_leader",
                                                        OutboxMessage.step.startswith("decided"))).all()
        assert told


def test_a_villagers_photo_is_shown_to_the_township_only(town):
    pid, sha = town.villager_problem_id, town.villager_photo
    leader = town.client(town.leader)
    page = leader.get(f"/problems/{pid}")
    assert f'src="/problems/{pid}/photo/{sha}.jpg"' in page.text and "村民上传的照片" in page.text
    assert "一位村民在公示页面反映了此问题" in text_of(page.text)
    assert not CHINESE_CODES.search(text_of(page.text))
    photo = leader.get(f"/problems/{pid}/photo/{sha}.jpg")
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
    # Another township: neither the page nor the photo.
    outsider = town.client(town.outsider)
    assert outsider.get(f"/problems/{pid}").status_code == 403
    assert outsider.get(f"/problems/{pid}/photo/{sha}.jpg").status_code == 403
    # A photo of another problem is not served under this one.
    assert leader.get(f"/problems/{town.report_problem_id}/photo/{sha}.jpg").status_code == 404


def test_scope_refusals(town):
    pid = town.report_problem_id
    outsider = town.client(town.outsider)
    mine = token(outsider, town)
    for step in ("ack", "hand", "escalate", "decide"):
        assert outsider.post(f"/problems/{pid}/{step}", data={"csrf": mine, "text": "x"}).status_code == 403
    assert outsider.post(f"/problems/{pid}/resolve", data={"csrf": mine, "note": "x"}).status_code == 403
    cadre = town.client(town.cadre)
    page = cadre.get(f"/problems/{pid}")
    assert page.status_code == 200 and f'action="/problems/{pid}/ack' not in page.text
    assert cadre.post(f"/problems/{pid}/ack", data={"csrf": token(cadre, town)}).status_code == 403
    leader = town.client(town.leader)
    assert leader.post(f"/problems/{pid}/decide", data={"csrf": token(leader, town), "text": "x"}
                       ).status_code == 403
    assert leader.post(f"/problems/{pid}/ack", data={}).status_code == 403  # no CSRF token
    with Session(town.engine) as session:
        assert session.get(Problem, pid).status == "open"


def test_a_resolution_carries_photos_under_the_photo_upload_limit():
    from bot.web.limits import MB, BodyLimit

    assert BodyLimit(None, max_upload_mb=20).limit_for("/problems/12/resolve") == ("photo", 21 * MB)
    assert BodyLimit(None, max_upload_mb=20).limit_for("/problems/12/escalate")[0] == "form"


def test_marking_spam_says_so_on_the_problems_page(town):
    leader = town.client(town.leader)
    pid = town.villager_problem_id
    page = leader.get(f"/problems/{pid}")
    done = leader.post(f"/problems/{pid}/spam?lang=zh_CN", data={"csrf": csrf(page), "days": "7"})
    assert done.url.path == f"/problems/{pid}" and "已标记为垃圾信息，发送者被屏蔽 7 天" in done.text
    assert "王镇长将其标为恶意反映；发送者 7 天内不能再反映。" in text_of(done.text)
    refused = leader.post(f"/problems/{pid}/spam", data={"csrf": csrf(page), "days": "7"})  # already closed
    assert refused.url.path == f"/problems/{pid}" and 'role="alert"' in refused.text
