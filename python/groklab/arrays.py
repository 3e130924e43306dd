"""groklab's measures on any numpy array, for networks trained elsewhere."""
import ctypes

import numpy as np

from ._core import call
from ._lib import lib

_BASIS = {"additive": 1, "dlog": 2}
_CONV = {"rfft": 0, "full": 1}


def _rows(x):
    """x as a C-contiguous float32 (K, n) array (no copy when it is one)."""
    a = np.asarray(x)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"x: shape {a.shape} should be (n,) or (K, n): one vector per row")
    if a.shape[1] < 2 or a.shape[0] < 1:
        raise ValueError(f"x: shape {a.shape}: the vectors need at least 2 entries and there must be one")
    return np.ascontiguousarray(a, dtype=np.float32)


class _Plan:
    def __init__(self, p, K, basis):
        if basis not in _BASIS:
            raise ValueError(f"basis: '{basis}' is not allowed (allowed: additive, dlog)")
        self.ptr = ctypes.c_void_p()
        call(lib.gl_ipr_plan_create, ctypes.byref(self.ptr), int(p), int(K), _BASIS[basis])

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.gl_ipr_plan_free(self.ptr)
            self.ptr = None


def _f32(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def _f64(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


def ipr(x, basis="additive", convention="rfft", r=2.0):
    """The inverse participation ratio of each row of x over its residues.

    x: (K, p) or (p,): K vectors indexed by residue 0..p-1 (e.g. the rows of
    a first-layer weight W1[:, :p] of a PyTorch model, or its columns'
    transpose). IPR_r = sum_j |x~_j|^(2r) / (sum_j |x~_j|^2)^r over the
    Fourier coefficients x~ (convention 'rfft': the one-sided real FFT, a
    cosine has IPR 1; 'full': the complex DFT, a cosine has IPR 1/2). basis
    'dlog' reorders the nonzero residues by the discrete log to a primitive
    root (p prime; residue 0 left out), where multiplicative features are
    periodic. Returns (K,) float64 (a float for a 1-d x). Computed in float32
    input precision with FFTW, as groklab ipr.
    """
    if convention not in _CONV:
        raise ValueError(f"convention: '{convention}' is not allowed (allowed: rfft, full)")
    if not (1e-3 <= r <= 100):
        raise ValueError(f"r: {r} is out of range (allowed: 0.001 to 100)")
    one = np.ndim(x) == 1
    a = _rows(x)
    K, p = a.shape
    plan = _Plan(p, K, basis)
    out = np.empty(K)
    lib.gl_ipr_batch(plan.ptr, _f64(out), _f32(a), 1, p, _CONV[convention], float(r))
    return float(out[0]) if one else out


def power_spectrum(x, basis="additive"):
    """One-sided Fourier power |x~_j|^2 of each row of x (as ipr reads it):
    (K, n//2 + 1) with n = p (additive) or p - 1 (dlog); bin 0 is DC."""
    one = np.ndim(x) == 1
    a = _rows(x)
    K, p = a.shape
    plan = _Plan(p, K, basis)
    out = np.empty((K, lib.gl_ipr_plan_bins(plan.ptr)))
    lib.gl_ipr_power(plan.ptr, _f64(out), _f32(a), 1, p)
    return out[0] if one else out




def _names(classify, *arrays):
    """classify (a gl_phase_* call) over broadcast arrays, as phase names."""
    cols = np.broadcast_arrays(*[np.asarray(a, float) for a in arrays])
    names = np.array([lib.gl_phase_name(classify(*v)).decode() for v in zip(*[c.ravel() for c in cols])], dtype=object)
    return names[0] if names.size == 1 and all(np.ndim(a) == 0 for a in arrays) else names.reshape(cols[0].shape)


def phase(train_acc, test_acc, xi, reached_test90=False):
    """The phase of a run from its final accuracies (fractions) and its
    corruption fraction xi, by groklab's rule (docs/paper.md section 6):
    'coexistence', 'partial inversion', 'full inversion', 'memorization',
    'forgetting' (test accuracy was >= 0.9 before: reached_test90) or
    'confusion'. Numpy arrays of the same shape give an array of names."""
    return _names(lambda a, c, x, f: lib.gl_phase_classify(a, c, x, int(f)), train_acc, test_acc, xi,
                  np.asarray(reached_test90, bool))


def phase_subset(train_acc, test_acc, corrupted_acc, corrupted_true_acc, xi, reached_test90=False):
    """The phase by the subset rule (docs/paper.md section 6): as phase(), but
    coexistence, partial and full inversion and memorization read from the
    corrupted examples' accuracies against their given (corrupted_acc) and
    true (corrupted_true_acc) labels; NaN for either (no corrupted
    examples) gives phase()'s answer."""
    return _names(lambda a, c, g, t, x, f: lib.gl_phase_classify_subset(a, c, g, t, x, int(f)), train_acc,
                  test_acc, corrupted_acc, corrupted_true_acc, xi, np.asarray(reached_test90, bool))
