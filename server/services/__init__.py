"""Persistence and domain rules; views and CLI commands call these."""
