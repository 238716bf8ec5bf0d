"""Generator and layer-wise spectral learner for the solvable hierarchical model of neural scaling laws.

The exact specification is MODEL.md. Importing this package turns on JAX's 64-bit mode: products run
in float32 by explicit casts, and long sums (the D x D accumulator, test errors) run in float64.
"""

import jax

jax.config.update("jax_enable_x64", True)

from .experiment import run, run_path  # noqa: E402
from .hermite import GaussianFeatures, HermiteFeatures, feature_dim, hermite_he  # noqa: E402
from .learner import HierarchicalSpectralLearner  # noqa: E402
from .links import Link, make_link  # noqa: E402
from .metrics import RunResult, first_layer_metrics, subspace_overlap  # noqa: E402
from .teacher import CHUNK, Teacher, TeacherConfig, latent_dim, spike_weights  # noqa: E402

__version__ = "0.1.0"

__all__ = ["run", "run_path", "HermiteFeatures", "GaussianFeatures", "feature_dim", "hermite_he",
           "HierarchicalSpectralLearner", "Link", "make_link", "RunResult", "first_layer_metrics",
           "subspace_overlap", "Teacher", "TeacherConfig", "latent_dim", "spike_weights", "CHUNK", "__version__"]
