"""onnxruntime-web's kernels on the engine's WebGPU device (bench/graph.html: Backend.create, so
the app's adapter, device features and session options) against onnxruntime on the CPU."""

from __future__ import annotations

import base64

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

# (batch, queries, keys, width, heads): SAM2's fused attention (export/fused_attention.py) as the
# graphs use it. With the 'subgroups' feature on SwiftShader's 4-wide subgroups, onnxruntime-web
# 1.30 got every case from 32 queries on wrong by up to 0.9 (gpuDevice.ts: MIN_SUBGROUP_SIZE).
ATTENTION_CASES = [
    (4, 64, 64, 8, 1),  # the test model's first Hiera stage: 8x8-token windows, one 8-wide head
    (1, 64, 64, 96, 1),  # SAM2.1 tiny's first stage: one 96-wide head
    (1, 256, 8, 32, 4),  # the mask decoder: image tokens attending to the prompt's tokens
    (1, 8, 256, 32, 4),  # ... and the prompt's tokens attending to the image
    (2, 16, 64, 16, 2),  # under 32 queries (another kernel path)
]


def _attention_graph(batch, queries, keys, width, heads) -> bytes:
    def io(name, length):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, length, width])

    node = helper.make_node(
        "MultiHeadAttention", ["q", "k", "v"], ["out"], domain="com.microsoft", num_heads=heads
    )
    graph = helper.make_graph(
        [node],
        "attention",
        [io("q", queries), io("k", keys), io("v", keys)],
        [io("out", queries)],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=9).SerializeToString()


def _spec(a: np.ndarray) -> dict:
    return {"type": "float32", "dims": list(a.shape), "data": a.ravel().tolist()}


def _drift(page, model: bytes, feeds: dict, want: np.ndarray) -> dict:
    """The graph run in the page on `feeds`, its output "out" against `want` -> the figures."""
    got = page.evaluate(
        "([model, feeds, outputs]) => window.graphCheck.run({ base64: model }, feeds, outputs)",
        [
            base64.b64encode(model).decode(),
            {k: _spec(v) for k, v in feeds.items()},
            {"out": _spec(want)},
        ],
    )
    return got["drift"]["out"]


@pytest.fixture(scope="module", params=["webgpu_browser", "webgpu_compat_browser"])
def graph_page(request, fresh_server):
    """bench/graph.html on SwiftShader's core adapter, and on ANGLE's OpenGL ES compatibility
    adapter (which the engine prefers over a CPU-emulated core one)."""
    page = request.getfixturevalue(request.param).new_page()
    page.goto(fresh_server.url + "bench/graph.html?backend=webgpu")
    page.wait_for_selector("body[data-ready], body[data-error]", state="attached")
    assert page.evaluate("document.body.dataset.error") is None
    yield page
    page.close()


def test_attention_on_the_engines_webgpu_device_matches_the_cpu(graph_page):
    info = graph_page.evaluate("window.graphCheck.info")
    assert info["backend"] == "webgpu", info
    # SwiftShader's subgroups are 4 wide (and the compatibility adapter has none): the engine
    # leaves the feature off.
    assert info["subgroups"] is False, info
    rng = np.random.default_rng(0)
    for batch, queries, keys, width, heads in ATTENTION_CASES:
        model = _attention_graph(batch, queries, keys, width, heads)
        feeds = {
            "q": rng.standard_normal((batch, queries, width), np.float32),
            "k": rng.standard_normal((batch, keys, width), np.float32),
            "v": rng.standard_normal((batch, keys, width), np.float32),
        }
        cpu = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        (want,) = cpu.run(["out"], feeds)
        drift = _drift(graph_page, model, feeds, want)
        case = (batch, queries, keys, width, heads)
        assert drift["size"] == want.size, (case, drift)
        assert drift["max_abs"] <= 1e-4, (case, drift)


def test_the_check_page_sees_a_wrong_kernel(graph_page):
    """The comparison itself: a reference off by 0.01 in one value is reported as such."""
    model = _attention_graph(1, 8, 8, 8, 1)
    rng = np.random.default_rng(1)
    feeds = {k: rng.standard_normal((1, 8, 8), np.float32) for k in "qkv"}
    (want,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["out"], feeds)
    want = want.copy()
    want[0, 3, 5] += 0.01
    assert _drift(graph_page, model, feeds, want)["max_abs"] == pytest.approx(0.01, abs=1e-4)
