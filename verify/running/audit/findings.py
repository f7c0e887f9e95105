"""The audit's findings: each a claim of the paper's set-up, a verdict, and the numbers behind it,
read from the computed report (no number is typed in here; thresholds are named constants).

verdict "holds" when the claim is true for every case counted, "refuted" otherwise; `holds_for`
of `cases` says for how many it is true.
"""

from __future__ import annotations

import torch

from verify.model.tolerance import tolerance

CHANGE_THRESHOLD = 0.01
"""The output change (relative, Frobenius) below which a head replacement counts as harmless."""


def _verdict(holds_for: int, cases: int) -> str:
    return "holds" if holds_for == cases else "refuted"


def _finding(fid: str, claim: str, holds_for: int, cases: int, **numbers: object) -> dict:
    return {"id": fid, "claim": claim, "verdict": _verdict(holds_for, cases), "holds_for": holds_for, "cases": cases,
            "numbers": numbers}


def _where(row: dict) -> dict:
    return {"layer": row["layer"], "head": row["head"]}


def findings(report: dict) -> list[dict]:
    """The findings, in the order the report shows them."""
    heads, layers, meta = report["heads"], report["layers"], report["meta"]
    d = meta["config"]["hidden"]
    exact = tolerance_of_one(d)
    out = []

    rows = report["agreement"]["layers"]
    worst = max(rows, key=lambda r: r["worst_relative_error"])
    out.append(_finding(
        "agreement", "the suite's layers reproduce the reference forward pass (transformers' BertModel), sublayer by sublayer",
        sum(r["cases"] - r["failures"] for r in rows), sum(r["cases"] for r in rows),
        worst_relative_error=worst["worst_relative_error"], worst_layer=worst["layer"],
        tolerance_relative_at_worst=worst["tolerance_relative_at_worst"],
        worst_error_over_tolerance=max(r["worst_error_over_tolerance"] for r in rows),
        end_to_end_relative_error=report["agreement"]["end_to_end_relative_error"], dtype=report["agreement"]["dtype"]))

    symmetric = [h for h in heads if h["asymmetry"] <= exact]
    least = min(heads, key=lambda h: h["asymmetry"])
    out.append(_finding(
        "qk-symmetric", "every head has Wq Wk^T symmetric", len(symmetric), len(heads),
        least_asymmetry=least["asymmetry"], least_at=_where(least), median_asymmetry=_median([h["asymmetry"] for h in heads]),
        tolerance=exact))

    psd = [h for h in heads if h["sym"]["negative"] == 0]
    most = min(heads, key=lambda h: h["sym"]["lmin"])
    nearest = min(heads, key=lambda h: h["sym"]["psd_distance"])
    out.append(_finding(
        "qk-psd", "every head has sym(s Wq Wk^T) positive semidefinite", len(psd), len(heads),
        most_negative_eigenvalue=most["sym"]["lmin"], most_negative_at=_where(most), its_lmax=most["sym"]["lmax"],
        median_negative_count=_median([h["sym"]["negative"] for h in heads]),
        median_positive_count=_median([h["sym"]["positive"] for h in heads]),
        median_psd_distance=_median([h["sym"]["psd_distance"] for h in heads]),
        head_dim=meta["config"]["head_dim"],
        heads_with_inertia_k_k=sum(h["sym"]["positive"] == h["sym"]["negative"] == meta["config"]["head_dim"] for h in heads),
        least_psd_distance=nearest["sym"]["psd_distance"], least_psd_distance_at=_where(nearest),
        factor_check_inertia_equal=all(h["factor_check"]["inertia_equal"] for h in heads),
        factor_check_psd_distance_difference=max(h["factor_check"]["psd_distance_difference"] for h in heads)))

    scalar = [h for h in heads if h["value_output"]["distance"] <= exact and h["value_output"]["c"] >= 0]
    closest = min(heads, key=lambda h: h["value_output"]["distance"])
    out.append(_finding(
        "vo-scalar-head", "every head has Wv Wo = c I with c >= 0", len(scalar), len(heads),
        least_distance=closest["value_output"]["distance"], least_at=_where(closest), floor=closest["value_output"]["floor"],
        median_distance=_median([h["value_output"]["distance"] for h in heads]),
        positive_c=sum(h["value_output"]["c"] > 0 for h in heads), median_c=_median([h["value_output"]["c"] for h in heads])))

    summed = [r for r in layers if r["value_output"]["distance"] <= exact and r["value_output"]["c"] >= 0]
    closest_layer = min(layers, key=lambda r: r["value_output"]["distance"])
    out.append(_finding(
        "vo-scalar-layer", "every layer's summed value-output map sum_h Wv_h Wo_h is c I with c >= 0", len(summed), len(layers),
        least_distance=closest_layer["value_output"]["distance"], least_at_layer=closest_layer["layer"],
        positive_c=sum(r["value_output"]["c"] > 0 for r in layers),
        c_values=[r["value_output"]["c"] for r in layers]))

    norms = report["norms"]
    out.append(_finding(
        "equal-norms", "tokens entering each layer have equal W-norms q_i = y_i^T sym(M) y_i, for every head and sentence",
        sum(h["norm_spread"]["max"] <= exact for h in heads), len(heads),
        median_spread=norms["norm_spread"]["q50"], q10_spread=norms["norm_spread"]["q10"], q90_spread=norms["norm_spread"]["q90"],
        median_key_bias_ratio=norms["key_bias_ratio"]["q50"], q90_key_bias_ratio=norms["key_bias_ratio"]["q90"],
        median_euclidean_spread=norms["euclidean_norm_spread"]["q50"]))

    for key, label in (("W1 W2 (activation ignored)", "ignoring the activation (M_ff = W1 W2)"),
                       ("W1 diag(mean act') W2 (mean Jacobian on the text)", "as the mean Jacobian on the text")):
        ffn = [r["ffn"][key] for r in layers]
        short = "ffn-ignored" if key.startswith("W1 W2") else "ffn-jacobian"
        out.append(_finding(
            f"{short}-symmetric", f"every FFN's linear map, {label}, is symmetric", sum(f["asymmetry"] <= exact for f in ffn), len(ffn),
            least_asymmetry=min(f["asymmetry"] for f in ffn), median_asymmetry=_median([f["asymmetry"] for f in ffn])))
        alone = [f["lmin_I_plus_sym"] for f in ffn]
        residual = [f["lmin_2I_plus_sym"] for f in ffn]
        out.append(_finding(
            f"{short}-descent", f"every FFN, {label}, meets lmin(I + sym(M_ff)) >= 0 (FF-DESCENT with the FFN alone as the layer)",
            sum(v >= 0 for v in alone), len(alone), worst=min(alone), worst_layer=alone.index(min(alone)),
            residual_holds_for=sum(v >= 0 for v in residual), residual_worst=min(residual),
            lmin=[f["lmin"] for f in ffn], lmax=[f["lmax"] for f in ffn]))

    variants = report["descent"]["variants"]
    statements = {
        "sym": "every head's actual update X -> X + head(X) never raises E_att with W = sym(s Wq Wk^T)",
        "psd": "every head's actual update never raises E_att with W = the PSD part W+ of sym(s Wq Wk^T)",
        "compatible": "the nearest descent-compatible head's update X -> X + c+ softmax(X W+ X^T) X never raises E_att(W+)",
        "sym-step": "every head's update in step form (X + head(X)) / (1 + c) never raises E_att with W = sym(s Wq Wk^T)",
        "psd-step": "every head's update in step form never raises E_att(W+)",
        "compatible-step": "the nearest descent-compatible head in step form, T_a X with the plain softmax, never raises E_att(W+)",
        "mm-control": "control: the exact MM step D^-1 B X (key-biased softmax, W+) never raises E_att(W+)",
    }
    for name, statement in statements.items():
        counts = variants[name]
        out.append(_finding(f"descent-{name}", statement, counts["lowers"] + counts["unchanged"], counts["cases"],
                            lowers=counts["lowers"], unchanged=counts["unchanged"], raises=counts["raises"],
                            undecided=counts["undecided"], median_relative_change=report["descent"]["relative_change"][name]["q50"]))

    rep = report["replacement"]
    small = sum(h["replacement"]["layer_change"]["max"] <= CHANGE_THRESHOLD for h in heads)
    out.append(_finding(
        "replacement", f"replacing any one head by its nearest descent-compatible head changes the layer output by at most "
        f"{CHANGE_THRESHOLD:.0%} on every sentence", small, len(heads), threshold=CHANGE_THRESHOLD,
        median_change=rep["layer_change"]["q50"], q90_change=rep["layer_change"]["q90"], max_change=rep["layer_change"]["max"],
        median_attention_change=rep["attention_change"]["q50"], median_all_heads_change=rep["all_heads_layer_change"]["q50"],
        max_all_heads_change=rep["all_heads_layer_change"]["max"]))

    depth = report["depth"]
    out.append(_finding(
        "depth", "the model's energy (mean over all heads of E_att(W+) / n^2) falls at every sublayer on real text",
        depth["sublayer_steps_lowering"], depth["sublayer_steps"], sentences_lower_at_end=depth["sentences_lower_at_end"],
        attention_steps_lowering=depth["attention_steps_lowering"], ffn_steps_lowering=depth["ffn_steps_lowering"],
        steps_per_kind=depth["sublayer_steps"] // 2,
        sentences=meta["sentences"], median_start=depth["total"]["q50"][0], median_end=depth["total"]["q50"][-1],
        median_min=min(depth["total"]["q50"]), median_min_at=depth["states"][depth["total"]["q50"].index(min(depth["total"]["q50"]))]))
    return out


def tolerance_of_one(d: int) -> float:
    """A relative quantity that is exactly 0 in exact arithmetic is 0 up to SAFETY eps sqrt(d) in float64."""
    return tolerance(torch.float64, 1.0, d)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
