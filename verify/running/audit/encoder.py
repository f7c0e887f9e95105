"""The checkpoint's forward pass written with the suite's own layers (verify.math.layers).

    X_0     = LN_emb(word[ids] + position[0..n-1] + token_type[type_ids])
    Z_l     = LN1_l(X_l + sum_h head_h(X_l) + 1 bo^T)           attention sublayer (post-norm)
    X_{l+1} = LN2_l(Z_l + act(Z_l W1 + 1 b1^T) W2 + 1 b2^T)      feed-forward sublayer (post-norm)

with `head_h` and the affine LN of `verify.math.layers`. The states X_0, Z_0, X_1, ..., Z_{L-1},
X_L are the "depths" of the energy curves (2L + 1 of them).
"""

from __future__ import annotations

from torch import Tensor

from verify.math.layers import affine_layer_norm, biased_attention_heads, feed_forward
from verify.running.audit.checkpoint import ACTIVATIONS, Encoder, LayerWeights


def embed(encoder: Encoder, ids: Tensor, type_ids: Tensor) -> Tensor:
    """X_0 = LN_emb(word[ids] + position[0..n-1] + token_type[type_ids]), shape (n, d)."""
    e = encoder.embeddings
    n = ids.shape[-1]
    if n > e.position.shape[0]:
        raise ValueError(f"ids has {n} tokens, more than the {e.position.shape[0]} positions of the model")
    summed = e.word[ids] + e.position[:n] + e.token_type[type_ids]
    return affine_layer_norm(summed, e.gamma, e.beta, encoder.config.eps)


def head_updates(encoder: Encoder, layer: LayerWeights, X: Tensor) -> Tensor:
    """head_h(X) for every head h of the layer, shape (h, n, d) (value bias included, bo not)."""
    return biased_attention_heads(X, layer.Wq, layer.bq, layer.Wk, layer.bk, layer.Wv, layer.bv, layer.Wo, encoder.config.scale)


def attention_output(encoder: Encoder, layer: LayerWeights, X: Tensor, heads_sum: Tensor) -> Tensor:
    """Z = LN1(X + heads_sum + 1 bo^T), for the sum of the heads' updates (batched over leading dims)."""
    return affine_layer_norm(X + heads_sum + layer.bo, layer.gamma1, layer.beta1, encoder.config.eps)


def attention_sublayer(encoder: Encoder, layer: LayerWeights, X: Tensor) -> Tensor:
    """Z = LN1(X + sum_h head_h(X) + 1 bo^T)."""
    return attention_output(encoder, layer, X, head_updates(encoder, layer, X).sum(-3))


def ffn_sublayer(encoder: Encoder, layer: LayerWeights, Z: Tensor) -> Tensor:
    """X' = LN2(Z + act(Z W1 + 1 b1^T) W2 + 1 b2^T) (batched over leading dims)."""
    act = ACTIVATIONS[encoder.config.activation]
    return affine_layer_norm(Z + feed_forward(Z, layer.W1, layer.b1, layer.W2, layer.b2, act), layer.gamma2, layer.beta2,
                             encoder.config.eps)


def forward_states(encoder: Encoder, ids: Tensor, type_ids: Tensor) -> list[Tensor]:
    """[X_0, Z_0, X_1, Z_1, ..., X_L]: every state along the forward pass, each (n, d)."""
    states = [embed(encoder, ids, type_ids)]
    for layer in encoder.layers:
        states.append(attention_sublayer(encoder, layer, states[-1]))
        states.append(ffn_sublayer(encoder, layer, states[-1]))
    return states


def state_labels(layers: int) -> list[str]:
    """Names of the 2L + 1 states: 'emb', 'L0.att', 'L0.ffn', ..."""
    return ["emb"] + [f"L{l}.{part}" for l in range(layers) for part in ("att", "ffn")]
