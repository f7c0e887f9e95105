"""Do the suite's layers reproduce the reference forward pass? Sublayer by sublayer, judged by the
suite's tolerances (verify.model.tolerance): `SAFETY eps sqrt(n_terms) scale`, where `scale` is the
magnitude of the terms behind each output entry, carried through the norm.

Each sublayer of ours gets the reference's own input state, so errors do not accumulate over
depth; its output is compared with the reference's output of that sublayer. For an output
`LN(z) = gamma (z - mean z) / sqrt(var z + eps) + beta`, the rounding of `z` (eps times the
magnitude `T` of the terms summed into it) is divided by the row's standard deviation, so

    scale = max over entries of |gamma| T / sqrt(var z + eps) + |LN(z)|

with `T` built from absolute values, as the forward pass builds `z`:

    embeddings   T = |word[ids]| + |position| + |token_type|
    attention    T = |X| + sum_h (P_h (1 + 2 max_j Lambda_ij)) (|X| |Wv_h| + |bv_h|) |Wo_h| + |bo|,
                 Lambda = s (|X| |Wq_h| + |bq_h|)(|X| |Wk_h| + |bk_h|)^T  (logit rounding moves P_h
                 by at most 2 P_h times it, relatively)
    feed-forward T = |Z| + (|act(H)| + slope (|Z| |W1| + |b1|)) |W2| + |b2|,  H = Z W1 + 1 b1^T
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from verify.model.tolerance import identity_slacks
from verify.running.audit.checkpoint import ACTIVATIONS, SLOPE_BOUND, Encoder, LayerWeights, Sentence
from verify.running.audit.encoder import attention_sublayer, embed, ffn_sublayer, forward_states


def norm_output_scale(z: Tensor, terms: Tensor, gamma: Tensor, eps: float, out: Tensor) -> float:
    """max |gamma| T / sqrt(var z + eps) + |LN(z)|: the size of what LN(z)'s rounding is made of."""
    centred = z - z.mean(-1, keepdim=True)
    std = torch.sqrt((centred * centred).mean(-1, keepdim=True) + eps)
    return float((gamma.abs() * terms / std + out.abs()).max())


def embedding_terms(encoder: Encoder, ids: Tensor, type_ids: Tensor) -> tuple[Tensor, Tensor]:
    """(z, T) of the embedding norm's input."""
    e = encoder.embeddings
    n = ids.shape[-1]
    parts = (e.word[ids], e.position[:n], e.token_type[type_ids])
    return sum(parts), sum(p.abs() for p in parts)


def attention_terms(encoder: Encoder, layer: LayerWeights, X: Tensor) -> tuple[Tensor, Tensor]:
    """(z, T) of the attention norm's input z = X + sum_h head_h(X) + 1 bo^T."""
    s = encoder.config.scale
    Xh, A = X.unsqueeze(-3), X.abs().unsqueeze(-3)
    logits = s * (Xh @ layer.Wq + layer.bq[:, None, :]) @ (Xh @ layer.Wk + layer.bk[:, None, :]).mT
    P = torch.softmax(logits, dim=-1)
    Lam = s * (A @ layer.Wq.abs() + layer.bq.abs()[:, None, :]) @ (A @ layer.Wk.abs() + layer.bk.abs()[:, None, :]).mT
    values = Xh @ layer.Wv + layer.bv[:, None, :]
    heads = (P @ values @ layer.Wo).sum(-3)
    P_terms = P * (1 + 2 * Lam.amax(-1, keepdim=True))
    head_terms = (P_terms @ (A @ layer.Wv.abs() + layer.bv.abs()[:, None, :]) @ layer.Wo.abs()).sum(-3)
    return X + heads + layer.bo, X.abs() + head_terms + layer.bo.abs()


def ffn_terms(encoder: Encoder, layer: LayerWeights, Z: Tensor) -> tuple[Tensor, Tensor]:
    """(z, T) of the feed-forward norm's input z = Z + act(Z W1 + 1 b1^T) W2 + 1 b2^T."""
    name = encoder.config.activation
    H = Z @ layer.W1 + layer.b1
    hidden = ACTIVATIONS[name](H)
    H_terms = Z.abs() @ layer.W1.abs() + layer.b1.abs()
    terms = Z.abs() + (hidden.abs() + SLOPE_BOUND[name] * H_terms) @ layer.W2.abs() + layer.b2.abs()
    return Z + hidden @ layer.W2 + layer.b2, terms


@dataclass
class SublayerTally:
    """Worst figures over the sentences for one sublayer: error = max |ours - reference|."""

    cases: int = 0
    failures: int = 0
    worst_relative_error: float = 0.0  # error / max |reference|
    worst_error_over_tolerance: float = 0.0
    tolerance_relative_at_worst: float = 0.0  # tolerance / max |reference|, at the worst relative error
    smallest_tolerance_relative: float = float("inf")

    def add(self, ours: Tensor, ref: Tensor, scale: float, n_terms: int) -> None:
        slack = identity_slacks(ours[None], ref[None], scale=scale, n_terms=n_terms).at(0)
        size = float(ref.abs().max())
        error = -slack.margin
        self.cases += 1
        self.failures += not slack.ok
        self.worst_error_over_tolerance = max(self.worst_error_over_tolerance, error / slack.tol)
        self.smallest_tolerance_relative = min(self.smallest_tolerance_relative, slack.tol / size)
        if error / size >= self.worst_relative_error:
            self.worst_relative_error, self.tolerance_relative_at_worst = error / size, slack.tol / size

    def as_json(self) -> dict:
        return {"cases": self.cases, "failures": self.failures, "within_tolerance": self.failures == 0,
                "worst_relative_error": self.worst_relative_error, "worst_error_over_tolerance": self.worst_error_over_tolerance,
                "tolerance_relative_at_worst": self.tolerance_relative_at_worst,
                "smallest_tolerance_relative": self.smallest_tolerance_relative}


@dataclass
class Agreement:
    """Per depth: the embeddings, then each layer's attention and feed-forward sublayers; and the
    end-to-end drift of our whole forward pass from the reference's (not judged: it compounds)."""

    sublayers: dict[str, SublayerTally] = field(default_factory=dict)
    end_to_end_relative_error: float = 0.0

    def tally(self, name: str) -> SublayerTally:
        return self.sublayers.setdefault(name, SublayerTally())

    def add_sentence(self, encoder: Encoder, sentence: Sentence, reference: list[Tensor]) -> list[Tensor]:
        """Compare every sublayer on one sentence; return our own forward states."""
        config = encoder.config
        n_terms = max(config.hidden, config.intermediate, config.head_dim, sentence.ids.shape[-1])
        ids, types = sentence.ids, sentence.type_ids
        z, T = embedding_terms(encoder, ids, types)
        ours = embed(encoder, ids, types)
        e = encoder.embeddings
        self.tally("embeddings").add(ours, reference[0], norm_output_scale(z, T, e.gamma, config.eps, ours), n_terms)
        for l, layer in enumerate(encoder.layers):
            X, Z_ref, X_next_ref = reference[2 * l], reference[2 * l + 1], reference[2 * l + 2]
            z, T = attention_terms(encoder, layer, X)
            Z = attention_sublayer(encoder, layer, X)
            self.tally(f"layer {l} attention").add(Z, Z_ref, norm_output_scale(z, T, layer.gamma1, config.eps, Z), n_terms)
            z, T = ffn_terms(encoder, layer, Z_ref)
            X_next = ffn_sublayer(encoder, layer, Z_ref)
            self.tally(f"layer {l} feed-forward").add(X_next, X_next_ref,
                                                      norm_output_scale(z, T, layer.gamma2, config.eps, X_next), n_terms)
        states = forward_states(encoder, ids, types)
        drift = max(float((s - r).abs().max() / r.abs().max()) for s, r in zip(states, reference, strict=True))
        self.end_to_end_relative_error = max(self.end_to_end_relative_error, drift)
        return states

    def per_layer(self, layers: int) -> list[dict]:
        """One row per depth ('embeddings', 0, 1, ...): the worst of its sublayers, and each sublayer."""
        rows = [{"layer": "embeddings", **self.sublayers["embeddings"].as_json()}]
        for l in range(layers):
            parts = {p: self.sublayers[f"layer {l} {p}"].as_json() for p in ("attention", "feed-forward")}
            worst = max(parts.values(), key=lambda r: r["worst_relative_error"])
            rows.append({"layer": l, **{k: worst[k] for k in ("worst_relative_error", "tolerance_relative_at_worst")},
                         "worst_error_over_tolerance": max(r["worst_error_over_tolerance"] for r in parts.values()),
                         "cases": sum(r["cases"] for r in parts.values()), "failures": sum(r["failures"] for r in parts.values()),
                         "within_tolerance": all(r["within_tolerance"] for r in parts.values()), "sublayers": parts})
        return rows
