"""The framework's user-facing error: a message that names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class HandpriorInputError(ValueError):
    """Bad input from disk or from the user. The CLI prints it without a stack trace."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)
