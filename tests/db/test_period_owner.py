"""Which period a claim belongs to has one owner, ``Assessor.period_of``: a declaration through
the services and an organiser's batch registration put a claim where the engine assesses it.

济宁 (notice 2025, 四、五): a training not finished by 12-31 "只能算下一年的学分登记", so a
training from 2023-11-01 to 2024-01-10 belongs to 2024. 海南 (measures 2025, 补修): a remedial
claim names the year it makes up for (``for_period``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.db.models import Claim
from core.db.scope import Actor
from core.idnumber import make


def _teacher(platform, jurisdiction: str, serial: int):
    org = platform.services(Actor.system()).org
    province = org.add_node(None, "province", f"省{serial}")
    city = org.add_node(province.id, "city", f"市{serial}")
    district = org.add_node(city.id, "district", f"区{serial}", jurisdiction=jurisdiction)
    school = org.add_node(district.id, "school", f"学校{serial}")
    teacher = org.add_teacher(name="孔老师", id_number=make("370811", date(1986, 3, 1), serial),
                              home_school_id=school.id)
    org.add_user(f"t{serial}", "孔老师", "secret", [("teacher", school.id, teacher.id)])
    return teacher, org.actor_for(f"t{serial}")


def test_a_declared_training_unfinished_at_year_end_belongs_to_the_year_it_ends(platform, clock):
    clock.set(2024, 2, 1)
    teacher, actor = _teacher(platform, "jining", 301)
    claim = platform.services(actor).claims.declare(
        teacher.id, "peixun.training", {"credits": 6, "started_on": "2023-11-01", "ended_on": "2024-01-10"})
    assert claim.period_key == "2024"
    # …and one finished within the year stays in it.
    other = platform.services(actor).claims.declare(
        teacher.id, "peixun.training", {"credits": 4, "started_on": "2023-04-01", "ended_on": "2023-05-10"})
    assert other.period_key == "2023"


def test_a_batch_registration_takes_the_period_the_item_names(platform, clock):
    clock.set(2025, 9, 1)
    teacher, _ = _teacher(platform, "hainan", 302)
    from core.services.claims import ClaimService  # noqa: F401 - the path under test
    system = platform.services(Actor.system())
    with platform.transaction(Actor.system()) as session:
        system.claims.register_batch_in(session, [{"teacher_id": teacher.id, "item": "peixun.remedial",
                                                   "inputs": {"for_period": "2024", "credits": 4, "hours": 24}}], source="test")
    with platform.transaction(Actor.system()) as session:
        periods = session.scalars(select(Claim.period_key).where(Claim.teacher_id == teacher.id)).all()
    assert periods == ["2024"]
