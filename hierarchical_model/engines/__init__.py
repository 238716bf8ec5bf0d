"""Layer-1 engines: optimisations of Algorithm 1, step 1 (MODEL.md section 2; the reference is `algorithm1`),
C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D) and its top-|eigenvalue| pairs, behind one protocol
(`layer1.Layer1Engine.top_eigenpairs`). Files by idea:

    sources        the samples in fixed-size masked batches (a teacher's stream, or user arrays)
    labels         the label transform T(y)
    dense_kernels  the sufficient statistics of C per batch (float32 GEMMs, float64 sums)
    dense          the dense engine: C accumulated along a nested grid, solved by linalg.dense_top
    matrix_free    the matrix-free engine: V -> C V streamed, solved by linalg.block_krylov_eigsh
    linalg         top-|eigenvalue| solvers on a matrix or any operator, with their residuals
    chaos          the chaos estimator's correction G (+) G (HERMITE.md section 2)
    layer1         the protocol, engine choice and construction
"""

from .chaos import ESTIMATORS, check_estimator, kronecker_sum_apply, kronecker_sum_matrix
from .dense import DenseAccumulator, DenseEngine
from .dense_kernels import dense_bytes, dense_kernel
from .labels import LABEL_TRANSFORMS, LabelTransform
from .layer1 import DENSE_MAX_D, ENGINES, Layer1Engine, default_memory_gb, engine_batch_chunks, make_engine, resolve_engine
from .linalg import ConvergenceWarning, EigenInfo, block_krylov_eigsh, dense_block_krylov, dense_top, top_by_magnitude
from .matrix_free import MatrixFreeEngine, matrix_free_operator
from .sources import ArraySource, StreamSource, choose_batch_chunks, matrix_free_batch_chunks

__all__ = ["StreamSource", "ArraySource", "choose_batch_chunks", "matrix_free_batch_chunks", "engine_batch_chunks", "LabelTransform", "LABEL_TRANSFORMS", "dense_kernel",
           "dense_bytes", "DenseAccumulator", "DenseEngine", "matrix_free_operator", "MatrixFreeEngine",
           "block_krylov_eigsh", "dense_block_krylov", "dense_top", "EigenInfo", "ConvergenceWarning", "top_by_magnitude",
           "ESTIMATORS", "check_estimator", "kronecker_sum_apply", "kronecker_sum_matrix", "Layer1Engine", "make_engine",
           "resolve_engine", "default_memory_gb", "ENGINES", "DENSE_MAX_D"]
