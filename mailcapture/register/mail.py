"""The ``mail`` section of the register, as stored by the last load."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailcapture.db.models import ServiceSetting
from mailcapture.register.model import MailSpec
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
