"""sam2web: Segment Anything 2 in the browser, with a Python toolkit around it."""

from sam2web.errors import Sam2WebError

__version__ = "0.2.0"

__all__ = ["AutomaticMaskGenerator", "Predictor", "Sam2WebError", "VideoPredictor", "__version__"]


def __getattr__(name: str):
    # Import the predictor lazily so `sam2web --help` stays fast.
    if name == "Predictor":
        from sam2web.predict.image import Predictor

        return Predictor
    if name == "AutomaticMaskGenerator":
        from sam2web.predict.automatic import AutomaticMaskGenerator

        return AutomaticMaskGenerator
    if name == "VideoPredictor":
        from sam2web.predict.video import VideoPredictor

        return VideoPredictor
    raise AttributeError(name)
