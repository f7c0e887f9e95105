"""The checkpoint audit (issue 15) on a tiny BERT-style checkpoint built here, with planted heads.

Needs the audit packages (transformers, safetensors, tokenizers: the test extra carries them);
skipped with the reason without them. The planted weights (layer 0: a head with Wk = Wq, so
s Wq Wk^T is symmetric PSD, and a head with Wk = Wq D, D = diag(+-1), symmetric indefinite;
layer 1: Wv Wo = c I for the layer's summed value-output map) give metrics known in advance.
"""

import dataclasses
import json
import math
import subprocess
import sys

import pytest
import torch

pytest.importorskip("transformers", reason="the audit extra (transformers) is not installed")
pytest.importorskip("safetensors", reason="the audit extra (safetensors) is not installed")
pytest.importorskip("tokenizers", reason="the audit extra (tokenizers) is not installed")

import verify  # noqa: E402
from verify.running.audit.agreement import Agreement  # noqa: E402
from verify.running.audit.checkpoint import CheckpointError, MissingExtra, find_model, load_checkpoint, require, tokenize  # noqa: E402
from verify.running.audit.metrics import asymmetry, scalar_fit, scalar_floor, spectrum, symmetric_factor  # noqa: E402
from verify.running.audit.reference import reference_forward  # noqa: E402
from verify.running.audit.sentences import load_sentences  # noqa: E402

D, HEADS, K, LAYERS, WIDTH = 16, 2, 8, 2, 32
C_PLANTED = 0.3
WORDS = "the a cat dog sat ran on under mat tree big small red fast slowly why is it".split()
TEXTS = ["the cat sat on the mat", "a big red dog ran under the tree", "why is it", "the small cat ran fast",
         "a dog sat slowly on a mat under a big tree", "the cat is red"]


def _plant(model, torch_seed: int = 0) -> None:
    """Layer 0: head 0 key = query (PSD), head 1 key = D query (symmetric indefinite); layer 1: Wv Wo = c I."""
    gen = torch.Generator().manual_seed(torch_seed)
    with torch.no_grad():
        att0 = model.encoder.layer[0].attention.self
        att0.key.weight[:K] = att0.query.weight[:K]
        signs = torch.tensor([1.0, -1.0] * (K // 2))
        att0.key.weight[K:] = signs[:, None] * att0.query.weight[K:]
        att1 = model.encoder.layer[1].attention
        Wv = torch.linalg.qr(torch.randn(D, D, generator=gen))[0] + 0.5 * torch.eye(D)  # well conditioned
        att1.self.value.weight.copy_(Wv.T)
        att1.output.dense.weight.copy_((C_PLANTED * torch.linalg.inv(Wv)).T)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder with config.json, model.safetensors and tokenizer.json (padding on, as MiniLM ships it)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny") / "model"
    torch.manual_seed(0)
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    config = BertConfig(vocab_size=len(vocab), hidden_size=D, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                        intermediate_size=WIDTH, max_position_embeddings=32, hidden_act="gelu")
    model = BertModel(config, add_pooling_layer=False)
    for p in model.parameters():  # the default init has zero biases and unit gammas: make every part matter
        torch.nn.init.normal_(p, std=0.3) if p.ndim == 1 else torch.nn.init.normal_(p, std=0.5)
    _plant(model)
    try:
        model.save_pretrained(folder, safe_serialization=True)
    except TypeError:  # transformers >= 5 always writes safetensors
        model.save_pretrained(folder)
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer.enable_padding(length=20)
    tokenizer.save(str(folder / "tokenizer.json"))
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    return folder


@pytest.fixture(scope="module")
def report(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = verify.audit(tiny, texts=TEXTS, out=out)
    return result, out


def test_pipeline_writes_the_report_with_findings_first(report):
    result, out = report
    assert {p.name for p in result.paths} >= {"audit.md", "audit.json"}
    data = json.loads((out / "audit.json").read_text())
    ids = [f["id"] for f in data["findings"]]
    for fid in ("agreement", "qk-symmetric", "qk-psd", "vo-scalar-head", "vo-scalar-layer", "equal-norms",
                "ffn-ignored-descent", "ffn-jacobian-descent", "descent-sym", "descent-psd", "descent-compatible-step",
                "descent-mm-control", "replacement", "depth"):
        assert fid in ids
    md = (out / "audit.md").read_text()
    assert md.index("## Findings") < md.index("## Layer agreement") < md.index("## Per head")
    assert "refuted" in md and "holds" in md
    assert data["meta"]["sentences"] == len(TEXTS)
    if "audit_energy_depth.png" in {p.name for p in result.paths}:
        assert (out / "audit_energy_depth.png").stat().st_size > 1000


def test_layers_agree_with_the_reference_within_tolerance(report):
    data = report[0].data
    rows = data["agreement"]["layers"]
    assert [r["layer"] for r in rows] == ["embeddings", 0, 1]
    assert all(r["within_tolerance"] and r["cases"] > 0 for r in rows)
    assert max(r["worst_relative_error"] for r in rows) < 1e-13  # float64 end to end, same formulas
    assert data["findings"][0]["verdict"] == "holds"


def test_agreement_catches_a_wrong_norm_epsilon_and_a_wrong_activation(tiny):
    checkpoint = load_checkpoint(tiny)
    reference = reference_forward(checkpoint)
    sentence = tokenize(checkpoint.folder, TEXTS[:1], 32)[0]
    states = reference(sentence.ids, sentence.type_ids)
    encoder = checkpoint.encoder
    for wrong in (dataclasses.replace(encoder.config, eps=1e-5), dataclasses.replace(encoder.config, activation="gelu_new")):
        agreement = Agreement()
        agreement.add_sentence(dataclasses.replace(encoder, config=wrong), sentence, states)
        assert not all(r["within_tolerance"] for r in agreement.per_layer(LAYERS)), wrong


def test_planted_heads_give_the_planted_metrics(report, tiny):
    heads = {(h["layer"], h["head"]): h for h in report[0].data["heads"]}
    psd, indefinite = heads[(0, 0)], heads[(0, 1)]
    assert psd["asymmetry"] < 1e-12 and indefinite["asymmetry"] < 1e-12
    assert psd["sym"]["negative"] == 0 and psd["sym"]["psd_distance"] < 1e-12
    assert indefinite["sym"]["negative"] == K // 2 and indefinite["sym"]["positive"] == K // 2
    # the PSD distance the other way: from the planted matrix itself
    encoder = load_checkpoint(tiny).encoder
    layer = encoder.layers[0]
    M = encoder.config.scale * layer.Wq[1] @ layer.Wk[1].T
    lam = torch.linalg.eigvalsh((M + M.T) / 2)
    direct = math.sqrt(float((lam.clamp(max=0) ** 2).sum() / (lam**2).sum()))
    assert indefinite["sym"]["psd_distance"] == pytest.approx(direct, rel=1e-10)
    assert all(h["factor_check"]["inertia_equal"] and h["factor_check"]["psd_distance_difference"] < 1e-12 for h in heads.values())
    # layer 1: sum_h Wv_h Wo_h = c I, recovered by the layer's fit and by the heads' traces (the checkpoint
    # stores float32, so Wo = c Wv^-1 holds to float32 rounding only)
    layer1 = report[0].data["layers"][1]["value_output"]
    assert layer1["c"] == pytest.approx(C_PLANTED, rel=1e-6) and layer1["distance"] < 1e-6
    assert sum(heads[(1, h)]["value_output"]["c"] for h in range(HEADS)) == pytest.approx(layer1["c"], rel=1e-12)
    assert report[0].data["layers"][0]["value_output"]["distance"] > 0.1


def test_the_mm_control_never_rises_and_every_case_is_counted(report):
    data = report[0].data
    n_cases = len(TEXTS) * LAYERS * HEADS
    for name, counts in data["descent"]["variants"].items():
        assert counts["cases"] == n_cases
        assert counts["lowers"] + counts["unchanged"] + counts["raises"] + counts["undecided"] == n_cases, name
    assert data["descent"]["variants"]["mm-control"]["raises"] == 0


def test_metrics_computed_two_ways():
    gen = torch.Generator().manual_seed(1)
    d, k = 12, 4
    Wq, Wk = torch.randn(d, k, generator=gen, dtype=torch.float64), torch.randn(d, k, generator=gen, dtype=torch.float64)
    factor = symmetric_factor(Wq, Wk, 0.5)
    M = 0.5 * Wq @ Wk.T
    full, factored = spectrum((M + M.T) / 2), factor.spectrum()
    assert (full.positive, full.negative, full.zero) == (factored.positive, factored.negative, factored.zero) == (k, k, d - 2 * k)
    assert full.psd_distance == pytest.approx(factored.psd_distance, rel=1e-12)
    G = factor.psd_root()
    lam, U = torch.linalg.eigh((M + M.T) / 2)
    assert torch.allclose(G @ G.T, U @ torch.diag(lam.clamp(min=0)) @ U.T, atol=1e-12)
    assert asymmetry(M + M.T) == 0.0 and asymmetry(M) > 0.1
    A = torch.randn(d, d, generator=gen, dtype=torch.float64)
    planted = scalar_fit(-0.7 * A @ torch.linalg.inv(A))  # Wv Wo = c I with k = d: c recovered
    assert planted.c == pytest.approx(-0.7, rel=1e-12) and planted.distance < 1e-12
    low_rank = torch.randn(d, k, generator=gen, dtype=torch.float64) @ torch.randn(k, d, generator=gen, dtype=torch.float64)
    assert scalar_fit(low_rank).distance >= scalar_floor(k, d) - 1e-12


def test_tokenizer_padding_is_off_and_the_text_file_is_read(tiny):
    sentence = tokenize(tiny, ["the cat sat"], 32)[0]
    assert sentence.tokens == ("[CLS]", "the", "cat", "sat", "[SEP]")
    texts = load_sentences()
    assert len(texts) >= 300 and not any(t.startswith("#") for t in texts)
    assert load_sentences(5) == texts[:5]
    with pytest.raises(ValueError, match="sentences"):
        load_sentences(0)


def test_model_folder_is_found_or_named_in_the_error(tiny, tmp_path):
    assert find_model(tiny) == tiny
    assert find_model(tiny.parent) == tiny  # a package folder with the model one level down
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        find_model(tmp_path)
    with pytest.raises(CheckpointError, match="not a folder"):
        find_model(tmp_path / "absent" / "x")
    with pytest.raises(MissingExtra, match="extra 'audit'"):
        require("surely_not_an_installed_module_for_verify")


def test_cli_bad_folder_is_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "verify", "audit", "--model", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "--model" in out.stderr and "config.json" in out.stderr


def test_import_verify_does_not_import_the_audit_packages():
    code = "import sys, verify; print(sorted(m for m in ('transformers', 'safetensors', 'tokenizers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
