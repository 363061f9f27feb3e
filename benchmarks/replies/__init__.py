"""Benchmark (issue 13): reply parsers compared on labelled public samples.

Run it as ``python -m benchmarks.replies`` (see ``__main__.py``); the samples, their labels
and their sources are beside this file (``samples/``, ``labels.json``, ``SOURCES.md``).
"""
