"""The Python predictor on ONNX Runtime: the same math as the official SAM2ImagePredictor (and
segment_anything's SamPredictor for SAM1-family bundles).

image.py: `Predictor`, the image state and the decode loop; sessions.py: the ONNX Runtime
sessions; prompts.py: prompt checks and layout; families.py: what differs per model family;
transforms.py: the official pre- and post-processing; video.py: `VideoPredictor` (tracking, with
the memory bank in memory.py); automatic.py: `AutomaticMaskGenerator` (segment everything, its
arithmetic in amg.py).
"""

from sam2web.predict.automatic import AutomaticMaskGenerator
from sam2web.predict.image import Prediction, Predictor
from sam2web.predict.video import VideoPredictor

__all__ = ["AutomaticMaskGenerator", "Prediction", "Predictor", "VideoPredictor"]
