"""Reusable test helpers: real servers and fixtures other test modules import."""
