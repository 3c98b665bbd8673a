"""What every dataset format writes and reads: one image's labelled masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LabelledMask:
    label: str
    mask: np.ndarray  # (H, W) bool
    score: float | None = None


@dataclass
class ImageAnnotations:
    file_name: str
    width: int
    height: int
    objects: list[LabelledMask] = field(default_factory=list)

    def labels(self) -> list[str]:
        """The distinct labels in first-seen order (class ids for YOLO, CVAT's label list)."""
        return list(dict.fromkeys(o.label for o in self.objects))
