"""冷水江 第九条（三）：凡当年有15%以上的教师未能达到40学分的单位，不得评为县市级及以上先进单位，
校长考核不能评为优秀。

Worked by hand: "以上" includes the number itself (民法典第1259条), so 3 of 20 teachers below 40
(exactly 15%) flags the unit; 2 of 20 (10%) does not. 39.5 credits is below 40; 40 is not.
"""

import pytest

from core.facts import Teacher
from core.plugins import load_registry


@pytest.fixture(scope="module")
def assessor():
    return load_registry().assessor("lengshuijiang")


def _teacher(assessor, credits):
    claims = assessor.parse_claims([{"item": "waibu.training", "credits": credits}])
    return assessor.assess("2023-2024", Teacher(cycle_start="2023-2024"), claims)


@pytest.mark.parametrize("below, flagged, rate", [(2, False, "0.9000"), (3, True, "0.8500")])
def test_share_of_teachers_below_40(assessor, below, flagged, rate):
    results = [(f"t{i}", _teacher(assessor, 39.5 if i < below else 40)) for i in range(20)]
    unit = assessor.assess_unit("2023-2024", results)
    assert unit.teachers == 20 and unit.failed == below and unit.passed == 20 - below
    assert unit.below == [f"t{i}" for i in range(below)]
    assert str(unit.pass_rate) == rate
    if flagged:
        assert unit.flags == ["no_advanced_unit", "no_excellent_principal"]
        assert "3/20" in unit.reasons[0] and "15.0%" in unit.reasons[0]
    else:
        assert unit.flags == [] and unit.reasons == []


def test_one_of_eighteen_below_is_not_flagged(assessor):
    results = [(f"t{i}", _teacher(assessor, 40)) for i in range(17)]
    results.append(("t17", _teacher(assessor, 39)))
    unit = assessor.assess_unit("2023-2024", results)
    assert unit.flags == []  # 1/18 ≈ 5.6%
