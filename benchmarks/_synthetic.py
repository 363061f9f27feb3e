"""A synthetic register of any size, written straight into a database, for benchmarks.

Loading is not what the benchmarks measure, so the sample register
(``mailcapture/register/sample/``) is loaded first with the ordinary loader (it brings the
mail settings, the timetable, the bank holidays, the periods and a council's worth of
real-looking rows), and the synthetic part is then added with SQLAlchemy Core bulk inserts.
:class:`SyntheticRegister` is generated deterministically in memory, so a benchmark can
build the same people, indicators and figures a second time with no database at all (a
baseline).

Shape (defaults): ``updaters`` monthly indicators, each with one updater of its own and
``components_per`` components; owners and heads of service come from a much smaller pool;
a few departments and service areas; a year target per indicator; history values for the
previous month and the same month last year, so every form line has its context figures.

Throw-away databases: :func:`scratch_database` makes a SQLite file in a temporary folder,
or a PostgreSQL database with a random name on the given server, and removes it after.
"""

from __future__ import annotations

import random
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory, transaction
from mailcapture.db.migrate import upgrade
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import (
    Aggregation,
    Frequency,
    IndicatorType,
    Polarity,
    Role,
    SubmissionSource,
    SubmissionState,
    ToleranceKind,
)
from mailcapture.domain.periods import Period
from mailcapture.register.loader import load_folder
from mailcapture.resources import sample_register

SAMPLE_REGISTER = sample_register()
DOMAIN = "staff.ashdown.example"
CODE_PREFIX = "SYN"

_FIRST = [
    "Alex",
    "Amira",
    "Ben",
    "Chloe",
    "Daniel",
    "Ella",
    "Fatima",
    "George",
    "Hannah",
    "Imran",
    "Jack",
    "Katie",
    "Liam",
    "Megan",
    "Noah",
    "Olivia",
    "Priya",
    "Rhys",
    "Sophie",
    "Tom",
    "Yusuf",
    "Zara",
    "Gareth",
    "Bethan",
    "Siobhan",
    "Callum",
    "Niamh",
    "Ewan",
]
#: A few names that need RFC 2047 encoding, as a real council's staff list has.
_FIRST_ACCENTED = ("Zoë", "Siân", "Chloé", "Łukasz", "Seán")
_LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Khan",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Hughes",
    "Green",
    "Lewis",
    "Hill",
    "O'Brien",
    "Clarke",
    "Ahmed",
    "Price",
    "Morgan",
    "Ellis",
    "Okafor",
]
_COMPONENT_TITLES = (
    ("Cases closed within the target time", "number", 0, 100000),
    ("All cases closed", "number", 0, 100000),
    ("Expenditure on the service in the month", "£", 0, 5000000),
    ("Average days taken to complete an assessment", "days", 0, 365),
    ("Households helped to stay in their own home", "number", 0, 20000),
    ("Percentage of inspections completed on time", "%", 0, 100),
    ("Complaints received about the service", "number", 0, 10000),
)


@dataclass(frozen=True)
class Shape:
    updaters: int = 20_000
    components_per: int = 5
    owners: int = 200
    departments: int = 4
    service_areas: int = 20
    seed: int = 2026


@dataclass(frozen=True)
class SynPerson:
    email: str
    name: str
    service_area: int  # index into SyntheticRegister.areas


@dataclass(frozen=True)
class SynComponent:
    code: str
    title: str
    unit: str
    low: Decimal
    high: Decimal
    previous: Decimal  # value for the period before the one requested
    last_year: Decimal  # value for the same period a year before


@dataclass(frozen=True)
class SynIndicator:
    code: str
    title: str
    unit: str
    decimals: int
    service_area: int
    owner: int  # index into owners
    head: int  # index into heads (one per department)
    updater: int  # index into updaters
    target: Decimal
    components: tuple[SynComponent, ...]


@dataclass(frozen=True)
class SyntheticRegister:
    """Everything the synthetic part holds, generated from ``shape`` alone."""

    shape: Shape
    departments: tuple[tuple[str, str], ...]  # (code, name)
    areas: tuple[tuple[str, str, int], ...]  # (code, name, department index)
    heads: tuple[SynPerson, ...]
    owners: tuple[SynPerson, ...]
    updaters: tuple[SynPerson, ...]
    indicators: tuple[SynIndicator, ...]

    @property
    def components(self) -> int:
        return sum(len(i.components) for i in self.indicators)


def generate(shape: Shape) -> SyntheticRegister:
    rnd = random.Random(shape.seed)
    departments = tuple(
        (f"{CODE_PREFIX}D{d + 1}", f"Synthetic Department {d + 1}")
        for d in range(shape.departments)
    )
    areas = tuple(
        (
            f"{CODE_PREFIX}A{a + 1:02d}",
            f"{rnd.choice(('Housing', 'Waste', 'Planning', 'Revenues', 'Leisure'))} area {a + 1}",
            a % shape.departments,
        )
        for a in range(shape.service_areas)
    )

    def person(kind: str, n: int, area: int) -> SynPerson:
        first = rnd.choice(_FIRST_ACCENTED) if rnd.random() < 0.03 else rnd.choice(_FIRST)
        last = rnd.choice(_LAST)
        local = f"{kind}{n:05d}"  # addresses are ASCII: the register checks that
        return SynPerson(f"{local}@{DOMAIN}", f"{first} {last}", area)

    heads = tuple(
        person("head", d, next(i for i, a in enumerate(areas) if a[2] == d))
        for d in range(shape.departments)
    )
    owners = tuple(person("owner", o, o % shape.service_areas) for o in range(shape.owners))
    updaters = tuple(person("updater", u, u % shape.service_areas) for u in range(shape.updaters))
    indicators = []
    for i in range(shape.updaters):
        code = f"{CODE_PREFIX}{i:05d}"
        area = i % shape.service_areas
        components = []
        for c in range(shape.components_per):
            title, unit, low, high = _COMPONENT_TITLES[(i + c) % len(_COMPONENT_TITLES)]
            top = min(high, 2000)
            components.append(
                SynComponent(
                    code=f"{code}.{c + 1}",
                    title=title,
                    unit=unit,
                    low=Decimal(low),
                    high=Decimal(high),
                    previous=Decimal(rnd.randint(0, top)),
                    last_year=Decimal(rnd.randint(0, top)),
                )
            )
        indicators.append(
            SynIndicator(
                code=code,
                title=f"Synthetic indicator {i + 1}: share of cases closed on time",
                unit="%",
                decimals=1,
                service_area=area,
                owner=rnd.randrange(len(owners)),
                head=areas[area][2],
                updater=i,
                target=Decimal(rnd.randint(600, 990)) / 10,
                components=tuple(components),
            )
        )
    return SyntheticRegister(shape, departments, areas, heads, owners, updaters, tuple(indicators))


# --------------------------------------------------------------------------- databases


@contextmanager
def scratch_database(kind: str, postgres_admin_url: str) -> Iterator[str]:
    """A new, empty database URL of ``kind`` ("sqlite" or "postgresql"), removed after."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="mailcapture-bench-"))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    name = f"mailcapture_bench_{secrets.token_hex(4)}"
    _admin_execute(postgres_admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_database(postgres_admin_url, name)


@contextmanager
def cloned_database(url: str, postgres_admin_url: str) -> Iterator[str]:
    """A copy of the database at ``url`` (no connections may be open to it), removed after."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database or "")
        folder = Path(tempfile.mkdtemp(prefix="mailcapture-bench-"))
        try:
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{source}{suffix}").exists():
                    shutil.copy(f"{source}{suffix}", folder / f"bench.db{suffix}")
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"mailcapture_bench_{secrets.token_hex(4)}"
    _admin_execute(postgres_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_database(postgres_admin_url, name)


def _admin_execute(postgres_admin_url: str, statement: str) -> None:
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def _drop_database(postgres_admin_url: str, name: str) -> None:
    """Drop ``name`` even if an interruption (a benchmark's time limit) arrives meanwhile.

    The drop is tried again on a fresh connection, and the interruption is raised once
    the database is gone.
    """
    interrupted: BaseException | None = None
    for _ in range(3):
        try:
            _admin_execute(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            break
        except BaseException as exc:
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


def build_database(url: str, register: SyntheticRegister, now: datetime, period: Period) -> None:
    """Migrate ``url``, load the sample register, then bulk-insert ``register``.

    ``period`` is the period whose requests will be measured: history values are written
    for the period before it and the same period a year before.
    """
    upgrade(url)
    engine = make_engine(url)
    try:
        load_folder(SAMPLE_REGISTER, session_factory(engine), now)
        with transaction(session_factory(engine)) as session:
            store = PeriodStore(session)
            previous = store.get(period.previous()).id
            last_year = store.get(period.same_period_last_year()).id
            year = store.get(financial_year(period)).id
        _insert(engine, register, now, previous, last_year, year)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def financial_year(period: Period) -> Period:
    while (parent := period.parent()) is not None:
        period = parent
    return period


def _chunks(
    rows: Sequence[dict[str, Any]], size: int = 10_000
) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def _insert(
    engine: Engine,
    reg: SyntheticRegister,
    now: datetime,
    previous_id: int,
    last_year_id: int,
    year_id: int,
) -> None:
    with engine.begin() as conn:

        def put(table: Any, rows: Sequence[dict[str, Any]]) -> None:
            for chunk in _chunks(rows):
                conn.execute(insert(table.__table__), list(chunk))

        def ids(column: Any, key: Any, prefix: str) -> dict[str, int]:
            rows = conn.execute(select(key, column).where(key.like(f"{prefix}%")))
            return {k: i for k, i in rows}

        put(m.Department, [{"code": c, "name": n} for c, n in reg.departments])
        dept_ids = ids(m.Department.id, m.Department.code, CODE_PREFIX)
        put(
            m.ServiceArea,
            [
                {"code": c, "name": n, "department_id": dept_ids[reg.departments[d][0]]}
                for c, n, d in reg.areas
            ],
        )
        area_ids = ids(m.ServiceArea.id, m.ServiceArea.code, CODE_PREFIX)
        area_id = [area_ids[a[0]] for a in reg.areas]
        everyone = (*reg.heads, *reg.owners, *reg.updaters)
        put(
            m.Person,
            [
                {
                    "email": p.email,
                    "name": p.name,
                    "job_title": None,
                    "service_area_id": area_id[p.service_area],
                }
                for p in everyone
            ],
        )
        person_ids = {
            e: i
            for e, i in conn.execute(
                select(m.Person.email, m.Person.id).where(m.Person.email.like(f"%@{DOMAIN}"))
            )
        }
        head_id = [person_ids[p.email] for p in reg.heads]
        owner_id = [person_ids[p.email] for p in reg.owners]
        updater_id = [person_ids[p.email] for p in reg.updaters]
        roles = [
            *({"person_id": i, "role": Role.ESCALATION_OWNER, "declared": False} for i in head_id),
            *({"person_id": i, "role": Role.OWNER, "declared": False} for i in owner_id),
            *({"person_id": i, "role": Role.UPDATER, "declared": False} for i in updater_id),
        ]
        put(m.PersonRole, roles)
        put(
            m.DepartmentHead,
            [
                {"department_id": dept_ids[code], "person_id": head_id[d]}
                for d, (code, _) in enumerate(reg.departments)
            ],
        )
        put(
            m.Indicator,
            [
                {
                    "code": ind.code,
                    "title": ind.title,
                    "description": None,
                    "type": IndicatorType.LOCAL,
                    "frequency": Frequency.MONTHLY,
                    "polarity": Polarity.HIGHER,
                    "unit": ind.unit,
                    "decimals": ind.decimals,
                    "formula": " + ".join(c.code for c in ind.components)
                    if len(ind.components) > 1
                    else None,
                    "service_area_id": area_id[ind.service_area],
                    "priority_id": None,
                    "owner_id": owner_id[ind.owner],
                    "escalation_owner_id": head_id[ind.head],
                    "default_tolerance": Decimal(2),
                    "default_tolerance_kind": ToleranceKind.ABSOLUTE,
                }
                for ind in reg.indicators
            ],
        )
        indicator_ids = ids(m.Indicator.id, m.Indicator.code, CODE_PREFIX)
        put(
            m.Component,
            [
                {
                    "code": c.code,
                    "title": c.title,
                    "unit": c.unit,
                    "min_value": c.low,
                    "max_value": c.high,
                    "aggregation": Aggregation.SUM,
                    "frequency": Frequency.MONTHLY,
                    "declared_by_id": indicator_ids[ind.code],
                }
                for ind in reg.indicators
                for c in ind.components
            ],
        )
        component_ids = ids(m.Component.id, m.Component.code, CODE_PREFIX)
        put(
            m.IndicatorComponent,
            [
                {"indicator_id": indicator_ids[ind.code], "component_id": component_ids[c.code]}
                for ind in reg.indicators
                for c in ind.components
            ],
        )
        put(
            m.IndicatorUpdater,
            [
                {"indicator_id": indicator_ids[ind.code], "person_id": updater_id[ind.updater]}
                for ind in reg.indicators
            ],
        )
        put(
            m.Target,
            [
                {
                    "indicator_id": indicator_ids[ind.code],
                    "period_id": year_id,
                    "value": ind.target,
                    "tolerance": None,
                    "tolerance_kind": ToleranceKind.ABSOLUTE,
                    "updated_at": now,
                }
                for ind in reg.indicators
            ],
        )
        history = []
        for ind in reg.indicators:
            for c in ind.components:
                for period_id, value in ((previous_id, c.previous), (last_year_id, c.last_year)):
                    history.append(
                        {
                            "component_id": component_ids[c.code],
                            "period_id": period_id,
                            "state": SubmissionState.ACCEPTED,
                            "value": value,
                            "raw_answer": None,
                            "reason": None,
                            "estimated": False,
                            "late": False,
                            "source": SubmissionSource.HISTORY,
                            "received_at": now,
                            "is_current": True,
                        }
                    )
        put(m.ComponentValue, history)


def row_counts(url: str) -> dict[str, int]:
    """Rows per table of interest, to print beside the figures."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in (
                    ("people", m.Person),
                    ("indicators", m.Indicator),
                    ("components", m.Component),
                    ("indicator_updaters", m.IndicatorUpdater),
                    ("component_values", m.ComponentValue),
                )
            }
    finally:
        engine.dispose()
