"""A FastAPI service over cassnb (see README.md)."""
