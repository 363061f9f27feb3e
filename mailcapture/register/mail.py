"""The ``mail``, ``capture`` and ``council`` sections of the register, as stored by the last
load."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from mailcapture.db.models import ServiceSetting
from mailcapture.register.model import CaptureSpec, CouncilSpec, MailSpec
from mailcapture.settings import SettingsError


def mail_settings(session: Session) -> MailSpec:
    row = session.get(ServiceSetting, "mail")
    if row is None:
        raise SettingsError(
            "the register has no mail section (from, reply_domain, performance_team): "
            "add one and run `mailcapture load`"
        )
    return MailSpec(**row.value)


def reply_address(mail: MailSpec, token: str) -> str:
    """``returns+TOKEN@domain``: the token rides in the sub-address of the reply address."""
    return f"{mail.reply_local}{mail.separator}{token}@{mail.reply_domain}"


def capture_settings(session: Session) -> CaptureSpec:
    """The ``capture`` section; its defaults when the register never set one.

    A stored factor that cannot be read (the row edited by hand) raises rather than falling
    back silently: a factor nobody chose would decide which figures count.
    """
    row = session.get(ServiceSetting, "capture")
    return capture_spec(row.value if row is not None else None)


def capture_spec(value: Any) -> CaptureSpec:
    """The ``capture`` section from its stored value (None: never set, the defaults)."""
    if value is None:
        return CaptureSpec()
    try:
        factor = Decimal(str(value["plausibility_factor"]))
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise SettingsError(
            "the stored capture settings cannot be read: run `mailcapture load` again"
        ) from exc
    return CaptureSpec(plausibility_factor=factor)


#: The ``service_settings`` key of the register's ``council`` section.
COUNCIL_SETTING = "council"


def council_settings(session: Session) -> CouncilSpec:
    """The ``council`` section (the ONS area code); empty when the register has none."""
    row = session.get(ServiceSetting, COUNCIL_SETTING)
    code = row.value.get("ons_area_code") if row is not None else None
    return CouncilSpec(ons_area_code=code if isinstance(code, str) else None)
