"""The SVG charts parse as XML, draw one bar per row, scale to their maximum and escape their labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.services import charts

SVG = "{http://www.w3.org/2000/svg}"


def rects(svg: str, kind: str = "bar") -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title") is not None
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == kind]


def test_a_bar_chart_scales_to_its_maximum():
    bars = rects(
        charts.bar_chart("按时率", [("新桥村", 100), ("王庄村", 50), ("梨树村", 0)], suffix="%", maximum=100)
    )
    widths = [float(r.get("width")) for r in bars]
    assert [r.get("data-label") for r in bars] == ["新桥村", "王庄村", "梨树村"]
    assert widths[0] == 2 * widths[1] and widths[2] == 0


def test_a_column_chart_has_a_column_and_a_part_per_month():
    svg = charts.column_chart("trend", [(f"{m:02d}", 10, m % 10) for m in range(1, 13)])
    assert len(rects(svg)) == 12 and len(rects(svg, "part")) == 12
    assert max(float(r.get("height")) for r in rects(svg)) == charts.COLUMN_AREA


def test_money_values_keep_their_digits():
    bars = rects(charts.bar_chart("funds", [("中央", Decimal("275.5000")), ("省", Decimal("0"))]))
    assert [r.get("data-value") for r in bars] == ["275.5", "0"]


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=30).filter(lambda s: s.isprintable()),
            st.integers(min_value=0, max_value=10**6),
        ),
        max_size=40,
    )
)
def test_any_labels_make_valid_svg_with_one_bar_each(rows):
    bars = rects(charts.bar_chart('<title> & "quotes"', rows))
    assert [(r.get("data-label"), int(r.get("data-value"))) for r in bars] == rows
