"""A whole year time-travelled on each shipped profile, every duty done through the product's own entry
points (the web, the command line): villages that report on time, late or never, reports approved and
sent back. No reminder or escalation reaches a unit for a duty it has done, every duty of the profile is
completed by someone, and the dashboards, the command line and the officers' pages say what the duty
service says."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

import pytest
from sqlmodel import Session, select

from bot.policy import load
from bot.services import cycle, duties, oversight
from bot.services.evidence import EvidenceStore
from bot.storage.db import session_scope
from bot.storage.models import Asset, AuditEntry, OrgUnit, Report, User
from bot.storage.models_cycle import CycleStep
from bot.storage.models_schedule import DutyRecord
from tests.cycle.test_year import MIDYEAR, REVIEW, TARGETS, YEAREND
from tests.duties.harness import (
    Web,
    csrf,
    done_by_unit,
    local,
    messages_for_done_duties,
    rows,
    run_cli,
    run_year,
    settings_for,
)
from tests.factories import make_user
from tests.policy.world import build

pytestmark = pytest.mark.slow


def every_duty_done(engine, county_id: int, profile: str) -> dict[str, set[str]]:
    """Return, per item of the profile, how it was done (``Done.by``) in 2026 by some unit."""
    found: dict[str, set[str]] = {item.kind: set() for item in load(profile).items}
    for (item, _unit, period), state in done_by_unit(engine, county_id).items():
        if state.done is not None and period.startswith("2026"):
            found[item].add(state.done.by)
    return found


def test_yanshan_year(sqlite_url, sqlite_engine, tmp_path):
    engine, settings = sqlite_engine, settings_for(tmp_path)
    with session_scope(engine) as session:
        world = build(session, "yanshan-2024")
    ids = {k: u.id for k, u in world.people.items()}
    tree, assets = world.tree, {k: a.id for k, a in world.assets.items()}
    reports: dict[tuple[str, int], int] = {}
    events = []

    def report(village: str, person: str, month: int):
        def run():
            reports[(village, month)] = Web(engine, settings, ids[person]).monthly(assets[village])
        return run

    def approve(month: int):
        def run():
            leader = Web(engine, settings, ids["leader_a"])
            report_id = reports[("village_a1", month)]
            assert leader.post(f"/review/{report_id}/approve", page=f"/review/{report_id}").status_code == 200
        return run

    def send_back(month: int):
        def run():
            leader = Web(engine, settings, ids["leader_a"])
            report_id = reports[("village_a1", month)]
            response = leader.post(f"/review/{report_id}/send-back", {"reason": "照片看不清，请重拍"},
                                   page=f"/review/{report_id}")
            assert response.status_code == 200
        return run

    def resubmit(month: int):
        def run():
            cadre = Web(engine, settings, ids["cadre_a1"])
            with Session(engine) as session:
                draft = session.exec(select(Report).where(Report.asset_id == assets["village_a1"],
                                                          Report.period == f"2026-{month:02d}",
                                                          Report.status == "draft")).one()
            cadre.fill(draft.id)
        return run

    for month in range(1, 13):
        # 新桥村 reports on the 20th on the web; 梨树村 late, on the 27th; 王庄村 never.
        events.append((local(2026, month, 20, 10), report("village_a1", "cadre_a1", month)))
        events.append((local(2026, month, 27, 10), report("village_b1", "cadre_b1", month)))
        if month == 3:  # the township sends March back on the 22nd; corrected on the 26th, a day late
            events.append((local(2026, 3, 22, 11), send_back(3)))
            events.append((local(2026, 3, 26, 10), resubmit(3)))
        elif month % 2:
            events.append((local(2026, month, 22, 11), approve(month)))

    def inspect(quarter: int):
        def run():
            leader = Web(engine, settings, ids["leader_a"])
            leader.form("township-inspection", assets["village_a1"], f"2026-Q{quarter}")
        return run

    for quarter, month in ((1, 2), (2, 5), (3, 8), (4, 11)):  # 新桥镇 inspects each quarter; 北坡乡 never
        events.append((local(2026, month, 10, 15), inspect(quarter)))

    def dept_h1():
        Web(engine, settings, ids["dept"]).record("department_supervision", "2026-H1", "2026-06-19",
                                                  "到新桥镇、北坡乡督导资产月度核查", attachment=b"%PDF-1.4 minutes")

    def office_h1():  # three days late
        Web(engine, settings, ids["office"]).record("county_half_year_report", "2026-H1", "2026-07-03",
                                                    "向县领导小组报告上半年资产监管情况")

    def dept_h2():
        result = run_cli(sqlite_url, "duty", "record", "department_supervision", "--unit", "桃源县",
                         "--period", "2026-H2", "--date", "2026-12-18", "--note", "下半年督导")
        assert result.exit_code == 0, result.output

    def office_h2():
        result = run_cli(sqlite_url, "duty", "record", "county_half_year_report", "--unit", "桃源县",
                         "--period", "2026-H2", "--date", "2026-12-28", "--note", "下半年报告")
        assert result.exit_code == 0, result.output

    # 002 第六条 (issue 16): 新桥镇 records its leadership meeting on the reports every month; 北坡乡 classifies
    # its operating assets (四个一批) once 梨树村 has reported. (新桥镇 never can: 王庄村 never reports.)
    def study(month: int):
        def run():
            Web(engine, settings, ids["leader_a"]).record("township_study", f"2026-{month:02d}",
                                                          f"2026-{month:02d}-28", "班子会议专题研究村级上报情况")
        return run

    def classify(month: int):
        def run():
            from bot.services.assessment import confirm_class, suggest_classes

            with Session(engine) as session:
                leader = session.get(User, ids["leader_b"])
                township = session.get(OrgUnit, tree.township_b.id)
                for found in suggest_classes(session, township, f"2026-{month:02d}", user=leader):
                    confirm_class(session, leader, found.asset.id, f"2026-{month:02d}", "巩固",
                                  note="维持巩固")
                session.commit()
        return run

    for month in range(1, 13):
        events.append((local(2026, month, 28, 10), study(month)))
        events.append((local(2026, month, 28, 11), classify(month)))

    events += [(local(2026, 6, 20, 15), dept_h1), (local(2026, 7, 3, 16), office_h1),
               (local(2026, 12, 18, 15), dept_h2), (local(2026, 12, 28, 15), office_h2)]
    run_year(engine, events)

    # No reminder or escalation for a duty its unit had done when the message left.
    assert messages_for_done_duties(engine, tree.county.id) == []
    # Every duty of the profile was done, in the way the profile says.
    assert every_duty_done(engine, tree.county.id, "yanshan-2024") == {
        "village_monthly_report": {"form"}, "township_inspection": {"form"},
        "department_supervision": {"record"}, "county_half_year_report": {"record"},
        "township_study": {"record"}, "township_classification": {"classify"}}

    monthly = "village_monthly_report"
    every = rows(engine)
    cadre = {k: [m for m in every if m.recipient == f"u{ids[k]}" and m.item == monthly
                 and m.period.startswith("2026")] for k in ("cadre_a1", "cadre_a2", "cadre_b1")}
    # The check is not empty: 王庄村 is reminded twice a month and named in every escalation.
    assert len(cadre["cadre_a2"]) == 24
    # 新桥村 (approved or waiting for review) gets no D-1 reminder, except in March: sent back on the 22nd.
    assert sorted({m.period for m in cadre["cadre_a1"] if m.step == "remind-d1"}) == ["2026-03"]
    digests = [m for m in every if m.item == monthly and m.kind == "digest" and m.recipient == f"u{ids['leader_a']}"]
    named = [(m.period, p["scope"]) for m in digests for msgid, p in m.body if "scope" in p]
    assert ("2026-03", "新桥村") in named and not [n for n in named if n[1] == "新桥村" and n[0] != "2026-03"]
    # 梨树村 is late every month: 北坡乡's leader hears of it the first working morning after the deadline
    # unless that comes after its report (a weekend), and never again that month.
    late_b = [m for m in every if m.item == monthly and m.recipient == f"u{ids['leader_b']}"
              and m.period.startswith("2026")]
    assert len(late_b) >= 10 and len({m.period for m in late_b}) == len(late_b)
    assert all(m.send_at < local(2026, int(m.period[5:]), 27, 10) for m in late_b)
    # Half-yearly duties: nobody reminded after their record; the county office escalated for H1 (late).
    office = [m for m in every if m.item == "county_half_year_report" and m.period == "2026-H1"]
    assert [m.kind for m in office].count("digest") >= 1
    assert not [m for m in every if m.item == "department_supervision" and m.kind == "digest"
               and m.period.startswith("2026")]

    with Session(engine) as session:
        county = session.get(OrgUnit, tree.county.id)
        # The dashboards agree with the duty service, month by month and village by village.
        grid = oversight.reporting_grid(session, county, [f"2026-{m:02d}" for m in range(1, 13)])
        states = done_by_unit(engine, tree.county.id)
        for month in range(1, 13):
            period = f"2026-{month:02d}"
            for row, (village, _) in zip(grid.by_village(period), grid.villages, strict=True):
                state = states[(monthly, village.id, period)]
                assert (row.done == row.expected > 0) == (state.state == duties.DONE), (period, village.name)
                on_time = state.state == duties.DONE and state.on_time
                assert (row.on_time == row.expected > 0) == on_time, (period, village.name)
        # The officer's record keeps its date, note and attachment, audited.
        record = session.exec(select(DutyRecord).where(DutyRecord.item == "department_supervision",
                                                       DutyRecord.period == "2026-H1")).one()
        assert (record.by, record.occurred_on, record.user_id) == ("record", dt.date(2026, 6, 19), ids["dept"])
        kept = EvidenceStore.from_settings(settings).blobs.get(record.attachment)  # the same file store as photos
        assert record.attachment_name == "纪要.pdf" and kept == b"%PDF-1.4 minutes"
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "duty.done")).all()

    # The command line lists the same states.
    listed = run_cli(sqlite_url, "duty", "list", "--scope", "桃源县", "--at", "2027-01-05T10:00", "--all", "--json")
    assert listed.exit_code == 0, listed.output
    lines = [json.loads(line) for line in listed.output.splitlines()]
    states = done_by_unit(engine, tree.county.id)
    shown = {(d["item"], d["unit_id"], d["period"]): d["done_by"] for d in lines}
    assert shown and all(states[key].done is not None if by else states[key].done is None
                         for key, by in shown.items() if key in states)
    assert shown[("department_supervision", tree.county.id, "2026-H2")] == "record"


def test_jiaozuo_year(sqlite_url, sqlite_engine, tmp_path):
    engine, settings = sqlite_engine, settings_for(tmp_path)
    with session_scope(engine) as session:
        world = build(session, "jiaozuo-2020")
    ids = {k: u.id for k, u in world.people.items()}
    tree, assets = world.tree, {k: a.id for k, a in world.assets.items()}
    events = []

    def quarter_forms(period: str):
        def run():
            leader = Web(engine, settings, ids["leader_a"])
            for form in ("quarterly-monitoring", "benefit-self-evaluation"):
                for village in ("village_a1", "village_a2"):
                    leader.form(form, assets[village], period)
        return run

    # 新桥镇 sends both forms for every operating asset: on time for 2025-Q4..2026-Q2, late for 2026-Q3.
    for moment, period in ((local(2026, 1, 8, 10), "2025-Q4"), (local(2026, 4, 9, 10), "2026-Q1"),
                           (local(2026, 7, 8, 10), "2026-Q2"), (local(2026, 10, 19, 10), "2026-Q3")):
        events.append((moment, quarter_forms(period)))

    def sample(period: str, day: str):
        def run():
            Web(engine, settings, ids["office"]).record("county_sample_check", period, day, "抽查新桥镇两个项目")
        return run

    events += [(local(2026, 3, 20, 10), sample("2026-Q1", "2026-03-19")),
               (local(2026, 6, 29, 10), sample("2026-Q2", "2026-06-29"))]

    def cli_sample():
        result = run_cli(sqlite_url, "duty", "record", "county_sample_check", "--unit", "桃源县",
                         "--period", "2026-Q3", "--date", "2026-10-02", "--note", "三季度抽查（补记）")
        assert result.exit_code == 0, result.output

    events.append((local(2026, 10, 2, 10), cli_sample))  # after the deadline: escalated first, then done

    def inventory_2026():  # 新桥村 counts its asset of 2026 on the web in January 2027 (seed 003 年初清查、清算)
        cadre = Web(engine, settings, ids["cadre_a1"])
        page = cadre.client.get("/inventory?year=2026").text
        done = cadre.client.post(f"/inventory/asset/{assets['village_a1']}", data={
            "csrf": csrf(page), "year": "2026", "exists": "yes", "state": "operating", "value": "100",
            "income_settled": "yes", "income_received": "0"})
        assert done.status_code == 200, done.text[-800:]
        review = cadre.client.get("/inventory/submit?year=2026").text
        assert cadre.client.post("/inventory/submit", data={"csrf": csrf(review), "year": "2026"}).status_code == 200

    events.append((local(2027, 1, 5, 10), inventory_2026))
    run_year(engine, events)

    assert messages_for_done_duties(engine, tree.county.id) == []
    assert every_duty_done(engine, tree.county.id, "jiaozuo-2020") == {
        "quarterly_monitoring": {"form"}, "benefit_self_evaluation": {"form"}, "county_sample_check": {"record"},
        "yearly_inventory": {"inventory"}}
    every = rows(engine)
    # 北坡乡 never sends its forms: reminded and escalated each quarter, 新桥镇 not after sending.
    late_b = [m for m in every if m.item == "quarterly_monitoring" and m.recipient == f"u{ids['leader_b']}"]
    assert {m.period for m in late_b} >= {"2026-Q1", "2026-Q2", "2026-Q3"}
    # Nobody counted 2025's assets: every village's cadre reminded before 31 March 2026, the township told after.
    counted = [m for m in every if m.item == "yearly_inventory" and m.period == "2025"]
    assert {m.recipient for m in counted if m.kind == "reminder"} >= {f"u{ids[k]}" for k in
                                                                      ("cadre_a1", "cadre_a2", "cadre_b1")}
    assert all(m.send_at < local(2026, 3, 31, 23, 59) for m in counted if m.kind == "reminder")
    assert any(m.kind == "digest" and m.recipient == f"u{ids['leader_a']}" for m in counted)
    sample_digests = [m.period for m in every if m.item == "county_sample_check" and m.kind == "digest"]
    assert "2026-Q3" in sample_digests and "2026-Q1" not in sample_digests and "2026-Q2" not in sample_digests
    # The county officer's page shows the sample checks done, Q4 still to record.
    with Session(engine) as session:
        office = session.get(User, ids["office"])
        mine = {(s.item, s.period): s.state for s in duties.for_user(session, office, local(2026, 12, 20))}
    assert mine[("county_sample_check", "2026-Q4")] == duties.DUE
    page = Web(engine, settings, ids["office"]).client.get("/duties").text
    assert 'name="period" value="2026-Q4"' in page and 'name="period" value="2026-Q3"' not in page


def test_qinbei_year(sqlite_url, sqlite_engine, tmp_path):
    from tests.cycle.test_year import evaluation

    engine, settings = sqlite_engine, settings_for(tmp_path)
    with session_scope(engine) as session:
        world = build(session, "qinbei-2023")
        supers = {"village_a1": world.people["super_a1"].id,
                  "village_a2": make_user(session, "village_supervisor", world.tree.village_a2, "王监委").id,
                  "village_b1": make_user(session, "village_supervisor", world.tree.village_b1, "梨监委").id}
        # Qinbei 五(二), 五(三)1: the cooperative board's chair of each village signs too (issue 16)
        boards = {key: make_user(session, "village_supervisor", getattr(world.tree, key), f"{key}监事").id
                  for key in ("village_a1", "village_a2", "village_b1")}
    ids = {k: u.id for k, u in world.people.items()}
    cadres = {"village_a1": ids["cadre_a1"], "village_a2": ids["cadre_a2"], "village_b1": ids["cadre_b1"]}
    leaders = {"village_a1": ids["leader_a"], "village_a2": ids["leader_a"], "village_b1": ids["leader_b"]}
    tree = world.tree
    villages = {"village_a1": tree.village_a1.id, "village_a2": tree.village_a2.id, "village_b1": tree.village_b1.id}
    made: dict[str, int] = {}
    events = []

    def targets():
        dept = Web(engine, settings, ids["dept"])
        for village in villages.values():
            dept.form("annual-targets", village, "2026", TARGETS)

    def issued():
        Web(engine, settings, ids["office"]).record("targets_issued", "2026", "2026-01-28", "目标已下达各镇、村")

    def fill_signed(village: str, form: str, answers: dict):
        def run():
            made[f"{form}/{village}"] = Web(engine, settings, cadres[village]).form(form, villages[village], "2026",
                                                                                   answers)
        return run

    def sign(village: str, form: str, back: bool = False):
        def run():
            supervisor = Web(engine, settings, supers[village])
            report_id = made[f"{form}/{village}"]
            if back:
                response = supervisor.post(f"/f/signoff/{report_id}/back", {"reason": "收益数字有误"},
                                           page=f"/f/signoff/{report_id}")
            else:
                response = supervisor.post(f"/f/signoff/{report_id}", page=f"/f/signoff/{report_id}")
                assert response.status_code == 200, response.text[-500:]
                response = Web(engine, settings, boards[village]).post(f"/f/signoff/{report_id}",
                                                                       page=f"/f/signoff/{report_id}")
            assert response.status_code == 200, response.text[-500:]
            if form == "yearend-self-evaluation":  # 五(三)1: posted on the village board, with its photo
                from bot.services.evidence import EvidenceStore
                from tests.services.images import make_jpeg

                with Session(engine) as session:
                    cycle.record_posting(session, session.get(User, cadres[village]), report_id, make_jpeg(),
                                         EvidenceStore(tmp_path / "evidence", 5 * 1024 * 1024))
        return run

    def refill(village: str, form: str):
        def run():
            with Session(engine) as session:
                draft = session.exec(select(Report).where(Report.org_unit_id == villages[village],
                                                          Report.form_id == form, Report.status == "draft")).one()
            Web(engine, settings, cadres[village]).fill(draft.id, MIDYEAR)
            made[f"{form}/{village}"] = draft.id
        return run

    def report_up(village: str):
        def run():
            cadre = Web(engine, settings, cadres[village])
            report_id = made[f"yearend-self-evaluation/{village}"]
            assert cadre.post(f"/f/report/{report_id}/up", page="/f").status_code == 200
        return run

    def review_form(village: str):
        def run():
            Web(engine, settings, leaders[village]).form("township-review", villages[village], "2026", REVIEW)
        return run

    def score_on_web(village: str):
        def run():
            leader = Web(engine, settings, leaders[village])
            page = leader.client.get(f"/duties/review/{villages[village]}?year=2026")
            assert page.status_code == 200
            boxes = dict.fromkeys(set(re.findall(r'name="(j:[^"]+)"', page.text)), "1")
            facts = {name: "10" for name in re.findall(r'name="(f:[^"]+)"', page.text)}
            response = leader.client.post(f"/duties/review/{villages[village]}?year=2026",
                                          data={"csrf": csrf(page.text), **boxes, **facts})
            assert response.status_code == 200, response.text[-800:]
        return run

    def score_on_cli(village: str):
        def run():
            with Session(engine) as session:
                mine = session.exec(select(Asset).where(Asset.village_id == villages[village],
                                                        Asset.asset_type != "到户类")).all()
            args = []
            for asset in mine:
                path = tmp_path / f"eval-{asset.id}.json"
                rubric = "qinbei-2023-public-welfare" if asset.asset_type == "公益性" else "qinbei-2023-operating"
                path.write_text(json.dumps(copy.deepcopy(evaluation(rubric)), default=str), encoding="utf-8")
                args += ["--evaluation", f"{asset.id}={path}"]
            result = run_cli(sqlite_url, "duty", "review", "--village", "王庄村", "--year", "2026", *args)
            assert result.exit_code == 0, result.output
        return run

    def grade_web():
        office = Web(engine, settings, ids["office"])
        page = office.client.get("/duties/grade?year=2026")
        assert page.status_code == 200 and "/duties/grade/" in page.text
        response = office.post(f"/duties/grade/{tree.township_a.id}", {"year": "2026"}, page="/duties/grade?year=2026")
        assert response.status_code == 200, response.text[-800:]

    def grade_cli():
        result = run_cli(sqlite_url, "duty", "grade", "--township", "北坡乡", "--year", "2026")
        assert result.exit_code == 0, result.output

    events += [(local(2026, 1, 20, 10), targets), (local(2026, 1, 28, 15), issued)]
    for village in villages:
        events.append((local(2026, 6, 10, 10), fill_signed(village, "midyear-self-check", MIDYEAR)))
    events += [(local(2026, 6, 12, 10), sign("village_a1", "midyear-self-check")),
               (local(2026, 6, 12, 11), sign("village_a2", "midyear-self-check", back=True)),  # sent back …
               (local(2026, 6, 26, 10), refill("village_a2", "midyear-self-check")),
               (local(2026, 6, 27, 10), sign("village_a2", "midyear-self-check"))]  # … corrected, signed
    # 梨树村's supervisor signs only in July: late; its cadre and supervisor are escalated until then.
    events.append((local(2026, 7, 6, 10), sign("village_b1", "midyear-self-check")))
    for village in villages:
        events.append((local(2026, 11, 10, 10), fill_signed(village, "yearend-self-evaluation", YEAREND)))
        events.append((local(2026, 11, 12, 10), sign(village, "yearend-self-evaluation")))
        events.append((local(2026, 11, 23, 10), report_up(village)))  # the 10-day posting is over
        events.append((local(2026, 11, 25, 10), review_form(village)))
    events += [(local(2026, 12, 1, 10), score_on_web("village_a1")), (local(2026, 12, 2, 10), score_on_cli("village_a2")),
               (local(2026, 12, 3, 10), score_on_web("village_b1")),
               (local(2026, 12, 28, 10), grade_web), (local(2026, 12, 29, 10), grade_cli)]
    run_year(engine, events)

    assert messages_for_done_duties(engine, tree.county.id) == []
    assert every_duty_done(engine, tree.county.id, "qinbei-2023") == {
        "department_targets": {"form"}, "targets_issued": {"record"}, "midyear_self_check": {"sign_off"},
        "village_self_evaluation": {"sign_off"}, "township_review": {"review"}, "county_grading": {"grade"}}
    every = rows(engine)
    # The self-check 王庄村's supervisor sent back was corrected and signed on the 27th: nothing after that.
    assert not [m for m in every if m.item == "midyear_self_check" and m.scope == tree.village_a2.code
                and m.send_at > local(2026, 6, 27, 10)]
    # 梨树村 was late: its township hears of it after June 30.
    assert [m for m in every if m.item == "midyear_self_check" and m.kind == "digest"
            and m.recipient == f"u{ids['leader_b']}"]
    with Session(engine) as session:
        grades = session.exec(select(CycleStep).where(CycleStep.step == "grade")).all()
        assert {g.org_unit_id: g.data["grade"] for g in grades} == {tree.township_a.id: "好", tree.township_b.id: "好"}
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "cycle.review")).all()
        assert cycle.gradings(session, None, tree.county.id, 2026)[0].grade is not None
