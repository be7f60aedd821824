"""The one exception type that means "the user asked for something that cannot work".

Entry points print its message as a single line and exit; any other exception is a bug and
keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input or options; the message says what is wrong and the fix."""


class DataError(UserError):
    """Bad or missing data: the message names the file, the 1-based row or the path."""


class Interrupted(Exception):
    """A run stopped by a signal after saving what it could; ``exit_code`` is the shell's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
