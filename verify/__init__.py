"""verify: property-based verification of energy interpretations of Transformer layers.

    verify.registry()                     {claim_id: Claim}, properties/ loaded
    verify.run(...)                       every claim searched, a RunResult
    verify.check_descent(step, energy)    does the layer lower the energy?
    verify.check_equivalence(f, g)        are two layers the same function?
    verify.check_gradient_step(step, energy)  is the layer Y - t grad E(Y)?
    verify.energy_curve(layers, energies, inputs)  energy per depth
"""

from verify.case import Case
from verify.check import GradientStepVerdict, check_descent, check_equivalence, check_gradient_step, token_inputs
from verify.claims import Claim, registry
from verify.curves import EnergyCurve, energy_curve
from verify.runner import RunResult, run
from verify.verdict import Verdict

__all__ = [
    "Case",
    "Claim",
    "EnergyCurve",
    "GradientStepVerdict",
    "RunResult",
    "Verdict",
    "check_descent",
    "check_equivalence",
    "check_gradient_step",
    "energy_curve",
    "registry",
    "run",
    "token_inputs",
]
