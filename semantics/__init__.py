"""Exact reference semantics: enumeration of finite programs, finite measures, validation tools."""
from semantics.calibration import CalibrationReport, check_calibration, posterior_draws, simulation_based_calibration
from semantics.constraint_contract import ConstraintReport, check_constraint
from semantics.enumerating_rng import EnumeratingRng, Outcome, explore
from semantics.exact import Exact, WeightedExecution, enumerate
from semantics.exact_checks import (CheckFailed, StationarityReport, WeightingReport, check_proper_weighting,
                                    check_stationary, check_unbiased)
from semantics.measure import FiniteMeasure, kl_divergence, total_variation

__all__ = ["CalibrationReport", "CheckFailed", "ConstraintReport", "EnumeratingRng", "Exact", "FiniteMeasure", "Outcome", "StationarityReport",
           "WeightedExecution", "WeightingReport", "check_constraint", "check_proper_weighting", "check_stationary",
           "check_unbiased", "enumerate", "explore", "kl_divergence", "posterior_draws",
           "simulation_based_calibration", "total_variation", "check_calibration"]
