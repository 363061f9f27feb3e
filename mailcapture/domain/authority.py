"""Who may approve a change: the framework's authority table, applied to one person.

The framework says, for each kind of change (a year-end PI target, an in-year target, a
project date, ...), which *kinds* of approver may agree it: the chief executive, the head
of service of the department concerned, a registered delegate of that head, the
performance team, the indicator's owner, the project board. Whether a given person is one
of those depends on the thing being changed (Richard Okafor is head of service for
Resources' indicators, not for Housing's), so :func:`approver_kinds` works it out from
plain facts the caller looks up, and :func:`authority_for` picks the authority the change
rests on. No database and no clock: the rules can be tested on their own, and the refusal
text (:func:`refusal`) names who *may* approve, so the person refused knows whom to ask.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from mailcapture.domain.enums import ApproverKind, ChangeKind, Role
from mailcapture.domain.periods import Period, PeriodKind

#: When a person holds several kinds that the table allows, the change is recorded as
#: resting on the most senior one.
PRECEDENCE: tuple[ApproverKind, ...] = (
    ApproverKind.CHIEF_EXECUTIVE,
    ApproverKind.HEAD_OF_SERVICE,
    ApproverKind.HEAD_OF_SERVICE_DELEGATE,
    ApproverKind.PROJECT_BOARD,
    ApproverKind.PERFORMANCE_TEAM,
    ApproverKind.OWNER,
)

CHANGE_WORDS: Mapping[ChangeKind, str] = {
    ChangeKind.PI_TARGET_YEAR_END: "a year-end target change",
    ChangeKind.PI_TARGET_IN_YEAR: "an in-year target change",
    ChangeKind.PI_DEFINITION: "a change to the definition",
    ChangeKind.NEW_INDICATOR: "a new indicator",
    ChangeKind.RETIRE_INDICATOR: "retiring the indicator",
    ChangeKind.PROJECT_COMPLETION_DATE: "a change to the completion date",
    ChangeKind.PROJECT_MILESTONE_DATE: "a change to a milestone date",
}

KIND_WORDS: Mapping[ApproverKind, str] = {
    ApproverKind.CHIEF_EXECUTIVE: "the chief executive",
    ApproverKind.HEAD_OF_SERVICE: "the head of service",
    ApproverKind.HEAD_OF_SERVICE_DELEGATE: "a registered delegate of the head of service",
    ApproverKind.PROJECT_BOARD: "the project board",
    ApproverKind.PERFORMANCE_TEAM: "the performance team",
    ApproverKind.OWNER: "the indicator's owner",
}


def target_change_kind(period: Period) -> ChangeKind:
    """A target for a whole year is the year-end target; a month's or quarter's is in-year."""
    if period.kind is PeriodKind.YEAR:
        return ChangeKind.PI_TARGET_YEAR_END
    return ChangeKind.PI_TARGET_IN_YEAR


def approver_kinds(
    *,
    roles: Collection[Role],
    person_id: int,
    head_id: int | None,
    head_delegate_ids: Collection[int],
    owner_id: int | None,
) -> frozenset[ApproverKind]:
    """What ``person_id`` *is*, for approving changes to one indicator or project.

    ``head_id`` is the head of service of the department the subject belongs to,
    ``head_delegate_ids`` that head's registered (current) delegates, and ``owner_id`` the
    subject's owner. Chief executive, performance team and project board are roles held
    council-wide, so they come from ``roles``.
    """
    kinds = set()
    if Role.CHIEF_EXECUTIVE in roles:
        kinds.add(ApproverKind.CHIEF_EXECUTIVE)
    if Role.PERFORMANCE_TEAM in roles:
        kinds.add(ApproverKind.PERFORMANCE_TEAM)
    if Role.PROJECT_BOARD in roles:
        kinds.add(ApproverKind.PROJECT_BOARD)
    if head_id is not None and person_id == head_id:
        kinds.add(ApproverKind.HEAD_OF_SERVICE)
    if person_id in head_delegate_ids and person_id != head_id:
        kinds.add(ApproverKind.HEAD_OF_SERVICE_DELEGATE)
    if owner_id is not None and person_id == owner_id:
        kinds.add(ApproverKind.OWNER)
    return frozenset(kinds)


def allowed_kinds(
    change: ChangeKind, rules: Iterable[tuple[ChangeKind, ApproverKind]]
) -> tuple[ApproverKind, ...]:
    """The approver kinds the authority table allows for ``change``, most senior first."""
    allowed = {approver for kind, approver in rules if kind == change}
    return tuple(k for k in PRECEDENCE if k in allowed)


def authority_for(
    kinds: Collection[ApproverKind], allowed: Collection[ApproverKind]
) -> ApproverKind | None:
    """The most senior of the person's kinds that the table allows, or None (refused)."""
    for kind in PRECEDENCE:
        if kind in kinds and kind in allowed:
            return kind
    return None


def refusal(
    change: ChangeKind,
    subject: str,
    allowed: Iterable[ApproverKind],
    holders: Mapping[ApproverKind, str],
    who: str,
    kinds: Collection[ApproverKind],
) -> str:
    """One line saying who may approve and what ``who`` is instead.

    ``holders`` gives, per kind, the people who hold it for this subject
    (``"Resources: Richard Okafor"``), shown in brackets after the kind.
    """
    needed = [_with_holder(kind, holders) for kind in allowed]
    if not needed:
        needs = "is not allowed by the authority table (no approver is listed)"
    else:
        needs = "needs " + _either(needed)
    held = [KIND_WORDS[k] for k in PRECEDENCE if k in kinds]
    is_what = f"is {_both(held)}" if held else f"holds no approving role for {subject}"
    return f"refused: {CHANGE_WORDS[change]} for {subject} {needs}; {who} {is_what}"


def _with_holder(kind: ApproverKind, holders: Mapping[ApproverKind, str]) -> str:
    words = KIND_WORDS[kind]
    holder = holders.get(kind)
    return f"{words} ({holder})" if holder else words


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _both(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
