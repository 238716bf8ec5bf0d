"""Label transforms T(y) of Algorithm 1, step 1 (MODEL.md section 2): identity (the paper) or a saturating option."""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

__all__ = ["LabelTransform", "LABEL_TRANSFORMS"]

LABEL_TRANSFORMS = ("identity", "clip", "tanh")


@dataclass(frozen=True)
class LabelTransform:
    """T(y) of Algorithm 1, step 1: 'identity' (the paper), 'clip' (clip |y| at ``scale``) or
    'tanh' (the saturating map scale * tanh(y / scale)). ``scale`` is the ``quantile`` of |y| on a
    pilot of held-out samples (see `fit_scale`)."""

    kind: str = "identity"
    quantile: float = 0.99
    scale: float = math.inf

    def __call__(self, y):
        if self.kind == "identity":
            return y
        if self.kind == "clip":
            return jnp.clip(y, -self.scale, self.scale)
        return self.scale * jnp.tanh(y / self.scale)

    def fit_scale(self, source, pilot: int = 16384) -> "LabelTransform":
        if self.kind == "identity":
            return self
        m = min(source.n, pilot)
        ys = [np.asarray(y)[np.asarray(mask) > 0] for _, y, mask in source.batches(m)]
        scale = float(np.quantile(np.abs(np.concatenate(ys)), self.quantile))
        return LabelTransform(self.kind, self.quantile, max(scale, 1e-12))
