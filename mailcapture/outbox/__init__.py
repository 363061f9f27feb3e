"""The outbox: every outgoing email is a row first, then delivered (and retried) by a worker."""
