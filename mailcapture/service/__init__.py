"""The long-running service: listener and/or IMAP poller, timetable, outbox sender."""
