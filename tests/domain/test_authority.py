"""The authority table applied to one person: pure rules, no database.

The rules are the sample register's (mailcapture/register/sample/framework.yaml ``authority:``).
"""

from __future__ import annotations

from mailcapture.domain.authority import (
    allowed_kinds,
    approver_kinds,
    authority_for,
    refusal,
    target_change_kind,
)
from mailcapture.domain.enums import ApproverKind as A
from mailcapture.domain.enums import ChangeKind as C
from mailcapture.domain.enums import Role
from mailcapture.domain.periods import parse_period

RULES = [
    (C.PI_TARGET_YEAR_END, A.CHIEF_EXECUTIVE),
    (C.PI_TARGET_YEAR_END, A.HEAD_OF_SERVICE),
    (C.PI_TARGET_IN_YEAR, A.HEAD_OF_SERVICE),
    (C.PI_TARGET_IN_YEAR, A.HEAD_OF_SERVICE_DELEGATE),
    (C.PI_DEFINITION, A.PERFORMANCE_TEAM),
]
HEAD, DEPUTY, OWNER, OTHER_HEAD = 10, 11, 12, 20


def kinds(person: int, roles=()):  # type: ignore[no-untyped-def]
    return approver_kinds(
        roles=frozenset(roles),
        person_id=person,
        head_id=HEAD,
        head_delegate_ids={DEPUTY},
        owner_id=OWNER,
    )


def test_a_year_is_the_year_end_target_and_a_quarter_or_month_in_year() -> None:
    assert target_change_kind(parse_period("2026/27")) is C.PI_TARGET_YEAR_END
    assert target_change_kind(parse_period("2026/27 Q3")) is C.PI_TARGET_IN_YEAR
    assert target_change_kind(parse_period("2026-11")) is C.PI_TARGET_IN_YEAR


def test_what_a_person_is_depends_on_the_indicator() -> None:
    assert kinds(HEAD, [Role.ESCALATION_OWNER]) == {A.HEAD_OF_SERVICE}
    # Another department's head is nobody special here.
    assert kinds(OTHER_HEAD, [Role.ESCALATION_OWNER, Role.PROJECT_BOARD]) == {A.PROJECT_BOARD}
    assert kinds(DEPUTY) == {A.HEAD_OF_SERVICE_DELEGATE}
    assert kinds(OWNER, [Role.OWNER]) == {A.OWNER}
    assert kinds(99, [Role.CHIEF_EXECUTIVE, Role.PERFORMANCE_TEAM]) == {
        A.CHIEF_EXECUTIVE,
        A.PERFORMANCE_TEAM,
    }


def test_the_most_senior_allowed_kind_is_the_authority() -> None:
    year_end = allowed_kinds(C.PI_TARGET_YEAR_END, RULES)
    in_year = allowed_kinds(C.PI_TARGET_IN_YEAR, RULES)
    assert year_end == (A.CHIEF_EXECUTIVE, A.HEAD_OF_SERVICE)
    assert authority_for({A.HEAD_OF_SERVICE, A.PROJECT_BOARD}, year_end) is A.HEAD_OF_SERVICE
    assert authority_for({A.HEAD_OF_SERVICE_DELEGATE}, in_year) is A.HEAD_OF_SERVICE_DELEGATE
    assert authority_for({A.HEAD_OF_SERVICE_DELEGATE}, year_end) is None
    assert authority_for({A.OWNER, A.PERFORMANCE_TEAM}, in_year) is None
    assert authority_for(set(), allowed_kinds(C.NEW_INDICATOR, RULES)) is None


def test_the_refusal_names_who_may_approve_and_what_the_person_is() -> None:
    holders = {A.HEAD_OF_SERVICE: "Resources: Richard Okafor", A.OWNER: "Mark Ellison"}
    assert refusal(
        C.PI_TARGET_YEAR_END,
        "BV8a",
        allowed_kinds(C.PI_TARGET_YEAR_END, RULES),
        holders,
        "martin.shaw@ashdown.example",
        {A.PERFORMANCE_TEAM},
    ) == (
        "refused: a year-end target change for BV8a needs the chief executive or the head "
        "of service (Resources: Richard Okafor); martin.shaw@ashdown.example is the "
        "performance team"
    )
    assert refusal(
        C.PI_TARGET_IN_YEAR, "BV8a", allowed_kinds(C.PI_TARGET_IN_YEAR, RULES), holders, "x@y", ()
    ).endswith(
        "or a registered delegate of the head of service; x@y holds no approving role for BV8a"
    )
    assert "is not allowed by the authority table" in refusal(
        C.RETIRE_INDICATOR, "BV8a", (), holders, "x@y", {A.OWNER}
    )
