"""The township leader's /review: approved reports leave the reports to review; approve and send-back say
what was done; a refused send-back answers on the report's page, which reloads."""

from __future__ import annotations

from sqlmodel import Session

from bot.storage.models import Report
from tests.township.conftest import CHINESE_CODES, csrf, submit_report, text_of


def test_approve_moves_the_report_out_of_the_reports_to_review(town):
    report_id = submit_report(town)
    leader = town.client(town.leader)
    listed = leader.get("/review")
    waiting = listed.text.split('id="waiting"')[1].split("</ul>")[0]
    assert f"/review/{report_id}?" in waiting and 'id="approved"' not in listed.text
    page = leader.get(f"/review/{report_id}")
    done = leader.post(f"/review/{report_id}/approve?lang=zh_CN", data={"csrf": csrf(page)})
    assert done.status_code == 200 and done.url.path == "/review"
    assert 'role="status"' in done.text and "已通过：新桥村蔬菜大棚" in done.text
    waiting = done.text.split('id="waiting"')[1].split("</ul>")[0]
    assert f"/review/{report_id}?" not in waiting
    approved = done.text.split('id="approved"')[1]
    assert f"/review/{report_id}?" in approved and "已通过审核" in approved
    assert not CHINESE_CODES.search(text_of(done.text))
    again = leader.get(str(done.url))
    assert again.status_code == 200 and 'role="status"' not in again.text
    # Approving again is refused on the report's page, not a dead end.
    refused = leader.post(f"/review/{report_id}/approve", data={"csrf": csrf(page)})
    assert refused.url.path == f"/review/{report_id}" and 'role="alert"' in refused.text


def test_send_back_says_so_and_a_missing_reason_is_asked_again(town):
    report_id = submit_report(town)
    leader = town.client(town.leader)
    page = leader.get(f"/review/{report_id}")
    refused = leader.post(f"/review/{report_id}/send-back", data={"csrf": csrf(page), "reason": " "})
    assert refused.status_code == 200 and refused.url.path == f"/review/{report_id}"
    assert 'role="alert"' in refused.text
    assert leader.get(str(refused.url)).status_code == 200  # a GET address: reload works
    assert leader.get(f"/review/{report_id}?lang=en").status_code == 200
    done = leader.post(f"/review/{report_id}/send-back?lang=zh_CN", data={"csrf": csrf(page), "reason": "照片看不清"})
    assert done.url.path == "/review" and "已退回村里：新桥村蔬菜大棚" in done.text
    with Session(town.engine) as session:
        assert session.get(Report, report_id).status == "returned"
    assert f"/review/{report_id}?" not in done.text
