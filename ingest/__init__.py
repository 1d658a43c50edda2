"""Ingestion: parse -> chunk -> embed -> index. Pure functions where possible."""
