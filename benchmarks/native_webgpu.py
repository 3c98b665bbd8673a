"""SAM2 on a real GPU: ONNX Runtime's WebGPU execution provider vs PyTorch CUDA.

The same ONNX graphs the browser runs (exported here from the official SAM2.1 architecture, random
weights unless --checkpoint-dir has official checkpoints) are timed with the native WebGPU EP (Dawn
over Vulkan: the C++ code onnxruntime-web compiles to WASM) and compared with PyTorch on the same
GPU. Needs a machine with an NVIDIA GPU, torch with CUDA, and `onnxruntime-webgpu` as the
`onnxruntime` module (../shared/docs/gpu-benchmarks.md has the recipe).

Per model size, attention form (fused MultiHeadAttention / plain ops) and precision it reports:
- torch_fp32_ms / torch_bf16_ms: PyTorch encoder (input already on the GPU), CUDA-event timed;
- encoder_resident_ms: WebGPU encoder, image on the GPU, outputs left on the GPU (what the app
  does after the one upload), amortised over back-to-back runs with one sync at the end;
- encoder_upload_ms: the same with the image uploaded from host memory on every run;
- encoder_readback_ms: plain session.run (upload in, all features read back: the old path);
- decoder_resident_ms: one click with the features already on the GPU (bound from the encoder's
  outputs); prompts go up, the 3 low-res masks + scores come back — what a click costs the app;
- decoder_reupload_ms: the same click with the features re-uploaded from host memory;
- decoder_session_ms: creating the decoder session (what a naive page pays on every click);
- decoder_first_run_ms: the decoder session's first run, after the encoder's (it builds the
  decoder's GPU pipelines: the cost the app's warm-up run moves off the first click);
- parity against PyTorch fp32: max |logit diff| and mask IoU of the decoder output.

    python benchmarks/native_webgpu.py --sizes tiny small --precisions fp32 fp16 --out results/

--bundles STORE times the very files the browser runs instead: STORE/sam2.1-hiera-SIZE-PRECISION
(a model store or `sam2web export --random-weights` output; the exporter seeds torch with 0 before
building the model, as this script does, so PyTorch here has the same random weights and the
parity figures say so). benchmarks/gpu_browser/run.sh's `native` stage runs it that way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FEATURES = ["image_embed", "high_res_feats_0", "high_res_feats_1"]


def median_ms(fn, runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def torch_ms(fn, runs: int) -> float:
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(runs):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def prompts(batch_points: int = 2) -> dict:
    coords = np.array([[[512.0, 400.0], [300.0, 700.0]][:batch_points]], np.float32)
    return {
        "point_coords": coords,
        "point_labels": np.array([[1.0, 0.0][:batch_points]], np.float32),
        "mask_input": np.zeros((1, 1, 256, 256), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
    }


def torch_reference(model, image: np.ndarray, runs: int) -> tuple[dict, dict]:
    import torch

    from sam2web.export.onnx_modules import ImageEncoder, PromptDecoder

    model = model.cuda()
    encoder, decoder = ImageEncoder(model).eval(), PromptDecoder(model).eval()
    x = torch.from_numpy(image).cuda()
    p = {k: torch.from_numpy(v).cuda() for k, v in prompts().items()}
    out = {}
    with torch.inference_mode():
        torch.cuda.reset_peak_memory_stats()
        out["torch_fp32_ms"] = torch_ms(lambda: encoder(x), runs)
        out["torch_peak_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out["torch_bf16_ms"] = torch_ms(lambda: encoder(x), runs)
        feats = encoder(x)
        args = (*feats, p["point_coords"], p["point_labels"], p["mask_input"], p["has_mask_input"])
        out["torch_decoder_fp32_ms"] = torch_ms(lambda: decoder(*args), runs)
        masks, iou, _, _ = decoder(*args)
    model.cpu()
    torch.cuda.empty_cache()
    return out, {"masks": masks.cpu().numpy(), "iou": iou.cpu().numpy()}


# onnxruntime <= 1.27's ReshapeFusion breaks on a Reshape fed by a computed shape ("Attempting to
# get index by a name which does not exist ... _new_reshape"); onnxruntime-web 1.30 loads the same
# decoder with every optimizer on. Only the native 1.27 runs here switch it off.
DISABLED_OPTIMIZERS = ["ReshapeFusion"]


EP_OPTION = "ep.webgpuexecutionprovider."  # the WebGPU EP reads its options from session config
VALIDATION = None  # ORT's default unless --validation names a mode (the browser cannot turn it off)


def webgpu_session(
    path: Path,
    layout: str,
    profile: bool = False,
    capture: bool = False,
    fixed_dims: dict | None = None,
):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = profile
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry(EP_OPTION + "preferredLayout", layout)
    if capture:  # record the command buffers once, replay them on later runs
        options.add_session_config_entry(EP_OPTION + "enableGraphCapture", "1")
    if VALIDATION:
        options.add_session_config_entry(EP_OPTION + "validationMode", VALIDATION)
    for name, size in (fixed_dims or {}).items():  # static shapes let ORT fold the shape nodes away
        options.add_free_dimension_override_by_name(name, size)
    t0 = time.perf_counter()
    session = ort.InferenceSession(
        str(path),
        options,
        providers=["WebGpuExecutionProvider"],
        disabled_optimizers=DISABLED_OPTIMIZERS,
    )
    created = (time.perf_counter() - t0) * 1000
    if session.get_providers()[0] != "WebGpuExecutionProvider":
        raise RuntimeError(f"WebGPU EP not used: {session.get_providers()}")
    return session, created


def identity_session(shapes: dict, layout: str, dtypes: dict | None = None):
    """A graph that copies each named input to an output named after it, on the WebGPU EP.
    dtypes: numpy dtype per name (default float32)."""
    import onnx
    from onnx import TensorProto, helper

    def kind(name: str) -> int:
        if dtypes is None or name not in dtypes:
            return TensorProto.FLOAT
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtypes[name]))

    nodes = [helper.make_node("Identity", [name], [name + "_out"]) for name in shapes]
    graph = helper.make_graph(
        nodes,
        "copy",
        [helper.make_tensor_value_info(name, kind(name), list(s)) for name, s in shapes.items()],
        [
            helper.make_tensor_value_info(name + "_out", kind(name), list(s))
            for name, s in shapes.items()
        ],
    )
    path = Path(tempfile.mkdtemp()) / "copy.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
        str(path),
    )
    return webgpu_session(path, layout)[0]


class GpuSlots:
    """Fixed GPU buffers that host arrays are written into, all in one session run (this
    onnxruntime package cannot write WebGPU memory directly: an Identity graph on the WebGPU EP
    does it; a browser calls queue.writeBuffer). Graph capture replays recorded commands on the
    same buffers, so inputs must change in place."""

    def __init__(self, arrays: dict, layout: str):
        self.session = identity_session(
            {k: v.shape for k, v in arrays.items()}, layout, {k: v.dtype for k, v in arrays.items()}
        )
        self.binding = self.session.io_binding()
        for name, array in arrays.items():
            self.binding.bind_cpu_input(name, array)
            self.binding.bind_output(name + "_out", "webgpu")
        self.session.run_with_iobinding(self.binding)
        self.values = dict(zip(arrays, self.binding.get_outputs(), strict=True))
        for name, value in self.values.items():
            self.binding.bind_ortvalue_output(name + "_out", value)

    def write(self, arrays: dict) -> None:
        for name, array in arrays.items():
            self.binding.bind_cpu_input(name, array)
        self.session.run_with_iobinding(self.binding)


def upload(array: np.ndarray, layout: str):
    """A GPU-resident copy of `array`."""
    slots = GpuSlots({"x": array}, layout)
    upload.keep.append(slots)  # the buffer belongs to that session's allocator
    return slots.values["x"]


upload.keep = []


def sync(value) -> np.ndarray:
    """Read a GPU value back (which also waits for the GPU: ORT returns once work is submitted)."""
    try:
        return value.numpy()
    except Exception:  # packages that cannot map WebGPU memory: copy out through a graph
        key = tuple(value.shape())
        if key not in sync.sessions:
            sync.sessions[key] = identity_session({"x": key}, "NHWC")
        session = sync.sessions[key]
        binding = session.io_binding()
        binding.bind_ortvalue_input("x", value)
        binding.bind_output("x_out", "cpu")
        session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


sync.sessions = {}


def amortised_ms(session, binding, runs: int) -> float:
    """Runs back to back with one sync at the end (ORT returns once work is submitted), so the
    figure is the GPU's throughput, not one run's latency plus a readback."""

    def batch(n: int):
        for _ in range(n):
            session.run_with_iobinding(binding)
        sync(binding.get_outputs()[-1])

    batch(3)
    t0 = time.perf_counter()
    batch(runs)
    return (time.perf_counter() - t0) * 1000 / runs


def pin_outputs(session, binding, names: list) -> list:
    """One run with the outputs allocated on the GPU, then those very buffers bound as outputs:
    graph capture replays its recorded commands into them."""
    for name in names:
        binding.bind_output(name, "webgpu")
    session.run_with_iobinding(binding)
    outputs = binding.get_outputs()
    for name, value in zip(names, outputs, strict=True):
        binding.bind_ortvalue_output(name, value)
    return outputs


def resident_clicker(decoder, gpu_feats: dict, wanted: list):
    """A click with the features already on the GPU: prompts go up, `wanted` comes back."""
    click = decoder.io_binding()
    for name, value in gpu_feats.items():
        click.bind_ortvalue_input(name, value)
    for name in wanted:
        click.bind_output(name, "cpu")

    def run(feeds: dict):
        for name, value in feeds.items():  # prompts change on every click: upload them each time
            click.bind_cpu_input(name, value)
        decoder.run_with_iobinding(click)
        return click.copy_outputs_to_cpu()

    return run


def bench_onnx(folder: Path, image: np.ndarray, reference: dict, runs: int, layout: str) -> dict:
    out = {}
    encoder, out["encoder_session_ms"] = webgpu_session(folder / "encoder.onnx", layout)
    t0 = time.perf_counter()
    cpu_feats = encoder.run(None, {"image": image})
    out["encoder_first_run_ms"] = (time.perf_counter() - t0) * 1000
    # (the closure reads `encoder` before the `del` at the end: ruff cannot tell)
    out["encoder_readback_ms"] = median_ms(
        lambda: encoder.run(None, {"image": image}),  # noqa: F821
        runs,
    )

    gpu_image = upload(image, layout)
    binding = encoder.io_binding()
    binding.bind_ortvalue_input("image", gpu_image)
    for name in FEATURES:
        binding.bind_output(name, "webgpu")
    out["encoder_resident_ms"] = amortised_ms(encoder, binding, runs)
    out["encoder_resident_max_abs_diff"] = max(
        float(np.abs(sync(v) - ref).max())
        for v, ref in zip(binding.get_outputs(), cpu_feats, strict=True)
    )
    out["feature_max_abs"] = max(float(np.abs(f).max()) for f in cpu_feats)

    per_run = encoder.io_binding()
    per_run.bind_cpu_input("image", image)
    for name in FEATURES:
        per_run.bind_output(name, "webgpu")
    out["encoder_upload_ms"] = amortised_ms(encoder, per_run, runs)
    gpu_feats = dict(zip(FEATURES, binding.get_outputs(), strict=True))
    captured_feats = None
    if CAPTURE:
        try:
            captured, captured_feats = bench_encoder_captured(
                folder, gpu_image, cpu_feats, runs, layout
            )
            out.update(captured)
        except Exception as e:
            out["encoder_captured_error"] = f"{type(e).__name__}: {e}"

    try:
        out.update(
            bench_decoder(folder, cpu_feats, gpu_feats, reference, runs, layout, captured_feats)
        )
    except Exception as e:  # keep the encoder's figures when only the decoder fails
        out["decoder_error"] = f"{type(e).__name__}: {e}"
    out["bytes"] = sum((folder / f).stat().st_size for f in ("encoder.onnx", "decoder.onnx"))
    del binding, per_run, gpu_feats, encoder
    return out


def bench_encoder_captured(folder: Path, gpu_image, cpu_feats, runs: int, layout: str):
    """The encoder with ORT's graph capture: the first run records its command buffers, later runs
    replay them on the same input and output buffers (no per-kernel host work). Returns the
    figures and the captured run's features (read back)."""
    encoder, _ = webgpu_session(folder / "encoder.onnx", layout, capture=True)
    binding = encoder.io_binding()
    binding.bind_ortvalue_input("image", gpu_image)
    outputs = pin_outputs(encoder, binding, FEATURES)
    ms = amortised_ms(encoder, binding, runs)
    feats = [sync(v) for v in outputs]
    diff = max(float(np.abs(f - ref).max()) for f, ref in zip(feats, cpu_feats, strict=True))
    return {"encoder_captured_ms": ms, "encoder_captured_max_abs_diff": diff}, feats


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def bench_decoder_captured(
    out: dict, folder: Path, gpu_feats: dict, plain_click, runs: int, layout: str
) -> None:
    """A click with static shapes (one session per point count: ORT folds the shape nodes away,
    so every node runs on the GPU) and graph capture: the prompts are written into fixed GPU
    buffers, the recorded decoder is replayed, masks and scores are read back. Fills `out` as it
    goes, so a failing step keeps the figures before it."""
    p = prompts()
    fixed = {"num_points": p["point_coords"].shape[1]}
    wanted = ["masks", "iou_predictions"]
    static, out["decoder_static_session_ms"] = webgpu_session(
        folder / "decoder.onnx", layout, fixed_dims=fixed
    )
    decode_static = resident_clicker(static, gpu_feats, wanted)
    out["decoder_static_ms"] = median_ms(lambda: decode_static(p), runs)

    decoder, out["decoder_captured_session_ms"] = webgpu_session(
        folder / "decoder.onnx", layout, capture=True, fixed_dims=fixed
    )
    slots = GpuSlots(p, layout)
    binding = decoder.io_binding()
    for name, value in gpu_feats.items():
        binding.bind_ortvalue_input(name, value)
    for name, value in slots.values.items():
        binding.bind_ortvalue_input(name, value)
    outputs = pin_outputs(decoder, binding, wanted)

    def click(feeds: dict):
        slots.write(feeds)
        decoder.run_with_iobinding(binding)
        return [sync(v) for v in outputs]

    out["decoder_captured_ms"] = median_ms(lambda: click(p), runs)
    # Where a captured click goes: the replay alone (back-to-back, one sync), the prompt uploads
    # (the browser writes them with queue.writeBuffer instead) and the readback of the outputs.
    out["decoder_captured_replay_ms"] = amortised_ms(decoder, binding, runs)

    def write_prompts():
        slots.write(p)
        sync(slots.values["has_mask_input"])

    out["decoder_prompt_upload_ms"] = median_ms(write_prompts, runs)
    out["decoder_output_readback_ms"] = median_ms(lambda: [sync(v) for v in outputs], runs)
    # A replay must see new prompts: move the points and compare with the plain session.
    moved = {
        **p,
        "point_coords": p["point_coords"][:, ::-1].copy(),
        "point_labels": np.ones_like(p["point_labels"]),
    }
    masks, iou = click(moved)
    ref_masks, _ = plain_click(moved)
    out["decoder_captured_iou_vs_plain"] = mask_iou(masks, ref_masks)
    out["decoder_captured_max_abs_diff"] = float(np.abs(masks - ref_masks).max())
    out["decoder_captured_prompt_changes_output"] = bool(np.abs(masks - click(p)[0]).max() > 1e-3)


def bench_decoder(
    folder: Path, cpu_feats, gpu_feats, reference, runs: int, layout: str, captured_feats=None
) -> dict:
    out = {}
    decoder, out["decoder_session_ms"] = webgpu_session(folder / "decoder.onnx", layout)
    p = prompts()
    reupload_feeds = {**dict(zip(FEATURES, cpu_feats, strict=True)), **p}
    wanted = ["masks", "iou_predictions"]
    t0 = time.perf_counter()  # the session's first run builds its GPU pipelines
    decoder.run(wanted, reupload_feeds)
    out["decoder_first_run_ms"] = (time.perf_counter() - t0) * 1000
    out["decoder_reupload_ms"] = median_ms(lambda: decoder.run(wanted, reupload_feeds), runs)

    decode_resident = resident_clicker(decoder, gpu_feats, wanted)
    out["decoder_resident_ms"] = median_ms(lambda: decode_resident(p), runs)
    masks, iou = decode_resident(p)
    ref = reference["masks"]
    out["decoder_max_abs_diff"] = float(np.abs(masks - ref).max())
    out["mask_iou_vs_torch"] = mask_iou(masks, ref)
    out["iou_pred_max_abs_diff"] = float(np.abs(iou - reference["iou"]).max())
    if captured_feats is not None:  # is the captured encoder as close to PyTorch as the plain one?
        masks, iou = decoder.run(wanted, {**dict(zip(FEATURES, captured_feats, strict=True)), **p})
        out["captured_encoder_mask_iou_vs_torch"] = mask_iou(masks, ref)
        out["captured_encoder_decoder_max_abs_diff"] = float(np.abs(masks - ref).max())
    if CAPTURE:
        try:
            bench_decoder_captured(out, folder, gpu_feats, decode_resident, runs, layout)
        except Exception as e:
            out["decoder_captured_error"] = f"{type(e).__name__}: {e}"
    if PROFILE:
        out["decoder_profile"] = profile_decoder(folder, gpu_feats, p, wanted, layout)
    return out


PROFILE = False
CAPTURE = False


def profile_decoder(folder: Path, gpu_feats: dict, p: dict, wanted: list, layout: str) -> dict:
    """Where a click's time goes: per execution provider and per op type (ORT's profiler)."""
    from collections import Counter, defaultdict

    decoder, _ = webgpu_session(folder / "decoder.onnx", layout, profile=True)
    decode = resident_clicker(decoder, gpu_feats, wanted)
    runs = 10
    for _ in range(runs):
        decode(p)
    events = json.loads(Path(decoder.end_profiling()).read_text())
    by_provider, by_op, count = defaultdict(float), defaultdict(float), Counter()
    cpu_ops = Counter()
    run_us = 0.0
    for e in events:
        if e.get("cat") == "Session" and e.get("name") == "model_run":
            run_us += e["dur"]
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        a = e.get("args", {})
        by_provider[a.get("provider", "?")] += e["dur"] / runs / 1000
        by_op[a.get("op_name", "?")] += e["dur"] / runs / 1000
        count[a.get("provider", "?")] += 1
        if a.get("provider") == "CPUExecutionProvider":
            cpu_ops[a.get("op_name", "?")] += 1
    return {
        "model_run_ms": run_us / runs / 1000,
        "kernel_ms_by_provider": dict(by_provider),
        "nodes_per_run_by_provider": {k: v // runs for k, v in count.items()},
        "cpu_op_types": {k: v // runs for k, v in cpu_ops.items()},
        "top_ops_ms": dict(sorted(by_op.items(), key=lambda kv: -kv[1])[:12]),
    }


def export(model, folder: Path, fused: bool, precision: str) -> Path:
    from sam2web.export.onnx_export import convert, export_fp32

    fp32 = folder / f"{'fused' if fused else 'plain'}-fp32"
    if not (fp32 / "decoder.onnx").is_file():
        export_fp32(model, fp32, fused_attention=fused)
    if precision == "fp32":
        return fp32
    target = folder / f"{'fused' if fused else 'plain'}-{precision}"
    if not (target / "decoder.onnx").is_file():
        convert(fp32, target, precision)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small", "base_plus", "large"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16"])
    parser.add_argument("--attention", nargs="+", default=["fused", "plain"])
    parser.add_argument("--layouts", nargs="+", default=["NHWC"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="folder for one JSON file per size")
    parser.add_argument("--work", type=Path, default=None, help="export folder (default: temp)")
    parser.add_argument(
        "--bundles",
        type=Path,
        default=None,
        help="time STORE/sam2.1-hiera-SIZE-PRECISION bundles (the browser's files), no export",
    )
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="only export the graphs into --work (fp16/int8 conversion needs a "
        "newer onnxruntime than onnxruntime-webgpu 1.27: run this step with "
        "it)",
    )
    parser.add_argument("--profile", action="store_true", help="add the decoder's ORT profile")
    parser.add_argument(
        "--capture",
        action="store_true",
        help="also time graph-captured encoder/decoder runs (static decoder shapes)",
    )
    parser.add_argument(
        "--validation",
        default=None,
        help="the WebGPU EP's validationMode (disabled|wgpuOnly|basic|full)",
    )
    args = parser.parse_args()
    global PROFILE, CAPTURE, VALIDATION
    PROFILE, CAPTURE, VALIDATION = args.profile, args.capture, args.validation

    import onnxruntime as ort
    import torch

    from sam2web.export.checkpoint import build_model
    from sam2web.export.models import get_spec

    if args.export_only:
        for size in args.sizes:
            torch.manual_seed(0)
            model = build_model(get_spec(f"sam2.1-hiera-{size.replace('_', '-')}"))
            for attention in args.attention:
                for precision in args.precisions:
                    export(model, args.work / size, attention == "fused", precision)
                    print("exported", size, attention, precision, flush=True)
        return
    if "WebGpuExecutionProvider" not in ort.get_available_providers():
        sys.exit(f"onnxruntime {ort.__version__} has no WebGPU EP: install onnxruntime-webgpu")
    work = args.work or Path(tempfile.mkdtemp(prefix="sam2web-native-"))
    image = np.random.default_rng(0).standard_normal((1, 3, 1024, 1024)).astype(np.float32)
    rows = []
    for size in args.sizes:
        torch.manual_seed(0)
        model = build_model(get_spec(f"sam2.1-hiera-{size.replace('_', '-')}"))
        ref_times, reference = torch_reference(model, image, args.runs)
        result = {
            "size": size,
            "gpu": torch.cuda.get_device_name(),
            "onnxruntime": ort.__version__,
            "torch": torch.__version__,
            **ref_times,
            "runs": [],
        }
        for attention in ["bundle"] if args.bundles else args.attention:
            for precision in args.precisions:
                t0 = time.perf_counter()
                if args.bundles:
                    folder = args.bundles / f"sam2.1-hiera-{size.replace('_', '-')}-{precision}"
                    if not (folder / "encoder.onnx").is_file():
                        result["runs"].append(
                            {"precision": precision, "error": f"no bundle {folder}"}
                        )
                        print(f"no bundle {folder}", file=sys.stderr, flush=True)
                        continue
                else:
                    folder = export(model, work / size, attention == "fused", precision)
                export_s = time.perf_counter() - t0
                for layout in args.layouts:
                    try:
                        r = bench_onnx(folder, image, reference, args.runs, layout)
                    # report and go on: one failing variant must not hide the rest
                    except Exception as e:
                        r = {"error": f"{type(e).__name__}: {e}"}
                    r.update(
                        attention=attention, precision=precision, layout=layout, export_s=export_s
                    )
                    if "encoder_resident_ms" in r:
                        r["encoder_vs_torch_fp32"] = (
                            r["encoder_resident_ms"] / ref_times["torch_fp32_ms"]
                        )
                    if args.bundles:
                        r["bundle"] = str(folder)
                    result["runs"].append(r)
                    rows.append({"size": size, **r, "torch_fp32_ms": ref_times["torch_fp32_ms"]})
                    print(json.dumps({"size": size, **r}), flush=True)
                    if args.out:  # after every variant: a timeout keeps what finished
                        args.out.mkdir(parents=True, exist_ok=True)
                        (args.out / f"native-{size}.json").write_text(json.dumps(result, indent=1))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"native-{size}.json").write_text(json.dumps(result, indent=1))
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    cols = [
        "size",
        "attention",
        "precision",
        "layout",
        "torch_fp32_ms",
        "encoder_resident_ms",
        "encoder_vs_torch_fp32",
        "encoder_upload_ms",
        "encoder_readback_ms",
        "encoder_captured_ms",
        "decoder_resident_ms",
        "decoder_static_ms",
        "decoder_captured_ms",
        "decoder_reupload_ms",
        "decoder_session_ms",
        "mask_iou_vs_torch",
    ]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = (r.get(c, r.get("error", "-") if c == "encoder_resident_ms" else "-") for c in cols)
        print("| " + " | ".join(fmt(v) for v in cells) + " |")


if __name__ == "__main__":
    main()
