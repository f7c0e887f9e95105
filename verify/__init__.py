"""verify: property-based verification of energy interpretations of Transformer layers.

    verify.registry()                     {claim_id: Claim}, properties/ loaded
    verify.run(...)                       every claim searched, a RunResult
    verify.check_descent(step, energy)    does the layer lower the energy?
    verify.check_equivalence(f, g)        are two layers the same function?
    verify.check_gradient_step(step, energy)  is the layer Y - t grad E(Y)?
    verify.energy_curve(layers, energies, inputs)  energy per depth
    verify.replay(verdict)                re-judge a check's counterexample with its functions
    verify.draw                           the case building blocks, one description, two backends
    verify.audit(model_dir)               a trained checkpoint against the assumptions and energies

The package's layers, each using only those above it:
    model -> math -> draw -> engines -> proof -> running -> output -> cli
"""

from verify import draw
from verify.math.curves import EnergyCurve, energy_curve
from verify.model.case import Case
from verify.model.claim import Claim
from verify.model.verdict import Verdict
from verify.output.audit import AuditReport, audit
from verify.output.result import RunResult, run
from verify.running.check import (
    GradientStepVerdict,
    UserCodeError,
    check_descent,
    check_equivalence,
    check_gradient_step,
    replay,
    token_inputs,
)
from verify.running.registry import registry

__all__ = [
    "AuditReport",
    "Case",
    "Claim",
    "EnergyCurve",
    "GradientStepVerdict",
    "RunResult",
    "UserCodeError",
    "Verdict",
    "audit",
    "check_descent",
    "check_equivalence",
    "check_gradient_step",
    "draw",
    "energy_curve",
    "registry",
    "replay",
    "run",
    "token_inputs",
]
