"""``mailcapture demo``: the whole product on a fresh SQLite database in a few seconds."""
