"""IPython magics for cassnb: the `%%cql` cell magic and its helpers."""
