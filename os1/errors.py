"""OS1's errors, in one tree.

    OS1Error                    base of everything OS1 raises on purpose
    ├── UserInputError          bad input from a person or a file (exit code 2)
    │   └── ImportFileError     a JSON Lines file with a bad line (file, line, reason)
    ├── NotFoundError           no such person, turn or mind (exit code 3)
    ├── ConfigError             settings or files that do not make sense (exit code 2)
    ├── StorageError            the database failed (exit code 1)
    ├── BusyError               too many waiting for the model; retry after N s (exit code 1)
    └── LLMError                the language model failed (exit code 4)
        ├── LLMUnavailable      could not connect, or the server refused
        ├── LLMTimeout          no answer, or no next chunk, within the timeout
        └── LLMStreamBroken     the stream ended or broke mid-reply

Backends translate their own exceptions into these at the seam (``raise ... from exc``), so the
rest of OS1 handles one vocabulary.
"""

from __future__ import annotations


class OS1Error(Exception):
    """Base class of OS1's errors. ``str(error)`` is one line fit to show a person."""

    exit_code = 1


class UserInputError(OS1Error):
    exit_code = 2


class ImportFileError(UserInputError):
    def __init__(self, file: str, line: int, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        super().__init__(f"{file}:{line}: {reason}")


class NotFoundError(OS1Error):
    exit_code = 3


class ConfigError(OS1Error):
    exit_code = 2


class StorageError(OS1Error):
    exit_code = 1


class BusyError(OS1Error):
    """Too many requests are waiting for the model; try again after ``retry_after`` seconds."""

    exit_code = 1

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"busy: too many people are waiting for the model; retry in {retry_after} s"
        )


class LLMError(OS1Error):
    exit_code = 4


class LLMUnavailable(LLMError):
    pass


class LLMTimeout(LLMError):
    pass


class LLMStreamBroken(LLMError):
    pass
