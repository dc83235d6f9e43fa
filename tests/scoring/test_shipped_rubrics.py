"""The shipped rubrics carry the published indicator system and weights."""

from decimal import Decimal

import pytest

from bot.i18n import translate
from bot.scoring.grades import grade_scales
from bot.scoring.rubric import load_rubric, shipped_rubrics

# 表 2-1 of seed 001, re-typed here so that a change to the YAML cannot pass unnoticed.
PUBLISHED_001 = {
    "A101": ("立项依据充分性", 2), "A102": ("立项程序规范性", 2), "A201": ("绩效目标合理性", 4),
    "A202": ("绩效指标明确性", 4), "A301": ("预算编制科学性", 2), "A302": ("资金分配合理性", 1),
    "B101": ("资金到位率", 2), "B102": ("预算执行率", 1), "B103": ("资金使用合规性", 2),
    "B104": ("资金绩效管理", 6), "B201": ("管理制度健全性", 2), "B202": ("制度执行有效性", 4),
    "B203": ("利益联结机制精确性", 4), "B204": ("扶贫资产管理规范性", 4), "C101": ("大棚建设数量完成率", 6),
    "C201": ("大棚验收合格率", 7), "C301": ("完成及时性", 5), "C401": ("成本节约率", 7),
    "D101": ("社会效益", 10), "D102": ("经济效益", 10), "D103": ("生态效益", 2), "D104": ("可持续影响", 3),
    "D105": ("满意度", 10),
}


def test_it_ships_all_23_indicators_of_seed_001_with_their_weights_and_names():
    rubric = load_rubric("project-performance-2021")
    leaves = {third.code: (translate("zh_CN", third.label), int(third.weight)) for _, _, third in rubric.leaves()}
    assert leaves == PUBLISHED_001


def test_it_weighs_decision_process_output_benefit_15_25_25_35():
    rubric = load_rubric("project-performance-2021")
    assert [(translate("zh_CN", n.label), n.weight) for n in rubric.roots] == [
        ("决策", 15), ("过程", 25), ("产出", 25), ("效益", 35)]
    assert sum(len(n.children) for n in rubric.roots) == 10


@pytest.mark.parametrize("rubric_id", sorted(shipped_rubrics()))
def test_it_adds_every_rubric_up_to_100_points(rubric_id):
    rubric = load_rubric(rubric_id)
    assert rubric.weight == Decimal(100)
    assert sum(third.weight for _, _, third in rubric.leaves()) == Decimal(100)


@pytest.mark.parametrize("rubric_id", sorted(shipped_rubrics()))
def test_it_translates_every_label_to_its_published_wording(rubric_id):
    rubric = load_rubric(rubric_id)
    for first, second, third in rubric.leaves():
        for node in (first, second, third):
            assert translate("zh_CN", node.label) == node.published


def test_it_ships_both_grade_scales():
    scales = grade_scales()
    assert [(g.minimum, g.published) for g in scales["mof-2020"].grades] == [
        (90, "优"), (80, "良"), (60, "中"), (0, "差")]
    assert [(g.minimum, g.published) for g in scales["qinbei-2023"].grades] == [
        (90, "好"), (80, "较好"), (70, "一般"), (0, "较差")]
    assert load_rubric("project-performance-2021").grades.id == "mof-2020"
    assert load_rubric("qinbei-2023-operating").grades.id == "qinbei-2023"
