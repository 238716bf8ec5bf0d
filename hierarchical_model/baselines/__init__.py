"""Shallow, non-adaptive baselines on the same data as the hierarchical learner (MODEL.md section 1, last
point: globally y is a degree-2q polynomial of x, so a method that does not learn features needs
n >> d^(2q) samples where the layer-wise learner needs n ~ d^q).

- `KernelRidge`: kernel ridge regression with a rotation-invariant kernel,
      rbf         k(x, x') = exp(-|x - x'|^2 / (2 h^2)),  h = median pairwise distance of the training inputs
                  (the median heuristic; the paper's baseline, on x and on the learned h1_hat)
      polynomial  k(x, x') = (1 + <x, x'> / d)^p          (p = 2q by default: it spans every degree-2q polynomial)
      gaussian    k(x, x') = exp(-|x - x'|^2 / (2 d))     (fixed bandwidth sqrt(d))
  f(x) = k(x, X) a,  a = (K + n r I)^(-1) y: the minimiser of (1/n) sum (y - f)^2 + r |f|_K^2, solved exactly
  while the n x n arrays fit the memory budget. Beyond it, the Nystrom approximation on m landmarks Z (the first
  m training samples): f(x) = k(x, Z) a,  a = (K_nZ^T K_nZ + n r K_ZZ)^(-1) K_nZ^T y, the same objective restricted
  to span{k(., z)}; K_nZ^T K_nZ is accumulated in batches, never forming the n x m matrix. ``solver_`` says which.
- `HermiteRidge`: ridge regression on all orthonormal Hermite features of x of degree 0..2q
  (`HermiteFeatures(d, k)` for k = 1..2q and a constant): the best linear estimator on a basis that holds
  the target exactly. The normal equations (P x P, P = sum_k C(d+k-1, k)) are accumulated in batches,
  never forming an n x P array; sizes whose P x P float64 arrays exceed the budget are refused.

All of them, and the hierarchical learner's `fit(X, y)`, choose the ridge r on the same held-out fifth of the
training samples (index % 5 == 4: the package's one validation split, `splits`), then refit on all of them: `run_baselines` gives every method exactly the
same n training samples. They follow the learner's fit / predict / evaluate interface.

Files: common (shared checks, ridge choice, batched predict), kernel_ridge, hermite_ridge, compare (run_baselines).
"""

from .common import DEFAULT_BUDGET_GB
from .compare import BASELINE_METHODS, run_baselines
from .hermite_ridge import HermiteRidge, hermite_basis_size
from .kernel_ridge import KERNELS, KernelRidge

__all__ = ["KernelRidge", "HermiteRidge", "KERNELS", "BASELINE_METHODS", "run_baselines", "hermite_basis_size",
           "DEFAULT_BUDGET_GB"]
