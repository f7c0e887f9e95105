"""The audit of one checkpoint, start to end: load, agree, measure the weights, descend on text.

    audit_checkpoint(model) -> dict   (the JSON of reports/audit.json, findings included)

Everything is computed in float64 (the checkpoint's float32 weights cast up, exactly), both our
forward pass and the reference's, one unpadded sentence at a time.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import Tensor

from verify.running.audit.agreement import Agreement
from verify.running.audit.assumptions import activation_slope, head_assumptions, layer_assumptions
from verify.running.audit.checkpoint import AUDIT_EXTRA, load_checkpoint, tokenize
from verify.running.audit.depth import depth_energies
from verify.running.audit.descent import OUTCOMES, VARIANTS, layer_descent
from verify.running.audit.encoder import state_labels
from verify.running.audit.findings import findings
from verify.running.audit.geometry import layer_geometry
from verify.running.audit.reference import reference_forward
from verify.running.audit.sentences import SENTENCES, load_sentences

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in AUDIT_EXTRA:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _quantiles(values: Tensor) -> dict[str, float]:
    """Named quantiles (q10 ... q90), min, max and mean of a flat tensor."""
    v = values.reshape(-1).double()
    levels = torch.tensor(QUANTILES, dtype=v.dtype, device=v.device)
    out = {f"q{round(q * 100)}": float(x) for q, x in zip(QUANTILES, torch.quantile(v, levels), strict=True)}
    return {**out, "min": float(v.min()), "max": float(v.max()), "mean": float(v.mean())}


def _outcome_counts(codes: Tensor) -> dict[str, int]:
    """How many of `codes` (indices into OUTCOMES) fall in each outcome."""
    counts = torch.bincount(codes.reshape(-1), minlength=len(OUTCOMES)).tolist()
    return {name: int(c) for name, c in zip(OUTCOMES, counts, strict=True)} | {"cases": int(codes.numel())}


def audit_checkpoint(model: str | Path | None = None, *, sentences: int | None = None, texts: list[str] | None = None,
                     progress: Callable[[str], None] | None = None) -> dict:
    """The whole audit as one JSON-ready dict (see DESIGN.md, `verify.audit`)."""
    started, t0 = datetime.now(UTC), time.perf_counter()
    say = progress or (lambda message: None)
    checkpoint = load_checkpoint(model)
    encoder, config = checkpoint.encoder, checkpoint.encoder.config
    reference = reference_forward(checkpoint)
    source = "given texts" if texts is not None else f"{SENTENCES.parent.name}/{SENTENCES.name}"
    texts = texts if texts is not None else load_sentences(sentences)
    if not texts:
        raise ValueError("texts must hold at least one sentence")
    tokenized = tokenize(checkpoint.folder, texts, config.max_positions)
    geometries = [layer_geometry(encoder, layer) for layer in encoder.layers]
    agreement = Agreement()
    L = config.layers
    outcome, relative, att_change, lay_change, spread, key_bias = [], [], [], [], [], []
    all_heads_change, euclid, depth = [], [], []
    slope_sum = [torch.zeros(config.intermediate, dtype=torch.float64) for _ in range(L)]  # host: the audit runs on the CPU
    tokens = 0
    for i, sentence in enumerate(tokenized):
        states = agreement.add_sentence(encoder, sentence, reference(sentence.ids, sentence.type_ids))
        per_layer = []
        for l, layer in enumerate(encoder.layers):
            X, Z, X_next = states[2 * l], states[2 * l + 1], states[2 * l + 2]
            per_layer.append(layer_descent(encoder, layer, geometries[l], X, Z, X_next))
            slope_sum[l] += activation_slope(config.activation, Z @ layer.W1 + layer.b1).sum(0)
        tokens += sentence.ids.shape[-1]
        outcome.append(torch.stack([r.outcome for r in per_layer]))  # (L, V, H)
        relative.append(torch.stack([r.relative_change for r in per_layer]))
        att_change.append(torch.stack([r.attention_change for r in per_layer]))  # (L, H)
        lay_change.append(torch.stack([r.layer_change for r in per_layer]))
        spread.append(torch.stack([r.norm_spread for r in per_layer]))
        key_bias.append(torch.stack([r.key_bias_ratio for r in per_layer]))
        all_heads_change.append(torch.tensor([r.all_heads_layer_change for r in per_layer], dtype=torch.float64))  # host: summary
        euclid.append(torch.tensor([r.euclidean_norm_spread for r in per_layer], dtype=torch.float64))  # host: summary
        depth.append(depth_energies(geometries, states))  # (states, L, H)
        if (i + 1) % 25 == 0 or i + 1 == len(tokenized):
            say(f"{i + 1}/{len(tokenized)} sentences, {time.perf_counter() - t0:.0f} s")
    outcome_t, relative_t = torch.stack(outcome), torch.stack(relative)  # (S, L, V, H)
    att_t, lay_t, spread_t, key_t = (torch.stack(x) for x in (att_change, lay_change, spread, key_bias))  # (S, L, H)
    all_t, euclid_t, depth_t = torch.stack(all_heads_change), torch.stack(euclid), torch.stack(depth)  # (S, L), (S, st, L, H)

    heads, layers = [], []
    for l, layer in enumerate(encoder.layers):
        mean_slope = slope_sum[l] / tokens
        for row in head_assumptions(encoder, layer, geometries[l]):
            h = row["head"]
            row = {"layer": l, **row, "descent": {
                v: _outcome_counts(outcome_t[:, l, vi, h]) for vi, v in enumerate(VARIANTS)},
                "replacement": {"attention_change": _quantiles(att_t[:, l, h]), "layer_change": _quantiles(lay_t[:, l, h])},
                "norm_spread": _quantiles(spread_t[:, l, h]), "key_bias_ratio": _quantiles(key_t[:, l, h])}
            heads.append(row)
        layers.append({"layer": l, **layer_assumptions(layer, mean_slope),
                       "descent": {v: _outcome_counts(outcome_t[:, l, vi, :]) for vi, v in enumerate(VARIANTS)},
                       "replacement": {"layer_change": _quantiles(lay_t[:, l, :]), "all_heads_layer_change": _quantiles(all_t[:, l])},
                       "norm_spread": _quantiles(spread_t[:, l, :]), "key_bias_ratio": _quantiles(key_t[:, l, :]),
                       "euclidean_norm_spread": _quantiles(euclid_t[:, l])})

    labels = state_labels(L)
    total = depth_t.mean((-2, -1))  # (S, states)
    own = depth_t.mean(-1)  # (S, states, L)
    steps = total[:, 1:] - total[:, :-1]
    own_steps = []
    for l in range(L):
        att = own[:, 2 * l + 1, l] - own[:, 2 * l, l]
        ffn = own[:, 2 * l + 2, l] - own[:, 2 * l + 1, l]
        own_steps.append({"layer": l, "attention_lowers": int((att < 0).sum()), "ffn_lowers": int((ffn < 0).sum()),
                          "attention_change": _quantiles(att), "ffn_change": _quantiles(ffn),
                          "at_input": _quantiles(own[:, 2 * l, l])})
    depth_json = {
        "states": labels, "energy": "mean over all heads of E_{W+}(Y) / n^2",
        "total": {f"q{round(q * 100)}": torch.quantile(total, q, dim=0).tolist() for q in QUANTILES},
        "total_mean": total.mean(0).tolist(),
        "sentences": len(tokenized), "sentences_lower_at_end": int((total[:, -1] < total[:, 0]).sum()),
        "sublayer_steps": int(steps.numel()), "sublayer_steps_lowering": int((steps < 0).sum()),
        "attention_steps_lowering": int((steps[:, 0::2] < 0).sum()), "ffn_steps_lowering": int((steps[:, 1::2] < 0).sum()),
        "own_layer": own_steps,
    }
    lengths = torch.tensor([s.ids.shape[-1] for s in tokenized], dtype=torch.float64)  # host: summary statistics
    report = {
        "meta": {
            "model": config.name, "folder": str(checkpoint.folder), "started": started.isoformat(timespec="seconds"),
            "seconds": None, "dtype": "float64", "versions": _versions(), "threads": torch.get_num_threads(),
            "config": {"hidden": config.hidden, "heads": config.heads, "head_dim": config.head_dim, "layers": L,
                       "intermediate": config.intermediate, "layer_norm_eps": config.eps, "activation": config.activation},
            "sentences": len(tokenized), "tokens": int(lengths.sum()),
            "tokens_per_sentence": {"min": int(lengths.min()), "median": float(lengths.median()), "max": int(lengths.max())},
            "text": source,
        },
        "agreement": {"dtype": "float64", "layers": agreement.per_layer(L),
                      "end_to_end_relative_error": agreement.end_to_end_relative_error},
        "heads": heads,
        "layers": layers,
        "descent": {"variants": {v: _outcome_counts(outcome_t[:, :, vi, :]) for vi, v in enumerate(VARIANTS)},
                    "relative_change": {v: _quantiles(relative_t[:, :, vi, :]) for vi, v in enumerate(VARIANTS)}},
        "replacement": {"attention_change": _quantiles(att_t), "layer_change": _quantiles(lay_t),
                        "all_heads_layer_change": _quantiles(all_t)},
        "norms": {"norm_spread": _quantiles(spread_t), "key_bias_ratio": _quantiles(key_t), "euclidean_norm_spread": _quantiles(euclid_t)},
        "depth": depth_json,
    }
    report["findings"] = findings(report)
    report["meta"]["seconds"] = time.perf_counter() - t0
    return report
