"""Spreadsheets in and out: the register from the council's workbook, and back.

Councils keep their performance register in a workbook long before any system, so the
register can be imported from one (:mod:`register_import`) and exported to one
(:mod:`register_export`) in the default layout described in :mod:`layout`.
"""
