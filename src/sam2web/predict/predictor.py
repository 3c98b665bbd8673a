"""The earlier home of `Predictor`, kept importable: it lives in sam2web.predict.image now."""

from sam2web.predict.image import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
