"""One exception type for every problem a user can cause or fix.

The CLI prints its message (never a traceback) and exits non-zero.
"""


class Sam2WebError(Exception):
    """A problem with the user's input or environment, explained in plain words."""


class BadImageError(Sam2WebError):
    pass


class BadPromptError(Sam2WebError):
    pass


class BadBundleError(Sam2WebError):
    pass


class BadCheckpointError(Sam2WebError):
    pass


class ParityError(Sam2WebError):
    """The exported ONNX does not reproduce PyTorch closely enough."""
