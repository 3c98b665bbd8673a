"""The official automatic mask generators, runnable here, and a reference NMS.

The official generators import `batched_nms` and `box_area` from torchvision.ops; torchvision
cannot load its operators on this CPU-only torch (see sam2web/export/torchvision_shim.py). The two
are given here as torchvision defines them, written out plainly (a loop over the boxes, as
torchvision's CPU kernel `nms_kernel_impl` runs): boxes sorted by descending score with a stable
sort, each kept box suppresses the later ones whose IoU with it is above the threshold. This is
the reference sam2web's vectorised `amg.nms` is tested against.
"""

from __future__ import annotations

import contextlib
import sys
import types

import numpy as np


def reference_nms(boxes, scores, iou_threshold: float) -> list[int]:
    """torchvision.ops.nms, box by box (float32 arithmetic, as the CPU kernel)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    s = np.asarray(scores, np.float32).reshape(-1)
    order = sorted(range(len(b)), key=lambda i: -float(s[i]))  # Python's sort is stable
    areas = [np.float32((x1 - x0) * (y1 - y0)) for x0, y0, x1, y1 in b]
    suppressed = [False] * len(b)
    keep = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[rank + 1 :]:
            if suppressed[j]:
                continue
            w = max(np.float32(0), min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            h = max(np.float32(0), min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            inter = np.float32(w * h)
            union = np.float32(areas[i] + areas[j] - inter)
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = np.float32(inter / union)
            if iou > np.float32(iou_threshold):
                suppressed[j] = True
    return keep


def _torch_ops():
    import torch

    def batched_nms(boxes, scores, idxs, iou_threshold):
        assert bool((idxs == idxs[0]).all()) if len(idxs) else True  # one category, as used
        keep = reference_nms(
            boxes.detach().cpu().numpy(), scores.detach().cpu().numpy(), iou_threshold
        )
        return torch.as_tensor(keep, dtype=torch.int64)

    def box_area(boxes):
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    return batched_nms, box_area


@contextlib.contextmanager
def official_torchvision():
    """torchvision.transforms (sam2web's shim) and torchvision.ops.boxes (the reference NMS) for
    importing the official generators; sys.modules restored afterwards."""
    from sam2web.export.torchvision_shim import Normalize, Resize, ToTensor

    names = ("torchvision", "sam2.automatic_mask_generator", "segment_anything")
    saved = {k: v for k, v in sys.modules.items() if k.startswith(names)}
    for k in saved:
        del sys.modules[k]
    batched_nms, box_area = _torch_ops()
    package = types.ModuleType("torchvision")
    package.__path__ = []
    transforms = types.ModuleType("torchvision.transforms")
    transforms.ToTensor, transforms.Resize, transforms.Normalize = ToTensor, Resize, Normalize
    functional = types.ModuleType("torchvision.transforms.functional")
    from PIL import Image

    functional.to_pil_image = lambda a: Image.fromarray(np.asarray(a))
    functional.resize = lambda img, size: img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    transforms.functional = functional
    ops = types.ModuleType("torchvision.ops")
    ops.__path__ = []
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.batched_nms, boxes.box_area = batched_nms, box_area
    ops.boxes = boxes
    package.transforms, package.ops = transforms, ops
    sys.modules.update(
        {
            "torchvision": package,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
            "torchvision.ops": ops,
            "torchvision.ops.boxes": boxes,
        }
    )
    try:
        yield
    finally:
        for k in [k for k in sys.modules if k.startswith(names)]:
            del sys.modules[k]
        sys.modules.update(saved)


def official_sam2_records(model, image: np.ndarray, **kwargs) -> list[dict]:
    """SAM2AutomaticMaskGenerator(model, **kwargs).generate(image)."""
    with official_torchvision():
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        return SAM2AutomaticMaskGenerator(model, **kwargs).generate(image)


def match_records(ours: list[dict], official: list[dict], key="segmentation"):
    """Pairs (i_ours, j_official, IoU): each official mask matched to our mask of highest IoU
    (one to one, greedily by IoU)."""
    a = np.stack([r[key] for r in ours]).reshape(len(ours), -1) if ours else np.zeros((0, 1))
    b = (
        np.stack([r[key] for r in official]).reshape(len(official), -1)
        if official
        else np.zeros((0, 1))
    )
    if not len(a) or not len(b):
        return []
    a, b = a.astype(np.float32), b.astype(np.float32)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    pairs, used_a, used_b = [], set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, iou.shape)
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((int(i), int(j), float(iou[i, j])))
    return pairs
