"""Export SAM2's attention as one fused ONNX node instead of MatMul -> Softmax -> MatMul.

The official modules call `F.scaled_dot_product_attention`; traced as is, it becomes separate
nodes that materialise the whole attention matrix (4096 x 4096 per head in Hiera's global blocks).
Inside `fused_attention()` each such call is exported as onnxruntime's `MultiHeadAttention`
(com.microsoft domain), which the WebGPU, WASM and CPU execution providers run as one kernel.
The PyTorch result is unchanged: tracing runs the official SDPA, only the recorded graph differs.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

_original_sdpa = F.scaled_dot_product_attention
MAX_SCORES = 1 << 24  # attention scores per fused node (see _sdpa)


class _MultiHeadAttention(torch.autograd.Function):
    """[B, S, heads*d] inputs -> [B, S, heads*d]; exported as one com.microsoft node."""

    @staticmethod
    def forward(ctx, q, k, v, num_heads: int):  # noqa: ARG004 - signature fixed by autograd
        heads = lambda t: t.unflatten(2, (num_heads, -1)).transpose(1, 2)  # noqa: E731
        return _original_sdpa(heads(q), heads(k), heads(v)).transpose(1, 2).flatten(2)

    @staticmethod
    def symbolic(g, q, k, v, num_heads: int):
        out = g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=num_heads)
        out.setType(q.type().with_sizes([None, None, None]))
        return out


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kw):
    # Only the plain form SAM2 uses at inference has a fused equivalent; anything else is traced
    # as before.
    if (
        attn_mask is not None
        or is_causal
        or scale is not None
        or dropout_p
        or kw
        or query.dim() != 4
        or value.shape[-1] != query.shape[-1]
    ):
        return _original_sdpa(
            query,
            key,
            value,
            attn_mask=attn_mask,
            dropout_p=dropout_p,
            is_causal=is_causal,
            scale=scale,
            **kw,
        )
    num_heads = query.shape[1]
    flat = lambda t: t.transpose(1, 2).flatten(2)  # noqa: E731  [B,h,S,d] -> [B,S,h*d]
    q, k, v = flat(query), flat(key), flat(value)
    # Hiera's global blocks attend 4096 tokens to 4096: as one fused node that overflowed
    # onnxruntime-web's 32-bit WASM allocator ("SafeInt ... Integer overflow"), and split into
    # query chunks it ran 1.6x slower on WebGPU (H100) than these blocks as plain ops. So only
    # attention up to MAX_SCORES scores (windowed blocks, the decoder) is fused.
    if int(num_heads) * int(query.shape[2]) * int(key.shape[2]) > MAX_SCORES:
        return _original_sdpa(query, key, value)
    out = _MultiHeadAttention.apply(q, k, v, int(num_heads))
    # Shaped like the query, not from the fused node's own sizes (which ONNX cannot infer): the
    # exporter would otherwise bake the traced number of prompt tokens into later reshapes.
    return out.reshape_as(query.transpose(1, 2)).transpose(1, 2)


@contextlib.contextmanager
def fused_attention(enabled: bool = True):
    """While active, SAM2's attention traces to a fused MultiHeadAttention node."""
    if not enabled:
        yield
        return
    F.scaled_dot_product_attention = _sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = _original_sdpa
