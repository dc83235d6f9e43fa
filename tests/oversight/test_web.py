"""The dashboards and downloads over HTTP: who sees what, charts as valid SVG, files that open."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import time_machine
from python_calamine import CalamineWorkbook

from tests.oversight.conftest import NOW, PERIOD

SVG = "{http://www.w3.org/2000/svg}"


def svgs(html: str) -> list[ET.Element]:
    """Return every inline <svg> of a page, parsed as XML (a malformed chart fails here)."""
    found, start = [], 0
    while (start := html.find("<svg", start)) != -1:
        end = html.index("</svg>", start) + len("</svg>")
        found.append(ET.fromstring(html[start:end]))
        start = end
    return found


def bars(svg: ET.Element) -> list[tuple[str, str]]:
    return [
        (r.get("data-label"), r.get("data-value")) for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"
    ]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_it_sends_each_user_to_their_own_dashboard(sign_in, world):
    client = sign_in(world.users["leader_a"])
    response = client.get("/oversight")
    assert (
        response.status_code == 303
        and response.headers["location"] == f"/oversight/{world.tree.township_a.id}"
    )


def test_the_township_page_draws_a_bar_per_village(sign_in, world):
    client = sign_in(world.users["leader_a"])
    response = client.get(f"/oversight/{world.tree.township_a.id}?month={PERIOD}")
    assert response.status_code == 200
    charts = svgs(response.text)
    assert len(charts) == 6
    on_time, problems, classes, industries, funds, trend = charts
    assert bars(on_time) == [("新桥村", "100"), ("王庄村", "0")]
    assert dict(bars(problems)) == {"严重": "1", "较重": "1", "一般": "0"}
    assert len(bars(classes)) == 5 and len(bars(industries)) == 8 and len(bars(funds)) == 5
    assert len(bars(trend)) == 12 and dict(bars(trend))["10"] == "4"
    assert "梨树村" not in response.text and "远山" not in response.text


def test_the_county_page_shows_every_township(sign_in, world):
    client = sign_in(world.users["county"])
    response = client.get(f"/oversight/{world.tree.county.id}?month={PERIOD}")
    assert response.status_code == 200
    on_time = svgs(response.text)[0]
    assert dict(bars(on_time)) == {"新桥镇": "75", "北坡乡": "0"}
    for name in ("新桥村", "王庄村", "梨树村"):
        assert name in response.text
    assert "远山" not in response.text
    assert client.get(f"/oversight/{world.tree.township_b.id}").status_code == 200


@pytest.mark.parametrize(
    "who, where",
    [
        ("leader_a", "township_b"),
        ("leader_a", "county"),
        ("county", "other_county"),
        ("foreign_county", "township_a"),
        ("cadre", "township_a"),
        ("supervisor", "county"),
    ],
)
def test_pages_and_downloads_outside_the_area_are_refused_without_data(sign_in, world, who, where):
    client = sign_in(world.users[who])
    unit = getattr(world.tree, where)
    for path in (
        f"/oversight/{unit.id}",
        f"/oversight/{unit.id}/export/summary?month={PERIOD}",
        f"/oversight/{unit.id}/export/problems?month={PERIOD}",
        f"/oversight/{unit.id}/export/monitoring?quarter=2026Q4",
        f"/oversight/{unit.id}/export/ledger",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "<svg" not in response.text and "梨树村" not in response.text and "远山村" not in response.text


def test_an_unknown_unit_is_refused_like_a_foreign_one(sign_in, world):
    client = sign_in(world.users["leader_a"])
    assert client.get("/oversight/999999").status_code == 403


def test_village_roles_have_no_dashboard(sign_in, world):
    assert sign_in(world.users["cadre"]).get("/oversight").status_code == 403


def test_signed_out_visitors_must_sign_in(app, world):
    from fastapi.testclient import TestClient

    assert TestClient(app).get(f"/oversight/{world.tree.county.id}").status_code == 401


def test_the_summary_download_opens_and_matches_the_page(sign_in, world):
    client = sign_in(world.users["department"])
    page = client.get(f"/oversight/{world.tree.county.id}?month={PERIOD}")
    response = client.get(f"/oversight/{world.tree.county.id}/export/summary?month={PERIOD}")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    totals = rows[-1]
    assert totals[0] == "合计" and [int(v) for v in totals[3:6]] == [5, 4, 3]
    assert "<th>5</th><th>3</th><th>1</th><th>1</th><th>60</th>" in page.text


def test_the_half_year_report_downloads_as_pdf(sign_in, world):
    client = sign_in(world.users["county"])
    response = client.get(f"/oversight/{world.tree.county.id}/export/halfyear?half=2026H2")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    township = client.get(f"/oversight/{world.tree.township_a.id}/export/halfyear?half=2026H2")
    assert township.status_code == 400


def test_a_malformed_period_is_a_clear_error(sign_in, world):
    client = sign_in(world.users["county"])
    response = client.get(f"/oversight/{world.tree.county.id}?month=2026-13")
    assert response.status_code == 400 and "YYYY-MM" in response.text
    assert client.get(f"/oversight/{world.tree.county.id}/export/monitoring").status_code == 400


def test_an_admin_chooses_among_the_counties(sign_in, world):
    response = sign_in(world.users["admin"]).get("/oversight")
    assert response.status_code == 200
    assert (
        f"/oversight/{world.tree.county.id}?" in response.text
        and f"/oversight/{world.tree.other_county.id}?" in response.text
    )
