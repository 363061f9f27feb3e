"""Pure functions over messages and text: no database, no clock, no I/O."""
