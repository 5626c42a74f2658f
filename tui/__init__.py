"""The Textual console (the only part of opsconsole that imports Textual)."""
