"""The Python predictor on ONNX Runtime: the same math as the official SAM2ImagePredictor."""

from sam2web.predict.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
