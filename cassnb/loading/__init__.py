"""Loading a Cassandra table from a DataFrame or a CSV, Parquet or JSON Lines file (``load``)."""

from ._load import LoadReport, load

__all__ = ("LoadReport", "load")
