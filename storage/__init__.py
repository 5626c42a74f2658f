"""SQLModel tables and the async store. Knows SQL; knows nothing of Textual."""
