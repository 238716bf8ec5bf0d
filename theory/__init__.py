"""Theory of the hierarchical model: finite-size (resolvent) predictions for Algorithm 1 (MODEL.md section 4).

A one-way pipeline: label law (Gaussian-equivalent, or the Hermite W-law) -> bulk (Stieltjes transform, edges)
-> spikes (outliers and overlaps) -> selection (the d1 largest |eigenvalues|) -> outcome (cos^2, q_h, MSE,
thresholds), then the consumers that compare it with data. `PIPELINE` lists the modules in that order, one line
each (module, layer, what it computes); every module imports only modules listed before it
(tests/theory/test_pipeline.py), and its docstring states its layer. A new input model adds its law, bulk or
spike module in its layer; a new estimator of an existing law extends that law's module.
"""

LAYERS = ("closed forms", "label law", "bulk", "spikes", "selection", "outcome", "consumer")

PIPELINE = (
    ("asymptotics", "closed forms", "the paper's naive thresholds, scaling forms and readout error (no finite-size theory)"),
    ("label_laws", "label law", "LabelLaw (atoms of w with the spike moments), the Gaussian-equivalent law, signed lambda"),
    ("hermite_law", "label law", "the Hermite model's radial W-law, both estimators"),
    ("resolvent", "bulk", "Silverstein's equation: Stieltjes transform, density, edges and outer cells of the bulk"),
    ("remainder", "bulk", "the Hermite model's remainder M (M1) and the coefficients it is built from"),
    ("hermite_bulk", "bulk", "the Hermite model's bulk with M: Silverstein-Bai (M2), edges and outer cells"),
    ("kronecker_spread", "bulk", "the sample G's spread of the paper estimator's Kronecker-sum part of M, (K1)-(K2)"),
    ("spikes", "spikes", "outliers and overlaps of the Gaussian-equivalent model, (S1)-(S2)"),
    ("hermite_signal", "spikes", "E[C] of the Hermite model, (H1)"),
    ("hermite_spikes", "spikes", "outliers and overlaps of the Hermite model with M, (M3)-(M4)"),
    ("tails", "spikes", "single-sample outliers of heavy-tailed label weights, (T1)-(T2)"),
    ("selection", "selection", "Algorithm 1's d1 largest-|eigenvalue| selection, soft or hard"),
    ("spectral_measure", "selection", "the selection read off spectral measures (rule 'measure', Hermite model)"),
    ("extreme_samples", "selection", "the separated extreme samples as explicit spikes (rule 'extremes', Hermite model)"),
    ("anisotropic_bulk", "selection", "the outer bulk's anisotropic correction for rule 'extremes' (exact M_perp), (A1)"),
    ("ge_finite", "outcome", "one n of the Gaussian-equivalent model: bulk, outliers, selection, cos^2"),
    ("hermite_finite", "outcome", "one n of the Hermite model: law, M, bulk, outliers, selection"),
    ("finite_size", "outcome", "predict: every n, every input model; Prediction, MSE, finite-size thresholds"),
    ("crossing", "outcome", "n at which a curve first crosses a level"),
    ("per_seed", "outcome", "seed means of the per-teacher predictions and their thresholds"),
    ("thresholds", "consumer", "empirical per-direction thresholds of a results table beside the predicted ones"),
    ("checks", "consumer", "the paper's theorems checked on a results table, one verdict each"),
    ("inverse", "consumer", "gamma and |lambda_i| estimated from the outliers of one C"),
    ("compare", "consumer", "predicted against simulated first-layer overlaps (plain numpy simulations)"),
)

from .finite_size import Prediction, finite_size_thresholds, mse_from_overlaps, predict  # noqa: E402
from .per_seed import predict_seeds, seed_mean_thresholds  # noqa: E402
from .hermite_signal import hermite_signal_matrix  # noqa: E402
from .inverse import SpectrumEstimate, estimate_from_result, estimate_spectrum  # noqa: E402
from .label_laws import LabelLaw, atom_law, label_law  # noqa: E402
from .resolvent import bulk_edges, density, stieltjes  # noqa: E402
from .spikes import outliers, overlap, spike_strength  # noqa: E402

from . import asymptotics, checks, thresholds  # noqa: E402  (after the above: checks and thresholds import them)

__all__ = ["PIPELINE", "LAYERS", "asymptotics", "checks", "thresholds", "Prediction", "predict", "predict_seeds",
           "seed_mean_thresholds", "finite_size_thresholds", "mse_from_overlaps", "SpectrumEstimate",
           "estimate_spectrum", "estimate_from_result", "LabelLaw", "atom_law", "label_law", "stieltjes", "density",
           "bulk_edges", "outliers", "overlap", "spike_strength", "hermite_signal_matrix"]
