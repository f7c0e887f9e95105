"""Standard Transformer layers as users write them, kept apart from the optimization steps.

The suite checks that these equal the unfolded steps under stated weight ties; it never
assumes it. Shapes: `Y` is `(..., n, d)`; a single head has `Wq, Wk` of shape `(d, k)`
and `Wv` of `(d, v)`, `Wo` of `(v, d)`; `h` heads stack them as `(h, d, k)` etc.

    head(Y)      = softmax(Y Wq (Y Wk)^T) Y Wv Wo      (the 1/sqrt(k) scale lives in Wq)
    attention(Y) = sum over heads of head(Y)
    block(Y)     = norm(Y + attention(Y))              (post-norm)
    ffn(Y)       = relu(Y W1 + 1 b1^T) W2 + 1 b2^T
    transformer_block(Y) = norm(Z + ffn(Z)), Z = norm(Y + attention(Y))   (post-norm)
"""

from __future__ import annotations

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


def feed_forward(Y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """relu(Y W1 + 1 b1^T) W2 + 1 b2^T."""
    return torch.relu(Y @ W1 + b1[..., None, :]) @ W2 + b2[..., None, :]


def transformer_block(
    Y: Tensor, attention: tuple[Tensor, Tensor, Tensor, Tensor], ffn: tuple[Tensor, Tensor, Tensor, Tensor],
    norm: Callable[[Tensor], Tensor],
) -> Tensor:
    """The post-norm block: Z = norm(Y + attention(Y)), then norm(Z + ffn(Z))."""
    Z = attention_block(Y, *attention, norm)
    return norm(Z + feed_forward(Z, *ffn))
