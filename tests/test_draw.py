"""One description, two backends: for every claim and every ablation, the Hypothesis strategy and
the torch sampler draw the same kinds of case and meet the same assumption predicates."""

import pytest
import torch
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

from verify.draw.source import Description, TorchSource
from verify.model.claim import scopes
from verify.running.registry import registry

SCOPES = [s for claim in registry().values() for s in scopes(claim)]
EXAMPLES, BATCHES, BATCH = 60, 48, 32


def labels_of_both(description: Description) -> tuple[frozenset, frozenset]:
    """The kinds (site, label) each backend drew from, over EXAMPLES Hypothesis cases and BATCHES
    sampled batches (sizes and names such as rho are shared within a batch, as in the sweep)."""
    seen: set = set()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(description.labelled_strategy())
    def collect(drawn):
        seen.update(drawn[1])

    collect()
    sampled = frozenset().union(*(description.labelled_sample(torch.Generator().manual_seed(k), BATCH)[1] for k in range(BATCHES)))
    # a kind the first examples happened to miss: Hypothesis must still be able to draw it
    seen.update(label for label in sampled - seen if reaches(description, label))
    return frozenset(seen), sampled


def reaches(description: Description, label: tuple[str, str]) -> bool:
    """Whether Hypothesis draws a case of this kind within 2000 examples."""
    try:
        find(description.labelled_strategy(), lambda drawn: label in drawn[1],
             settings=settings(max_examples=2000, phases=[Phase.generate], database=None, derandomize=True,
                               suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return False
    return True


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: s.label)
def test_both_backends_draw_the_same_kinds(scope):
    by_hypothesis, by_sampler = labels_of_both(scope.description)
    assert by_hypothesis == by_sampler, (
        f"only Hypothesis: {sorted(by_hypothesis - by_sampler)}; only the sampler: {sorted(by_sampler - by_hypothesis)}")


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: s.label)
def test_both_backends_meet_the_same_predicates(scope):
    """The main scope's cases meet every assumption as drawn; an ablation's cases fit its scope
    (the dropped assumption broken, the others kept) often enough to search, from both backends."""
    sampled = scope.sample(torch.Generator().manual_seed(1), 512)
    fits = scope.fits(sampled)
    drawn = []

    @settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(scope.description.strategy())
    def collect(case):
        drawn.append(scope.fits_one(case))

    collect()
    if scope.dropped is None:
        assert bool(fits.all()) and all(drawn), f"{int((~fits).sum())} sampled and {drawn.count(False)} drawn cases break an assumption"
    else:
        assert float(fits.double().mean()) >= 0.2 and sum(drawn) >= 0.2 * len(drawn), (float(fits.double().mean()), sum(drawn))


def test_a_planted_mismatch_is_caught(monkeypatch):
    """A sampler that never draws a mixture's last kind (a drifted twin) fails the kinds test."""
    real = TorchSource._per_case

    def drifted(self, count, weights):
        return real(self, count, weights).clamp_max(max(count - 2, 0))

    monkeypatch.setattr(TorchSource, "_per_case", drifted)
    scope = registry()["ATT-DESCENT"].scope()
    by_hypothesis, by_sampler = labels_of_both(scope.description)
    assert by_hypothesis != by_sampler
    assert ("psd spectrum", "ill-conditioned") in by_hypothesis - by_sampler


def test_unknown_parameter_and_kind_are_named():
    claim = registry()["ATT-DESCENT"]
    with pytest.raises(TypeError, match="has no parameter wieght"):
        claim.cases.with_params(wieght="psd")
    with pytest.raises(ValueError, match="weight kind must be one of"):
        claim.cases.with_params(weight="psdd").sample(torch.Generator().manual_seed(0), 4)
    with pytest.raises(ValueError, match="token kind must be one of"):
        claim.cases.with_params(tokens="free+nope").sample(torch.Generator().manual_seed(0), 4)


def test_descriptions_sample_on_the_generator_device():
    scope = registry()["LAYER-BLOCK-EQUIV"].scope()
    batch = scope.sample(torch.Generator("cpu").manual_seed(0), 8)
    assert all(v.device.type == "cpu" for v in batch.values() if isinstance(v, torch.Tensor))
    assert batch.size == 8 and bool(scope.fits(batch).all())
