"""The sweep engine: batched checks agree with the one-case checks, samplers meet the
assumptions, sweep-found counterexamples are shrunk and replay, and the bench prints figures."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import DEVICES
from verify import registry, run
from verify.engines.sweep import judge_batch, sweep
from verify.model.case import Case
from verify.model.tolerance import Slacks, identity_slacks, inequality_slacks, worst, worst_slacks
from verify.running.bench import Row, scaling, throughput

CLAIMS = registry()
SWEPT = [c for c in CLAIMS.values() if c.batched]


def test_every_family_has_swept_claims():
    families = {c.family for c in SWEPT}
    assert {"ATT", "FF", "LAYER", "PAPER"} <= families, families


@pytest.mark.parametrize("claim", SWEPT, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_batched_check_agrees_with_one_case_check(claim, dtype):
    """Slacks of a batch of 12, case by case, equal the one-case check of each case (up to the
    rounding of batched versus single matrix products, far inside the tolerance)."""
    batch = claim.scope().sample(torch.Generator().manual_seed(3), 12).to(dtype)
    slacks = judge_batch(claim.scope(), batch)
    assert len(slacks) == 12
    for k in range(12):
        one = claim.judge(batch.unbatch(k))
        many = slacks.at(k)
        assert (one.undecided is None) == (many.undecided is None), (k, one, many)
        if one.undecided is None:
            assert one.ok == many.ok
            assert math.isclose(one.margin, many.margin, rel_tol=1e-3, abs_tol=4 * max(one.tol, many.tol)), (k, one, many)
            assert math.isclose(one.tol, many.tol, rel_tol=1e-6), (k, one, many)


@pytest.mark.parametrize(
    "claim_id, assumption",
    [("ATT-DESCENT", "sym(W) PSD"), ("ATT-DESCENT", "0 <= a <= 1, or <= 2 when B >= 0"), ("FF-DESCENT", "lmin(M) >= -1"),
     ("ATT-SOFTMAX-DESCENT", "equal W-norms q_i"), ("LAYER-BLOCK-EQUIV", "W2 = -t W1^T (tied FFN)")],
)
def test_sweep_finds_and_shrinks_spec_ablations(claim_id, assumption):
    claim = CLAIMS[claim_id]
    verdict = sweep(claim.scope(assumption), 20_000, seed=11)
    assert verdict.status == "refuted", verdict
    case = verdict.counterexample
    assert isinstance(case, Case)
    assert claim.scope().broken(case) == [assumption]
    slack = claim.judge(case)  # what the replay command runs
    assert slack.undecided is None and not slack.ok
    assert verdict.replay is not None and verdict.replay.startswith(f"python -m verify replay {claim_id} ")


def test_sweep_is_deterministic_per_seed():
    claim = CLAIMS["ATT-SOFTMAX-DESCENT"]
    first = sweep(claim.scope("sym(W) PSD"), 20_000, seed=2)
    second = sweep(claim.scope("sym(W) PSD"), 20_000, seed=2)
    assert first.counterexample is not None
    assert first.counterexample.to_json() == second.counterexample.to_json()
    assert (first.examples, first.worst_slack) == (second.examples, second.worst_slack)


def test_sweep_holds_on_true_claim_and_counts_cases():
    verdict = sweep(CLAIMS["FF-DESCENT"].scope(), 10_000, seed=0, batch=3000)
    assert verdict.status == "holds"
    assert verdict.examples + sum(verdict.undecided.values()) == 10_000
    assert verdict.engines == {"sweep": verdict.examples}


def test_a_case_that_raises_is_undecided_alone():
    scope = CLAIMS["FF-DESCENT"].scope()
    batch = scope.sample(torch.Generator().manual_seed(0), 16)
    Y = batch.tensor("Y").clone()
    Y[5, 0, 0] = math.nan
    slacks = judge_batch(scope, Case(**{**batch, "Y": Y}))
    assert slacks.decided.tolist() == [k != 5 for k in range(16)]
    assert "check raised ValueError" in slacks.at(5).undecided


def test_bad_sweep_arguments_are_named():
    with pytest.raises(ValueError, match="cases"):
        sweep(CLAIMS["FF-DESCENT"].scope(), 0)
    with pytest.raises(ValueError, match="batch"):
        sweep(CLAIMS["FF-DESCENT"].scope(), 10, batch=0)
    with pytest.raises(ValueError, match="no batched check"):
        sweep(CLAIMS["FF-RELU-PROX"].scope(), 10)


def _random_slacks(g: torch.Generator, size: int) -> Slacks:
    lhs, rhs = torch.randn(size, generator=g, dtype=torch.float64), torch.randn(size, generator=g, dtype=torch.float64)
    lhs[::7] = math.inf  # some undecided
    return inequality_slacks(lhs, rhs, dtype=torch.float64, scale=torch.rand(size, generator=g, dtype=torch.float64))


def test_worst_slacks_is_worst_per_case():
    g = torch.Generator().manual_seed(0)
    a, b = _random_slacks(g, 50), _random_slacks(g, 50)
    c = identity_slacks(torch.randn(50, 3, generator=g, dtype=torch.float64), torch.randn(50, 3, generator=g, dtype=torch.float64))
    combined = worst_slacks(a, b, c)
    for k in range(50):
        assert combined.at(k) == worst(a.at(k), b.at(k), c.at(k))


@pytest.mark.parametrize("device", DEVICES)
def test_sweep_runs_on_each_device(device):
    verdict = sweep(CLAIMS["ATT-DESCENT"].scope(), 5000, device=device, dtype=torch.float32, seed=0)
    assert verdict.status == "holds" and verdict.examples > 4000


def test_bench_rows_have_the_design_fields():
    row = throughput("ATT-DESCENT", 4, 2, torch.float64, "cpu", sweep_cases=2000, hypothesis_cases=5, batch=1000)
    assert isinstance(row, Row)
    for name in ("sweep_cases_per_s", "hypothesis_cases_per_s", "raw_cases_per_s"):
        assert getattr(row, name) > 0
    assert row.sweep_over_hypothesis == pytest.approx(row.sweep_cases_per_s / row.hypothesis_cases_per_s)
    rows = scaling((8, 32), 4, torch.float32, "cpu")
    assert [r.n for r in rows] == [8, 32] and all(r.check_seconds > 0 for r in rows)


def test_run_counts_cases_per_engine():
    result = run("FF-DESCENT", dtypes=("float64",), max_examples=10, sweep_cases=3000, workers=1, certify=False)
    report = result.to_json()
    claim = report["claims"][0]
    assert claim["engines"]["sweep"] > 2900 and claim["engines"]["hypothesis"] == 10
    assert claim["cases"] == sum(claim["engines"].values())  # sweep, climb (the reference search) and Hypothesis
    lmin = next(a for a in claim["assumptions"] if a["name"] == "lmin(M) >= -1")
    assert lmin["needed"] is True and "sweep" in lmin["engines"]
    assert "(sweep 3,000, climb 16, hypothesis 10)" in result.to_markdown()


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
@pytest.mark.parametrize("claim", SWEPT, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_cpu_and_cuda_verdicts_agree(claim, dtype, device):
    """The same 256 cases judged on the CPU and on CUDA (TF32 off): the same cases are decided,
    the same ones hold, and the margins differ by less than the tolerance they are judged by."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    scope = claim.scope()
    batch = scope.sample(torch.Generator().manual_seed(9), 256)
    on_cpu = judge_batch(scope, batch.to(dtype, "cpu"))
    on_cuda = judge_batch(scope, batch.to(dtype, device))
    both = on_cpu.decided & on_cuda.decided.cpu()
    assert int(both.sum()) >= 0.9 * int(on_cpu.decided.sum())
    assert torch.equal(on_cpu.failing[both], on_cuda.failing.cpu()[both])
    gap = (on_cpu.margin - on_cuda.margin.cpu()).abs()[both]
    assert bool((gap <= 2 * torch.maximum(on_cpu.tol, on_cuda.tol.cpu())[both]).all()), float(gap.max())


def test_shrink_drops_tokens_and_features_and_rounds():
    """An indefinite-W failure of ATT-DESCENT drawn with n = d = 3 shrinks to one feature, two
    tokens and short numbers, still breaking only W PSD and still failing."""
    from verify.engines.shrink import shrink

    claim = CLAIMS["ATT-DESCENT"]
    g = torch.Generator().manual_seed(4)
    Y = 0.5 + torch.rand((3, 3), generator=g, dtype=torch.float64)
    case = Case(Y=Y, W=-1.37 * torch.eye(3, dtype=torch.float64), rho="neg_exp", a=0.73)
    slack = claim.judge(case)
    assert not slack.ok
    small, small_slack = shrink(claim.scope("sym(W) PSD"), case, slack)
    assert small.tensor("W").shape == (1, 1) and small.tensor("Y").shape == (2, 1), small
    assert not small_slack.ok and not claim.judge(small).ok
    assert claim.scope().broken(small) == ["sym(W) PSD"]
    assert all(len(repr(float(x))) <= 6 for x in small.tensor("Y").reshape(-1))
