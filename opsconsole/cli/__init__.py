"""typer sub-commands, one module each. None of them may import Textual."""
