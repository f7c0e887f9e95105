"""Standard Transformer layers as users write them, kept apart from the optimization steps.

The suite checks that these equal the unfolded steps under stated weight ties; it never
assumes it. Shapes: `Y` is `(..., n, d)`; a single head has `Wq, Wk` of shape `(d, k)`
and `Wv` of `(d, v)`, `Wo` of `(v, d)`; `h` heads stack them as `(h, d, k)` etc.

    head(Y)      = softmax(Y Wq (Y Wk)^T) Y Wv Wo      (the 1/sqrt(k) scale lives in Wq)
    attention(Y) = sum over heads of head(Y)
    block(Y)     = norm(Y + attention(Y))              (post-norm)
    ffn(Y)       = act(Y W1 + 1 b1^T) W2 + 1 b2^T    (act = relu unless given, e.g. gelu)
    transformer_block(Y) = norm(Z + ffn(Z)), Z = norm(Y + attention(Y))   (post-norm)

Trained checkpoints (BERT-style) add biases and an explicit scale to each head and an affine
part and epsilon to the norm:

    head_h(Y)    = softmax(s (Y Wq_h + 1 bq_h^T)(Y Wk_h + 1 bk_h^T)^T) (Y Wv_h + 1 bv_h^T) Wo_h
    biased attention(Y) = sum_h head_h(Y) + 1 bo^T              (s = 1/sqrt(k) in BERT)
    affine_layer_norm(y) = gamma * (y - mean(y)) / sqrt(var(y) + eps) + beta   (biased var)
    gelu(x)      = x Phi(x) = (x / 2) (1 + erf(x / sqrt(2)))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def self_attention(Y: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor, Wo: Tensor) -> Tensor:
    """sum_h softmax(Y Wq_h (Y Wk_h)^T) Y Wv_h Wo_h."""
    if Wq.ndim == 2:
        return torch.softmax((Y @ Wq) @ (Y @ Wk).mT, dim=-1) @ Y @ Wv @ Wo
    Yh = Y.unsqueeze(-3)
    heads = torch.softmax((Yh @ Wq) @ (Yh @ Wk).mT, dim=-1) @ Yh @ Wv @ Wo
    return heads.sum(-3)


def attention_block(
    Y: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor, Wo: Tensor, norm: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """norm(Y + self_attention(Y)); no norm when `norm` is None."""
    out = Y + self_attention(Y, Wq, Wk, Wv, Wo)
    return out if norm is None else norm(out)


def torch_layer_norm(Y: Tensor, eps: float = 0.0) -> Tensor:
    """torch.nn.functional.layer_norm over the last dimension, no affine part."""
    return torch.nn.functional.layer_norm(Y, (Y.shape[-1],), eps=eps)


def feed_forward(
    Y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: Callable[[Tensor], Tensor] = torch.relu
) -> Tensor:
    """act(Y W1 + 1 b1^T) W2 + 1 b2^T, act = relu unless given."""
    return activation(Y @ W1 + b1[..., None, :]) @ W2 + b2[..., None, :]


def gelu(X: Tensor) -> Tensor:
    """gelu(x) = (x / 2) (1 + erf(x / sqrt(2))), the exact (erf) form BERT's "gelu" names."""
    return X / 2 * (1 + torch.erf(X / math.sqrt(2)))


def affine_layer_norm(Y: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Tensor:
    """gamma * (y - mean(y)) / sqrt(var(y) + eps) + beta over the last dimension (var biased: / d)."""
    centred = Y - Y.mean(-1, keepdim=True)
    variance = (centred * centred).mean(-1, keepdim=True)
    return gamma * centred / torch.sqrt(variance + eps) + beta


def biased_attention_heads(
    Y: Tensor, Wq: Tensor, bq: Tensor, Wk: Tensor, bk: Tensor, Wv: Tensor, bv: Tensor, Wo: Tensor, scale: float
) -> Tensor:
    """head_h(Y) = softmax(s (Y Wq_h + 1 bq_h^T)(Y Wk_h + 1 bk_h^T)^T) (Y Wv_h + 1 bv_h^T) Wo_h, one per head.

    Y is (..., n, d); Wq, Wk, Wv are (h, d, k), bq, bk, bv are (h, k), Wo is (h, k, d); the result is
    (..., h, n, d): each head's own contribution to the layer's update.
    """
    Yh = Y.unsqueeze(-3)
    queries = Yh @ Wq + bq[:, None, :]
    keys = Yh @ Wk + bk[:, None, :]
    values = Yh @ Wv + bv[:, None, :]
    return torch.softmax(scale * queries @ keys.mT, dim=-1) @ values @ Wo


def biased_self_attention(
    Y: Tensor, Wq: Tensor, bq: Tensor, Wk: Tensor, bk: Tensor, Wv: Tensor, bv: Tensor, Wo: Tensor, bo: Tensor, scale: float
) -> Tensor:
    """sum_h head_h(Y) + 1 bo^T (see `biased_attention_heads`)."""
    return biased_attention_heads(Y, Wq, bq, Wk, bk, Wv, bv, Wo, scale).sum(-3) + bo


def transformer_block(
    Y: Tensor, attention: tuple[Tensor, Tensor, Tensor, Tensor], ffn: tuple[Tensor, Tensor, Tensor, Tensor],
    norm: Callable[[Tensor], Tensor],
) -> Tensor:
    """The post-norm block: Z = norm(Y + attention(Y)), then norm(Z + ffn(Z))."""
    Z = attention_block(Y, *attention, norm)
    return norm(Z + feed_forward(Z, *ffn))
