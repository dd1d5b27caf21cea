"""cassnb: async Apache Cassandra for Python notebooks."""

__version__ = "0.1.0"
