"""Outgoing email: view models in, rendered words and RFC 5322 bytes out.

Pure: no database, no clock (callers pass ``now``), no network. The layers above build the
view models from the database and hand the bytes to the outbox.
"""
