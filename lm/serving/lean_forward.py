"""Lean forward passes over pooled KV rows for the GPT-2 and Llama families.

The same weights and the same operations as the transformers modules, without their per-call
plumbing (kwargs, output objects, mask construction), which costs more than the arithmetic of a
small model's decode step on a CPU. Used only for configurations checked here; every other model
runs through its transformers forward with a PoolCache. Tests compare both with a plain
transformers forward pass.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from lm.serving.pool_cache import PoolCache

LeanForward = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None", PoolCache, "int | torch.Tensor"], torch.Tensor]


def lean_forward_for(model: Any) -> LeanForward | None:
    """A lean forward for `model`, or None when its architecture or options are not covered."""
    config = model.config
    kind = getattr(config, "model_type", None)
    if kind == "gpt2" and type(model).__name__ == "GPT2LMHeadModel" and not config.add_cross_attention \
            and not config.reorder_and_upcast_attn:
        return _gpt2(model)
    if kind == "llama" and type(model).__name__ == "LlamaForCausalLM" and getattr(config, "pretraining_tp", 1) == 1:
        return _llama(model)
    return None


def _select(hidden: torch.Tensor, keep: "int | torch.Tensor") -> torch.Tensor:
    return hidden[:, -keep:] if isinstance(keep, int) else hidden[:, keep]


def _gpt2(model: Any) -> LeanForward:
    body = model.transformer
    blocks = list(body.h)
    heads = blocks[0].attn.num_heads
    head_dim = blocks[0].attn.head_dim
    fused_gelu = model.config.activation_function in ("gelu_new", "gelu_pytorch_tanh")

    def norm(ln: Any) -> tuple:
        return ln.normalized_shape, ln.weight, ln.bias, ln.eps

    # Parameters read once: nn.Module attribute lookups cost more than a small layer's arithmetic.
    layers = [(norm(b.ln_1), b.attn.c_attn.weight, b.attn.c_attn.bias, b.attn.c_proj.weight, b.attn.c_proj.bias,
               b.attn.scaling, norm(b.ln_2), b.mlp.c_fc.weight, b.mlp.c_fc.bias, b.mlp.c_proj.weight, b.mlp.c_proj.bias,
               b.mlp.act) for b in blocks]
    final = norm(body.ln_f)
    wte, wpe, head = body.wte.weight, body.wpe.weight, model.lm_head.weight

    def forward(ids, positions, mask, cache, keep):
        n, s = ids.shape
        x = (F.embedding(ids, wte) + F.embedding(positions, wpe)).view(n * s, -1)
        for i, (ln1, qkv_w, qkv_b, out_w, out_b, scale, ln2, fc_w, fc_b, proj_w, proj_b, act) in enumerate(layers):
            q, k, v = torch.addmm(qkv_b, F.layer_norm(x, *ln1), qkv_w) \
                .view(n, s, 3, heads, head_dim).unbind(2)
            keys, values = cache.write(i, k.transpose(1, 2), v.transpose(1, 2))
            out = F.scaled_dot_product_attention(q.transpose(1, 2), keys, values, attn_mask=mask, scale=scale)
            x = torch.addmm(x, out.transpose(1, 2).reshape(n * s, -1), out_w).add_(out_b)
            h = torch.addmm(fc_b, F.layer_norm(x, *ln2), fc_w)
            h = F.gelu(h, approximate="tanh") if fused_gelu else act(h)
            x = torch.addmm(x, h, proj_w).add_(proj_b)
        x = _select(x.view(n, s, -1), keep)
        return F.linear(F.layer_norm(x, *final), head)

    return forward


def _llama(model: Any) -> LeanForward:
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    body = model.model
    layers = list(body.layers)
    attn0 = layers[0].self_attn
    head_dim = attn0.head_dim
    groups = attn0.num_key_value_groups

    def forward(ids, positions, mask, cache, keep):
        n, s = ids.shape
        x = body.embed_tokens(ids)
        cos, sin = body.rotary_emb(x, positions)
        for i, layer in enumerate(layers):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q = attn.q_proj(h).view(n, s, -1, head_dim).transpose(1, 2)
            k = attn.k_proj(h).view(n, s, -1, head_dim).transpose(1, 2)
            v = attn.v_proj(h).view(n, s, -1, head_dim).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            keys, values = cache.write(i, k, v)
            if groups > 1 and s == 1:
                # One query per sequence: a key/value head's `groups` query heads become its rows of queries,
                # so attention runs on the key/value heads directly (no repeated keys, fast kernels); a
                # [n, 1, 1, columns] mask broadcasts over them.
                out = F.scaled_dot_product_attention(q.reshape(n, -1, groups, head_dim), keys, values, attn_mask=mask,
                                                     scale=attn.scaling)
                out = out.reshape(n, 1, -1)
            else:
                out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=attn.scaling,
                                                     enable_gqa=groups > 1).transpose(1, 2).reshape(n, s, -1)
            x = x + attn.o_proj(out)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        x = body.norm(_select(x, keep))
        return model.lm_head(x)

    return forward
