"""A stand-in for the three torchvision transforms the official SAM2 predictor imports.

torchvision has no CPU build on the machines this project is built on, and the CUDA build cannot
load its operators against CPU torch. The official `sam2.utils.transforms` only needs ToTensor,
Resize and Normalize; these reproduce torchvision's tensor code paths exactly (ToTensor: HWC uint8
-> CHW float in [0, 1]; Resize on tensors: bilinear, align_corners=False, antialias=True;
Normalize: (x - mean) / std). Installed only when the real torchvision cannot be imported.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ToTensor:
    def __call__(self, pic):
        if not isinstance(pic, np.ndarray):
            pic = np.asarray(pic)
        if pic.ndim == 2:
            pic = pic[:, :, None]
        tensor = torch.from_numpy(np.ascontiguousarray(pic.transpose(2, 0, 1)))
        if tensor.dtype == torch.uint8:
            return tensor.float().div(255)
        return tensor.float()


class Resize(nn.Module):
    def __init__(self, size: list[int]):
        super().__init__()
        self.size = [int(s) for s in size]

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        batched = img.dim() == 4
        x = img if batched else img.unsqueeze(0)
        x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        return x if batched else x.squeeze(0)


class Normalize(nn.Module):
    def __init__(self, mean: list[float], std: list[float]):
        super().__init__()
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=tensor.dtype).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=tensor.dtype).view(-1, 1, 1)
        return (tensor - mean) / std


def install_if_missing() -> bool:
    """Make `torchvision.transforms` importable; returns True when the shim was installed."""
    try:
        import torchvision.transforms  # noqa: F401

        return False
    except Exception:
        pass
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    package = types.ModuleType("torchvision")
    package.__path__ = []  # a package, so submodule imports resolve through sys.modules
    transforms = types.ModuleType("torchvision.transforms")
    transforms.ToTensor, transforms.Resize, transforms.Normalize = ToTensor, Resize, Normalize
    package.transforms = transforms
    sys.modules["torchvision"] = package
    sys.modules["torchvision.transforms"] = transforms
    return True
