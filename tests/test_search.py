"""The search behind check_descent / check_equivalence on a researcher's own code (issue 12):
volume (vmap, batches, a loop when neither works), weights drawn with the inputs, the gradient
climb, realistic sizes, honest outcomes (errors raise, uninformative searches say so, NaN is not
overflow) and replay. Searches here are fixed-size (`max_examples`), so they are the same on
every machine; the timed defaults are measured in `python -m verify.running.falsification`."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import verify
from verify import draw


def quadratic(Y, W):
    """E(Y) = (1/2) tr(Y W Y^T)."""
    return 0.5 * ((Y @ W) * Y).sum((-2, -1))


def gradient_step(Y, W, a):
    """Y - a grad E(Y) = Y - a Y W: a descent step on E iff a * lmax(W) <= 2."""
    return Y - a * (Y @ W)


def weighted(a_high: float, w_low: float = 0.0) -> draw.CaseDescription:
    return draw.cases(n=(2, 5), d=(2, 4), Y=draw.tokens(), W=draw.spectrum(w_low, 1.0), a=draw.uniform(0.0, a_high))


def test_weights_drawn_with_the_inputs_hold_and_refute():
    """For every W with spectrum in [0, 1] and a in [0, 2] the step descends; a up to 2.5 breaks it,
    and the counterexample carries Y, W and a, inside the declared domain."""
    holds = verify.check_descent(gradient_step, quadratic, cases=weighted(2.0), max_examples=4096)
    assert holds.status == "holds", str(holds)
    assert holds.engines["sweep"] == 4096 and "vmap" in holds.note
    broken = verify.check_descent(gradient_step, quadratic, cases=weighted(2.5), max_examples=4096)
    assert broken.status == "refuted", str(broken)
    case = broken.counterexample
    assert set(case) == {"Y", "W", "a"}
    W, a = case.tensor("W"), case.number("a")
    lmax = float(torch.linalg.eigvalsh(W).max())
    assert 0.0 <= a <= 2.5 and torch.equal(W, W.mT) and float(torch.linalg.eigvalsh(W).min()) >= -1e-12
    assert a * lmax > 2, "the shrunk case must still break the only way this step can fail"
    Y = case.tensor("Y")
    assert float(quadratic(gradient_step(Y, W, a), W)) > float(quadratic(Y, W))  # both sides, recomputed here


def test_energy_need_not_take_the_step_size():
    """Each function gets the weights its signature names (the energy has no `a`)."""
    verdict = verify.check_descent(gradient_step, quadratic, cases=weighted(2.0), max_examples=256)
    assert verdict.status == "holds"


def test_the_climb_finds_what_sampling_misses():
    """a in [0, 2.0004] and lmax(W) in [0, 1]: a case fails only when a > 2 / lmax, about 1e-8 of
    the draws. The sweep's 2048 cases miss it; the climb from the nearest ones (pushing a and W's
    top eigenvalue to their bounds, projected back each step) does not."""
    verdict = verify.check_descent(gradient_step, quadratic, cases=weighted(2.0004), max_examples=2048)
    assert verdict.status == "refuted", str(verdict)
    assert "found by the gradient climb" in verdict.note
    case = verdict.counterexample
    assert case.number("a") <= 2.0004 and float(torch.linalg.eigvalsh(case.tensor("W")).max()) <= 1.0 + 1e-12


def _mean_subtract(Y):
    """Written for one (n, d) matrix: over a batch, mean(0) would average across cases, not tokens."""
    return 0.5 * (Y - Y.mean(0))


def _norm2(Y):
    return (Y * Y).sum()


def _item_step(Y):
    return Y * (0.5 if float(Y.abs().sum()) > 0 else 1.0)  # float(): not vmap-able


@pytest.mark.parametrize(("step", "mode"), [(_mean_subtract, "vmap"), (_item_step, "case by case")])
def test_functions_written_for_one_matrix_are_judged_per_case(step, mode):
    """A function that runs on a batch but means something else there is not called on batches."""
    verdict = verify.check_descent(step, _norm2, max_examples=512)
    assert verdict.status == "holds" and mode in verdict.note, str(verdict)
    assert verdict.examples >= 500


def test_batched_call_checked_against_one_case_calls():
    """Not vmap-able and wrong on a batch: found out on the first batch, so judged case by case."""

    def step(Y):
        shift = Y.mean(0) if float(Y.sum()) == float(Y.sum()) else 0.0  # float(): vmap refuses it
        return 0.5 * (Y - shift)

    verdict = verify.check_descent(step, lambda Y: (Y * Y).sum(), max_examples=256)
    assert verdict.status == "holds" and "case by case" in verdict.note, str(verdict)


def test_user_error_raises_with_its_case():
    """A fixed-width layer meeting the default widths raises, chained, naming the case."""
    weight = torch.eye(3, dtype=torch.float64)
    with pytest.raises(verify.UserCodeError, match=r"step or energy raised RuntimeError on the case Y \(") as info:
        verify.check_descent(lambda Y: Y @ weight, lambda Y: (Y * Y).sum(), max_examples=64)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_real_counterexample_is_not_hidden_by_an_error_elsewhere():
    """The step raises on one-token inputs and breaks descent on the others: refuted, and the note
    names the error."""

    def step(Y):
        if Y.shape[0] == 1:
            raise ValueError("needs two tokens")
        return 1.5 * Y

    verdict = verify.check_descent(step, lambda Y: (Y * Y).sum(), max_examples=256)
    assert verdict.status == "refuted", str(verdict)
    assert verdict.counterexample.shape[0] >= 2
    assert "also: the step or energy raised ValueError" in verdict.note


def test_declared_domain_errors_are_undecided_and_counted():
    def step(Y):
        if Y.shape[0] == 1:
            raise ArithmeticError("one token")
        return 0.5 * Y

    verdict = verify.check_descent(step, lambda Y: (Y * Y).sum(), max_examples=256, domain_errors=(ArithmeticError,))
    assert verdict.status == "holds"
    assert sum(n for reason, n in verdict.undecided.items() if reason.startswith("domain error: ArithmeticError")) > 0


def test_nan_is_not_overflow():
    nan = verify.check_descent(lambda Y: Y, lambda Y: (Y * Y).sum() * float("nan"), max_examples=64)
    inf = verify.check_descent(lambda Y: Y, lambda Y: (Y * Y).sum() * float("inf") + 1.0, max_examples=64)
    assert any(reason.startswith("NaN") for reason in nan.undecided), nan.undecided
    assert any("overflow" in reason for reason in inf.undecided), inf.undecided
    assert not any("overflow" in reason for reason in nan.undecided)


def test_an_uninformative_search_says_so():
    """The identity step meets descent with equality everywhere: 0 informative cases, a warning.
    A strict descent is informative on every nonzero case (Hypothesis draws many zeros)."""
    idle = verify.check_descent(lambda Y: Y, lambda Y: (Y * Y).sum(), max_examples=512)
    assert idle.holds and idle.informative == 0 and "warning: 0 informative cases" in str(idle)
    real = verify.check_descent(lambda Y: 0.5 * Y, lambda Y: (Y * Y).sum(), max_examples=512)
    assert real.holds and real.informative > 0.5 * real.examples and "warning" not in real.note


def test_realistic_sizes_run_without_health_check_failures():
    """n up to 512, d up to 1024: drawn from a seed, so Hypothesis shrinks seeds, not entries."""
    verdict = verify.check_descent(lambda Y: 0.5 * Y, lambda Y: (Y * Y).sum(), verify.token_inputs(n=(16, 64), d=(100, 100)),
                                   max_examples=20)
    assert verdict.status == "holds" and verdict.examples == 20, str(verdict)
    big = verify.check_descent(lambda Y: 0.5 * Y, lambda Y: (Y * Y).sum(), cases=draw.cases(n=(512, 512), d=(1024, 1024)),
                               max_examples=3)
    assert big.status == "holds" and big.examples >= 3, str(big)


class AuthorsAttention(torch.nn.Module):
    """The energy-curve attention layer of Yang, Huang and Wipf's code, as a user would bring it: a
    module for one (n, d) matrix, W = V^T V in the softmax, the energy in V's metric and under
    torch.no_grad (so not differentiable), pairs indexed explicitly (written here from the paper's
    formulas: E(Y) = sum_{i>j} -exp(-||(y_i - y_j) V||^2 / 2) + ||Y V||^2 / 2)."""

    def __init__(self, d: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.V = torch.nn.Parameter(torch.randn(d, d, generator=g, dtype=torch.float64) * (2.0 / (2 * d)) ** 0.5)

    def forward(self, Y):
        return torch.softmax(Y @ (self.V.t() @ self.V) @ Y.t(), -1) @ Y

    def energy(self, Y):
        with torch.no_grad():
            Z = Y @ self.V
            i, j = torch.tril_indices(Z.size(0), Z.size(0), -1)
            return -torch.exp(-0.5 * ((Z[i] - Z[j]) ** 2).sum(-1)).sum() + 0.5 * (Z**2).sum()


def test_the_authors_attention_layer_at_their_size_is_refuted():
    """n = 16 to 64, d = 100: the plain softmax step is not a descent step on their energy."""
    layer = AuthorsAttention(100)
    verdict = verify.check_descent(layer, layer.energy, cases=draw.cases(n=(16, 64), d=(100, 100)), max_examples=256)
    assert verdict.status == "refuted", str(verdict)
    Y = verdict.counterexample
    assert 16 <= Y.shape[0] <= 64 and Y.shape[1] == 100
    with torch.no_grad():
        assert float(layer.energy(layer(Y))) > float(layer.energy(Y))
    assert "not differentiable" in verdict.note


def test_opaque_strategy_climbs_only_inside_a_declared_domain():
    """A Hypothesis strategy is opaque: with `domain` (here a predicate: every entry in [-1, 1]) the
    climb runs from Hypothesis's nearest cases and reports only cases the predicate accepts. The
    step fails only outside that box, so the climb (which walks out of it) must report nothing."""
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    inputs = arrays("float64", (3, 2), elements=st.floats(-1, 1)).map(torch.from_numpy)

    def step(Y):  # shrinks Y inside the box; grows it once an entry leaves [-1, 1]
        return Y * (0.5 + 10.0 * torch.relu(Y.abs().max() - 1.0))

    verdict = verify.check_descent(step, lambda Y: (Y * Y).sum(), inputs, max_examples=50,
                                   domain=lambda Y: bool(Y.abs().max() <= 1.0))
    assert verdict.status == "holds", str(verdict)
    assert verdict.engines.get("climb", 0) > 0 or "no climbed case stayed in the domain" in verdict.note
    free = verify.check_descent(step, lambda Y: (Y * Y).sum(), inputs, max_examples=50)
    assert free.status == "holds" and "climb" not in free.engines  # no domain declared: no climb


def test_import_stays_light():
    """`import verify` loads neither cvxpy nor torch._dynamo (the solvers load when a certificate
    needs them)."""
    code = "import sys, verify; print(sorted(m for m in ('cvxpy', 'torch._dynamo', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cuda_search_agrees_with_the_cpu(dtype):
    """On CUDA the same fixed-size search gives the same verdicts; a counterexample comes back to the
    CPU in float64 and fails there too."""
    for a_high, status in ((2.0, "holds"), (2.5, "refuted")):
        verdicts = [verify.check_descent(gradient_step, quadratic, cases=weighted(a_high), max_examples=4096,
                                         dtype=dtype, device=device) for device in ("cpu", "cuda")]
        assert [v.status for v in verdicts] == [status, status], [str(v) for v in verdicts]
    case = verdicts[1].counterexample
    assert case.tensor("Y").device.type == "cpu" and case.tensor("Y").dtype == torch.float64
    Y, W, a = case.tensor("Y"), case.tensor("W"), case.number("a")
    assert float(quadratic(gradient_step(Y, W, a), W)) > float(quadratic(Y, W))


def _gram_energy(Y):
    """sum_ij -exp(-||y_i - y_j||^2 / 2) with the distances from the Gram matrix: at offsets of 1e3
    and more they cancel, carrying about 1e6 eps, an error no tolerance on Y, E and grad E sees."""
    G = Y @ Y.T
    q = G.diagonal()
    return -torch.exp(-(q[:, None] + q[None, :] - 2 * G) / 2).sum()


def _mm_step(Y):
    """(1 - a) Y + a softmax(-dist2 / 2) Y with a = 2, W = I: a descent step on that energy (spec ATT-DESCENT)."""
    d2 = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    return -Y + 2 * (torch.softmax(-d2 / 2, -1) @ Y)


def test_a_true_claim_does_not_fail_through_the_functions_own_rounding(monkeypatch):
    """Tokens at scales 1e2 to 1e4: the Gram energy's rounding exceeds the tolerance; each failing case
    is re-evaluated at inputs perturbed by eps, and a failure within that measured noise is left
    undecided, so the true claim holds. Without the probe the same search 'refutes' it."""
    cases = draw.cases(n=(2, 5), d=(1, 3), Y=draw.tokens(scale=(1e2, 1e4)))
    probed = verify.check_descent(_mm_step, _gram_energy, cases=cases, seed=0, max_examples=20000)
    assert probed.status == "holds", str(probed)
    assert any(reason.startswith("within the functions' own rounding noise") for reason in probed.undecided)
    from verify.running import check

    monkeypatch.setattr(check, "NOISE_FACTOR", 0.0)
    unprobed = verify.check_descent(_mm_step, _gram_energy, cases=cases, seed=0, max_examples=20000)
    assert unprobed.status == "refuted"
    size = float(unprobed.counterexample.abs().max())
    assert abs(unprobed.worst.margin) < 10 * size**2 * torch.finfo(torch.float64).eps  # the Gram's rounding, no more
