"""Transports move bytes: SMTP/LMTP listener, IMAP poller, outbound SMTP or folder sender."""
