"""Everything a command needs at run time: settings, database and the clock.

The database engine is made on first use, and the outbound transport is imported only when a
command sends mail, so a command pays only for what it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import Clock, get_clock
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.schema import require_current
from mailcapture.settings import Settings

if TYPE_CHECKING:
    from mailcapture.transport.outbound import Sender


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=get_clock)

    @classmethod
    def from_environment(cls) -> Runtime:
        return cls(Settings.from_environment())

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def require_schema(self) -> None:
        """Refuse a database that is missing (never create one), empty or out of date."""
        require_current(self.engine)

    def sender(self) -> Sender:
        """SMTP when ``MAILCAPTURE_SMTP_URL`` is set, else ``.eml`` files in the mail folder."""
        from mailcapture.transport.outbound import FolderSender, SmtpSender, SmtpSettings

        if self.settings.smtp_url:
            return SmtpSender(SmtpSettings.from_url(self.settings.smtp_url))
        return FolderSender(self.settings.mail_dir)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
