"""File formats cassnb writes and reads: CSV, JSON Lines (either gzipped) and Parquet.

Each value's form in each format is the type registry's (``cassnb._types``); this package holds the
per-column encoders and decoders built from it, the writers (``_csv``, ``_jsonl``, ``_parquet``), the
reader of cassnb's CSV (``_csvread``), and the format options. ``cassnb.exports`` writes files with it and
``cassnb.loading`` reads them.
"""

from ._formats import CsvOptions, ExportFormat, JsonlOptions, ParquetOptions, format_for, make_writer, parse_options

__all__ = ("CsvOptions", "ExportFormat", "JsonlOptions", "ParquetOptions", "format_for", "make_writer", "parse_options")
