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


class BadVideoError(Sam2WebError):
    """A video (file, folder of frames or frames in memory) that cannot be tracked."""


class NotAVideoError(BadVideoError):
    """Not a video at all: a missing path, another kind of file, a folder with no frames."""


class CorruptVideoError(BadVideoError):
    """A video file that is damaged or cut off (truncated)."""


class UnsupportedCodecError(BadVideoError):
    """A video whose codec the bundled FFmpeg (PyAV) cannot decode."""


class EmptyVideoError(BadVideoError):
    """A video with zero frames."""


class VideoTooLargeError(BadVideoError):
    """Frames larger than the pixel limit (SAM2WEB_MAX_VIDEO_PIXELS)."""


class FrameIndexError(BadVideoError, IndexError):
    """A frame index outside the video (also an IndexError, as for sequences)."""


class OutputError(Sam2WebError):
    """Results that cannot be written where asked."""


class UnknownObjectError(BadPromptError, KeyError):
    """An object id the tracking session does not have (also a KeyError, as for mappings)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BadAnnotationError(Sam2WebError):
    """An annotation file (COCO, LabelMe, YOLO, CVAT) that cannot be read as one."""
