"""The one exception type that means "the user asked for something that cannot work".

Entry points print its message as a single line and exit; any other exception is a bug and
keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input or options; the message says what is wrong and the fix."""


class DataError(UserError):
    """Bad or missing data: the message names the file, the 1-based row or the path."""
