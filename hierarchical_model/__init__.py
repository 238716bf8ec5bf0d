"""The solvable hierarchical model of neural scaling laws at finite size: its target (teacher), Algorithm 1 (the
layer-wise spectral learner and its plain reference), the baselines and the per-run metrics (MODEL.md).

Importing the package changes nothing in the process: JAX's 64-bit mode, which the float64 sums need, is turned
on only for the duration of each call into the package (`_x64.float64`); products run in float32 by explicit casts.
"""

from .experiment import run, run_path
from .hermite import GaussianFeatures, HermiteFeatures, feature_dim, hermite_he
from .learner import HierarchicalSpectralLearner
from .links import Link, make_link
from .metrics import RunResult, first_layer_metrics, subspace_overlap
from .outcome import OUTCOME_FIELDS, Outcome, simulate
from .teacher import CHUNK, Teacher, TeacherConfig, latent_dim, spike_weights

__version__ = "0.1.0"

__all__ = ["run", "run_path", "simulate", "Outcome", "OUTCOME_FIELDS", "HermiteFeatures", "GaussianFeatures",
           "feature_dim", "hermite_he",
           "HierarchicalSpectralLearner", "Link", "make_link", "RunResult", "first_layer_metrics",
           "subspace_overlap", "Teacher", "TeacherConfig", "latent_dim", "spike_weights", "CHUNK", "__version__"]
