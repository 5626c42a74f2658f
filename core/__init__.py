"""The engine: domain types, parsers, policy, warmup, rotation, alerts, notifiers.

Nothing here imports Textual or SQL: the storage layer and the TUI depend on core, never
the other way round. Time is always a parameter (a ``Clock`` or a ``now`` argument).
"""
