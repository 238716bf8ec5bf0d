"""The validation-split policy, one for every estimator of the package (the learner's fit, fit_stream and
fit_path, the baselines, the reference `algorithm1`): which samples fit the layers and which choose the ridge.

- Arrays (fit(X, y)): every fifth sample (index % 5 == 4) is held out from all layers and chooses the ridge;
  the rest are fitted. With ``fresh_split`` the fitted samples split in halves: layer 1 on the first, layer 2
  and the readout on the second (the paper's proof).
- Streams (fit_stream, fit_path): ``n_validation`` fresh samples of the teacher's 'validation' stream choose the
  ridge (not counted in n, like the test set); with ``fresh_split`` layer 2 and the readout read the 'readout'
  stream (an independent draw of the same size) instead of the training stream.
Held-out data must choose the ridge: A_hat and B_hat are fitted on the readout's samples, so h2_hat correlates
with y in-sample more than out of sample (in-sample validation let the test MSE exceed Var(y) for unbounded links).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .engines.sources import ArraySource, StreamSource

__all__ = ["VALID_EVERY", "held_out", "min_array_samples", "array_split", "stream_split"]

VALID_EVERY = 5


def held_out(n: int) -> np.ndarray:
    """The held-out mask of n array samples: index % 5 == 4."""
    return np.arange(n) % VALID_EVERY == VALID_EVERY - 1


def min_array_samples(per_layer: int = 1, fresh_split: bool = False) -> int:
    """Smallest n whose split leaves one held-out sample and ``per_layer`` samples for each layer-1 part."""
    n = VALID_EVERY
    while (n - n // VALID_EVERY) // (2 if fresh_split else 1) < per_layer:
        n += 1
    return n


def array_split(X, y, fresh_split: bool, batch_size: int) -> SimpleNamespace:
    """Sources of fit(X, y): ``layer1``, ``layer2`` (the readout's too; the same object as layer1 unless
    ``fresh_split``), ``validation``, and ``same_samples`` (layer 2 reads layer 1's samples)."""
    val = held_out(X.shape[0])
    X32, y32 = X[~val].astype(np.float32), y[~val].astype(np.float32)
    half = X32.shape[0] // 2 if fresh_split else X32.shape[0]
    layer1 = ArraySource(X32[:half], y32[:half], batch_size)
    layer2 = ArraySource(X32[half:], y32[half:], batch_size) if fresh_split else layer1
    validation = ArraySource(X[val].astype(np.float32), y[val].astype(np.float32), batch_size)
    return SimpleNamespace(layer1=layer1, layer2=layer2, validation=validation, same_samples=not fresh_split)


def stream_split(teacher, n: int, seed: int, n_validation: int, fresh_split: bool, batch_chunks: int,
                 cache_bytes: int = 0) -> SimpleNamespace:
    """Sources of fit_stream / fit_path over the first n samples (the largest n of a grid), as `array_split`."""
    layer1 = StreamSource(teacher, "train", n, seed, batch_chunks, cache_bytes)
    layer2 = StreamSource(teacher, "readout", n, seed, batch_chunks, cache_bytes) if fresh_split else layer1
    validation = StreamSource(teacher, "validation", n_validation, seed, batch_chunks, cache_bytes)
    return SimpleNamespace(layer1=layer1, layer2=layer2, validation=validation, same_samples=not fresh_split)
