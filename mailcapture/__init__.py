"""mailcapture: email-driven performance data capture for councils.

The package is layered; each sub-package is one layer and imports only from the
layers below it (see README, "Design"):

    cli            entry points (command line, the long-running service)
    schedule       the reporting timetable: decides *when* mail goes out
    transport      SMTP listener, IMAP poller, SMTP sender: bytes in and out
    mailflow       the one inbound pipeline
    reports        indicator values, RAG, trends, report rendering
    parsing        pure functions over message bytes and text
    register       reading and validating the YAML register, syncing it to the db
    domain         pure domain rules: periods, formulas, working days, authority
    db             SQLAlchemy models, engine and session handling, migrations
"""

__version__ = "0.1.0"
