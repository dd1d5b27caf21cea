"""Exports of query results to CSV, Parquet and JSON Lines: streamed, atomic, in constant memory."""

from ..streaming import Page  # the one Page class: streams hand it out, write_pages reads it
from ._formats import ExportFormat
from ._load import LoadReport, load
from ._pipeline import ExportReport, write_pages
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
