"""Theory of the hierarchical model: finite-size (resolvent) predictions for Algorithm 1 (MODEL.md section 4)."""

from .finite_size import Prediction, finite_size_thresholds, mse_from_overlaps, predict
from .per_seed import predict_seeds, seed_mean_thresholds
from .hermite_signal import hermite_signal_matrix
from .inverse import SpectrumEstimate, estimate_from_result, estimate_spectrum
from .resolvent import LabelLaw, atom_law, bulk_edges, density, label_law, stieltjes
from .spikes import outliers, overlap, spike_strength

from . import asymptotics, checks, thresholds  # noqa: E402  (after the above: checks and thresholds import them)

__all__ = ["asymptotics", "checks", "thresholds", "Prediction", "predict", "predict_seeds", "seed_mean_thresholds", "finite_size_thresholds", "mse_from_overlaps", "SpectrumEstimate",
           "estimate_spectrum", "estimate_from_result", "LabelLaw", "atom_law", "label_law", "stieltjes", "density",
           "bulk_edges", "outliers", "overlap", "spike_strength", "hermite_signal_matrix"]
