"""User-facing errors.

Anything a user can cause (a bad file, a missing model, a corrupt index, an empty
question) raises ``RagError`` with a message that says what went wrong and what to do.
The CLI prints the message and exits non-zero; it never shows a traceback for these.
"""


class RagError(Exception):
    """An error caused by input or environment, with a message meant for the user."""

    exit_code = 2


class ModelError(RagError):
    """The embedding model cannot be found, built or loaded."""


class StoreError(RagError):
    """The index is missing, corrupt or was built with incompatible settings."""


class InputError(RagError):
    """A file, question or option given by the user is unusable."""
