"""The review chain follows the tree (unit tests over plain nodes, no database)."""

from types import SimpleNamespace as N

import pytest

from core.errors import InputError
from core.tree import review_chain
from core.types import ReviewLevel


def chain(*kinds):
    return [N(id=i, kind=k, name=k) for i, k in enumerate(kinds)]


def levels(*specs):
    return [ReviewLevel("x", i, f"L{i}", tuple(kinds), optional) for i, (kinds, optional) in enumerate(specs)]


def ids(nodes):
    return [n.id for n in nodes]


def test_a_level_naming_two_kinds_takes_the_nearest():
    lv = levels((["school"], False), (["district", "city"], False))
    assert ids(review_chain(chain("school", "district", "city"), lv)) == [0, 1]
    assert ids(review_chain(chain("school", "city", "province"), lv)) == [0, 1]  # city-direct


def test_optional_town_is_skipped_under_the_district():
    lv = levels((["school"], False), (["town"], True), (["district"], False))
    assert ids(review_chain(chain("school", "town", "district"), lv)) == [0, 1, 2]
    assert ids(review_chain(chain("school", "district", "city"), lv)) == [0, 1]


def test_a_schools_own_registration_starts_above_its_level():
    lv = levels((["school", "town"], False), (["district", "city"], False))
    home = chain("school", "town", "district", "city")
    assert ids(review_chain(home, lv, above=home[0])) == [2]
    direct = chain("school", "district", "city")
    assert ids(review_chain(direct, lv, above=direct[0])) == [1]


def test_a_missing_mandatory_level_is_a_clear_error():
    lv = levels((["school"], False), (["town"], False))
    with pytest.raises(InputError, match="审核链不完整"):
        review_chain(chain("school", "district"), lv)
