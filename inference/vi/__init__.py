"""Programmable variational inference: objectives as programs, a gradient estimator per choice, optax fitting."""
from inference.vi.estimators import Estimator, EstimatorError, enumerate, reinforce, reparam  # noqa: A004
from inference.vi.fit import FitResult, fit
from inference.vi.gradients import Estimate, gradient
from inference.vi.objectives import elbo, iwae
from inference.vi.programs import GuideSample, log_density, sample_guide

__all__ = [
    "Estimate", "Estimator", "EstimatorError", "FitResult", "GuideSample", "elbo", "enumerate", "fit", "gradient",
    "iwae", "log_density", "reinforce", "reparam", "sample_guide",
]
