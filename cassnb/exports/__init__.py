"""Exports of query results to CSV, Parquet and JSON Lines: streamed, atomic, in constant memory.

``load`` and ``LoadReport`` live in ``cassnb.loading`` and are re-exported here, where earlier versions had them.
"""

from ..formats import ExportFormat
from ..loading import LoadReport, load
from ..streaming import Page  # the one Page class: streams hand it out, write_pages reads it
from ._pipeline import ExportReport, write_pages
from ._query import export, export_table

__all__ = (
    "ExportFormat",
    "ExportReport",
    "LoadReport",
    "Page",
    "export",
    "export_table",
    "load",
    "write_pages",
)
