"""The inbound pipeline: store raw, classify, authenticate, parse, apply, confirm."""
