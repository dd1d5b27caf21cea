"""Exports of query results to CSV, Parquet and JSON Lines: streamed, atomic, in constant memory."""

from ._formats import ExportFormat
from ._load import LoadReport, load
from ._pipeline import ExportReport, Page, write_pages
from ._query import export, export_table, token_ranges

__all__ = (
    "ExportFormat",
    "ExportReport",
    "LoadReport",
    "Page",
    "export",
    "export_table",
    "load",
    "token_ranges",
    "write_pages",
)
