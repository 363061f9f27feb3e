"""Indicator values, RAG status and trends; report rendering."""
