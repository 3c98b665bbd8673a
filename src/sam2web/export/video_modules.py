"""The traced graphs video tracking needs, wired as `sam2.sam2_video_predictor` wires the official
modules (sam2_base.py `_prepare_memory_conditioned_features`, `_forward_sam_heads`,
`_encode_new_memory`).

The image encoder is the image capability's own graph, unchanged: it gives `image_embed` = the
raw top-level features + `no_mem_embed` (what an initial conditioning frame decodes from). The
memory graphs take that same tensor and subtract `no_mem_embed` again (within 1 ulp of the raw
features), so a bundle carries the encoder once for both capabilities.

- MemoryAttentionGraph: the current frame's features attend to any number of spatial memories
  (dynamic Nm) and object pointers (dynamic Np). RoPE in real arithmetic (precomputed cos/sin
  tables, Mul/Add only: no complex numbers, no Einsum, no Sin/Cos on the device); the constant
  sine positions of the features and of the memories are baked in; the memories' temporal
  encodings are gathered from `maskmem_tpos_enc` by index; the pointers' temporal encodings come
  in as sine features (computed on the CPU) and are projected in-graph. Attention runs in query
  chunks (exact) so no score buffer exceeds ~120 MB at full memory.
- MemoryEncoderGraph: low-res mask logits -> upsample to 1024 -> binarize or sigmoid -> x20-10 ->
  the official memory encoder -> + no_obj_embed_spatial when the object is occluded.
- VideoDecoder: the image decoder's outputs plus the object-score logits and the object-pointer
  candidates of all four mask tokens (obj_ptr_proj applied); which one is used, and occlusion,
  are decided outside (the same rule as official, in NumPy or JS).
"""

from __future__ import annotations

import torch
from torch import nn

from sam2web.export.onnx_modules import decode_prompts

MEMORY_ATTENTION_INPUTS = [
    "image_embed",
    "maskmem_features",
    "maskmem_tpos_index",
    "obj_ptrs",
    "obj_ptr_tpos",
]
MEMORY_ATTENTION_OUTPUTS = ["pix_feat_with_mem"]
MEMORY_ENCODER_INPUTS = ["image_embed", "mask_logits", "object_score_logits", "binarize"]
MEMORY_ENCODER_OUTPUTS = ["maskmem_features"]
VIDEO_DECODER_INPUTS = [
    "image_embed",
    "high_res_feats_0",
    "high_res_feats_1",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
]
VIDEO_DECODER_OUTPUTS = [
    "masks",
    "iou_predictions",
    "single_mask",
    "single_iou",
    "object_score_logits",
    "obj_ptr",
]
QUERY_CHUNKS = 4


def rope_tables(attn) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [tokens, dim/2] of an official RoPEAttention's own `freqs_cis` (the same
    float32 values its complex multiply uses)."""
    freqs = attn.compute_cis(end_x=64, end_y=64) if attn.freqs_cis is None else attn.freqs_cis
    freqs = freqs.to("cpu")
    return freqs.real.contiguous(), freqs.imag.contiguous()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [..., T, D] with pairs (2i, 2i+1) as complex numbers, times cos + i sin [T, D/2]:
    official `apply_rotary_enc` without complex dtypes."""
    pairs = x.unflatten(-1, (-1, 2))
    re, im = pairs[..., 0], pairs[..., 1]
    return torch.stack([re * cos - im * sin, re * sin + im * cos], dim=-1).flatten(-2)


def _attention(q, k, v, chunks: int, key_bias=None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + key_bias) v over [B, h, N, d], in query chunks (exact: rows
    are independent). Plain MatMul/Softmax ops, which every onnxruntime EP runs. key_bias
    [Nk] (optional) is added to every query's scores (a fixed-size variant masks padded keys
    with it)."""
    scale = q.shape[-1] ** -0.5
    kt = k.transpose(-2, -1)
    outs = []
    for part in q.chunk(chunks, dim=-2):
        scores = torch.matmul(part * scale, kt)
        if key_bias is not None:
            scores = scores + key_bias
        outs.append(torch.matmul(torch.softmax(scores, dim=-1), v))
    return torch.cat(outs, dim=-2)


class _RopeAttention(nn.Module):
    """An official RoPEAttention (its own weights) with real-valued RoPE. Keys past the first
    `num_k_rope` (the object-pointer tokens) are not rotated, as officially."""

    def __init__(self, attn, chunks: int):
        super().__init__()
        self.attn = attn
        self.chunks = chunks

    def forward(self, q, k, v, cos, sin, num_spatial_frames=None, num_k_rope=None, key_bias=None):
        a = self.attn
        q, k, v = a.q_proj(q), a.k_proj(k), a.v_proj(v)
        q = a._separate_heads(q, a.num_heads)
        k = a._separate_heads(k, a.num_heads)
        v = a._separate_heads(v, a.num_heads)
        q = apply_rope(q, cos, sin)
        if num_spatial_frames is None:  # self-attention: keys are the same 4096 positions
            k = apply_rope(k, cos, sin)
        else:
            # Every spatial memory frame reuses the same 4096-position table (rope_k_repeat).
            spatial, pointers = k[:, :, :num_k_rope], k[:, :, num_k_rope:]
            b, h, _, d = spatial.shape
            spatial = spatial.reshape(b, h, num_spatial_frames, -1, d)
            spatial = apply_rope(spatial, cos, sin).reshape(b, h, -1, d)
            k = torch.cat([spatial, pointers], dim=2)
        out = _attention(q, k, v, self.chunks, key_bias)
        return a.out_proj(a._recombine_heads(out))


class MemoryAttentionGraph(nn.Module):
    """image_embed [1,256,64,64] (+no_mem_embed, as the encoder gives it), maskmem_features
    [Nm,64,64,64] (bf16-rounded, as stored), maskmem_tpos_index int64 [Nm] (index into
    maskmem_tpos_enc: num_maskmem - t_pos - 1), obj_ptrs [Np,256], obj_ptr_tpos [Np,tpos_dim]
    (sine encoding of each pointer's temporal distance; zeros where the model adds none)
    -> pix_feat_with_mem [1,256,64,64]."""

    def __init__(self, model, chunks: int = QUERY_CHUNKS):
        super().__init__()
        self.model = model
        attention = model.memory_attention
        self.layers = attention.layers
        self.self_attn = nn.ModuleList([_RopeAttention(x.self_attn, chunks) for x in self.layers])
        self.cross_attn = nn.ModuleList(
            [_RopeAttention(x.cross_attn_image, chunks) for x in self.layers]
        )
        self.hidden_dim = model.hidden_dim
        self.mem_dim = model.mem_dim
        with torch.no_grad():
            size = model.image_size // model.backbone_stride
            feat = torch.zeros(1, model.hidden_dim, size, size)
            curr_pos = model.image_encoder.neck.position_encoding(feat)
            mem = torch.zeros(1, model.mem_dim, size, size)
            mem_pos = model.memory_encoder.position_encoding(mem)
        self.size = size
        # One copy of each constant table in the graph (persistent buffers become shared
        # initializers; the tracer would copy a non-persistent one at every use).
        cos, sin = rope_tables(self.self_attn[0].attn)
        for attn in (*self.self_attn, *self.cross_attn):
            other_cos, other_sin = rope_tables(attn.attn)
            if not (torch.equal(cos, other_cos) and torch.equal(sin, other_sin)):
                raise NotImplementedError("memory attention layers with different RoPE tables")
        self.register_buffer("rope_cos", cos)
        self.register_buffer("rope_sin", sin)
        # [HW, C]: constant sine encodings of the features and of every spatial memory.
        self.register_buffer("curr_pos", curr_pos.flatten(2)[0].T.contiguous())
        self.register_buffer("mem_pos", mem_pos.flatten(2)[0].T.contiguous())

    def forward(self, image_embed, maskmem_features, maskmem_tpos_index, obj_ptrs, obj_ptr_tpos):
        tpos = self.model.maskmem_tpos_enc.reshape(-1, self.mem_dim)[maskmem_tpos_index]
        memory, memory_pos = self.memory_tokens(maskmem_features, tpos, obj_ptrs, obj_ptr_tpos)
        return self.attend(image_embed, memory, memory_pos, maskmem_features.shape[0])

    def memory_tokens(self, maskmem_features, tpos, obj_ptrs, obj_ptr_tpos):
        """Memories [Nm,64,64,64] with their temporal encodings tpos [Nm,64], pointers ->
        memory [1, Nm*HW + 4Np, 64] and its positions (spatial memories, then pointers)."""
        m = self.model
        c = self.hidden_dim
        # Spatial memories: [Nm*HW, 64], positions = sine + the frame's temporal encoding.
        spatial = maskmem_features.flatten(2).transpose(1, 2).reshape(1, -1, self.mem_dim)
        spatial_pos = (self.mem_pos[None] + tpos[:, None, :]).reshape(1, -1, self.mem_dim)
        # Object pointers: each [256] split into 256/64 tokens; their positions repeated.
        split = c // self.mem_dim
        ptr_tokens = obj_ptrs.reshape(-1, split, self.mem_dim).reshape(1, -1, self.mem_dim)
        ptr_pos = m.obj_ptr_tpos_proj(obj_ptr_tpos)
        ptr_pos = ptr_pos[:, None, :].expand(-1, split, -1).reshape(1, -1, self.mem_dim)
        memory = torch.cat([spatial, ptr_tokens], dim=1)
        memory_pos = torch.cat([spatial_pos, ptr_pos], dim=1)
        return memory, memory_pos

    def attend(self, image_embed, memory, memory_pos, num_frames, key_bias=None):
        """The current frame's features through the layers, cross-attending to `memory` (its
        first num_frames*HW tokens are spatial memories) -> pix_feat_with_mem."""
        m = self.model
        c, hw = self.hidden_dim, self.size * self.size
        pix_feat = image_embed - m.no_mem_embed.reshape(1, c, 1, 1)
        curr = pix_feat.flatten(2).transpose(1, 2)  # [1, HW, C] (batch first, as the layers run)
        num_k_rope = num_frames * hw

        attention = m.memory_attention
        output = curr
        if attention.pos_enc_at_input:
            output = output + 0.1 * self.curr_pos[None]
        query_pos = self.curr_pos[None]
        cos, sin = self.rope_cos, self.rope_sin
        for layer, sa, ca in zip(self.layers, self.self_attn, self.cross_attn, strict=True):
            tgt2 = layer.norm1(output)
            q = k = tgt2 + query_pos if layer.pos_enc_at_attn else tgt2
            output = output + sa(q, k, tgt2, cos, sin)
            tgt2 = layer.norm2(output)
            output = output + ca(
                tgt2 + query_pos if layer.pos_enc_at_cross_attn_queries else tgt2,
                memory + memory_pos if layer.pos_enc_at_cross_attn_keys else memory,
                memory,
                cos,
                sin,
                num_spatial_frames=num_frames,
                num_k_rope=num_k_rope,
                key_bias=key_bias,
            )
            tgt2 = layer.norm3(output)
            output = output + layer.linear2(layer.activation(layer.linear1(tgt2)))
        output = attention.norm(output)
        return output.transpose(1, 2).reshape(1, c, self.size, self.size)


class MemoryEncoderGraph(nn.Module):
    """image_embed [1,256,64,64], mask_logits [1,1,256,256] (the frame's chosen low-res logits,
    -1024 where occluded), object_score_logits [1,1], binarize [1] (1 on frames the user
    clicked or gave a mask: official `binarize_mask_from_pts_for_mem_enc`) -> maskmem_features
    [1,64,64,64] (fp32; the tracker stores it rounded to bf16, as official)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image_embed, mask_logits, object_score_logits, binarize):
        m = self.model
        pix_feat = image_embed - m.no_mem_embed.reshape(1, -1, 1, 1)
        high_res = torch.nn.functional.interpolate(
            mask_logits, size=(m.image_size, m.image_size), mode="bilinear", align_corners=False
        )
        # The official video predictor is built with binarize_mask_from_pts_for_mem_enc=true
        # (build_sam.py), whatever the image build says: the caller says when it applies.
        mask = torch.where(
            binarize.reshape(1, 1, 1, 1) > 0, (high_res > 0).float(), torch.sigmoid(high_res)
        )
        if m.sigmoid_scale_for_mem_enc != 1.0:
            mask = mask * m.sigmoid_scale_for_mem_enc
        if m.sigmoid_bias_for_mem_enc != 0.0:
            mask = mask + m.sigmoid_bias_for_mem_enc
        features = m.memory_encoder(pix_feat, mask, skip_mask_sigmoid=True)["vision_features"]
        if m.no_obj_embed_spatial is not None:
            appearing = (object_score_logits > 0).float()
            features = features + (1 - appearing[..., None, None]) * m.no_obj_embed_spatial[
                ..., None, None
            ].expand(*features.shape)
        return features


class VideoDecoder(nn.Module):
    """The image decoder (prompt encoder + mask decoder, official padding point appended) on
    memory-conditioned features, plus object_score_logits [1,1] and obj_ptr [1,4,256]: the
    object pointer of each mask token (index 0: the single-mask token; 1-3: the multimask ones).
    Occlusion (score <= 0: masks -1024, pointer = no_obj_ptr) is applied by the caller."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.prompt_encoder = model.sam_prompt_encoder
        self.mask_decoder = model.sam_mask_decoder
        self.register_buffer("dense_pe", self.prompt_encoder.get_dense_pe(), persistent=False)

    def forward(
        self,
        image_embed,
        high_res_feats_0,
        high_res_feats_1,
        point_coords,
        point_labels,
        mask_input,
        has_mask_input,
    ):
        masks, iou, tokens, object_score_logits, single_mask, single_iou = decode_prompts(
            self,
            (image_embed, high_res_feats_0, high_res_feats_1),
            (point_coords, point_labels, mask_input, has_mask_input),
            repeat_image=False,
        )
        obj_ptr = self.model.obj_ptr_proj(tokens)
        return masks[:, 1:], iou[:, 1:], single_mask, single_iou, object_score_logits, obj_ptr
