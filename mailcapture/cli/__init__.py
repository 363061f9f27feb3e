"""Command-line entry points. Thin: argument handling and one-line errors only."""
