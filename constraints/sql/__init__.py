"""SQL constraints: SELECT queries over one database schema (sqlite dialect)."""
