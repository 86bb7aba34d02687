"""cdi-tui: Braze Cloud Data Ingestion for Redshift, in the terminal."""

__version__ = "0.1.0"
