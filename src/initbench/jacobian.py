"""The hidden layers' input-output Jacobian at initialization, and its singular values.

Pennington, Schoenholz & Ganguli (2017) judge an init by the spectrum of
J = dx^L/dx^0 = prod_l D^l W^l (D^l = diag phi'(h^l)) of an N-wide net: dynamical isometry
is all singular values of J near 1. Our nets read an input of another width, so J here
runs from the first hidden layer's output x^1 to the last hidden layer's x^L: an N x N
product of L - 1 factors D^l W^l over the square hidden-to-hidden layers. Computed in
NumPy, in float64, once per run before training (``probe: {jacobian: true}``); the
summary becomes run columns (``JACOBIAN_COLUMNS``).
"""

import numpy as np

from .engine.activations import get_activation

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)  # of the singular values, pooled over rows
JACOBIAN_COLUMNS = (
    "init_jacobian_factors",  # L - 1: the D^l W^l factors of the product
    "init_jacobian_mean_sq",  # mean squared singular value (PSS's mean of JJ^T's spectrum)
    "init_jacobian_var_sq",  # variance of the squared singular values (PSS's sigma^2_JJT)
    *(f"init_jacobian_sv_q{round(q * 100):02d}" for q in QUANTILES),
)


def hidden_jacobians(Ws, bs, activation, X):
    """J(x) = dx^L/dx^1 for each row x of X, shape (rows, N, N): the factors D^l W^l of
    the hidden-to-hidden layers (every layer but the first and the readout). Needs square
    hidden layers."""
    act = get_activation(activation) if isinstance(activation, str) else activation
    hidden = [W.shape for W in Ws[1:-1]]
    if not hidden or any(shape != hidden[0] or shape[0] != shape[1] for shape in hidden):
        raise ValueError(
            "the hidden Jacobian needs two or more hidden layers of one width, got "
            f"{[Ws[0].shape[0], *(shape[0] for shape in hidden)]}"
        )
    Ws = [np.asarray(W, dtype=np.float64) for W in Ws]
    bs = [np.asarray(b, dtype=np.float64) for b in bs]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow: NaN spectra, recorded
        x, _ = act(np.asarray(X, dtype=np.float64) @ Ws[0].T + bs[0])
        J = np.broadcast_to(np.eye(hidden[0][0]), (len(x), *hidden[0])).copy()
        for W, b in zip(Ws[1:-1], bs[1:-1], strict=True):
            x, slope = act(x @ W.T + b)
            J = slope[:, :, None] * np.matmul(W, J)
    return J


def jacobian_summary(Ws, bs, activation, X):
    """The JACOBIAN_COLUMNS of the net (Ws, bs) on the rows X. A net whose J overflows
    (a diverging init) gets NaN spectra: a result, not an error."""
    J = hidden_jacobians(Ws, bs, activation, X)
    summary = dict.fromkeys(JACOBIAN_COLUMNS, np.nan)
    summary["init_jacobian_factors"] = float(len(Ws) - 2)
    if not np.isfinite(J).all():
        return summary
    s = np.linalg.svd(J, compute_uv=False).reshape(-1)
    summary["init_jacobian_mean_sq"] = float(np.mean(s**2))
    summary["init_jacobian_var_sq"] = float(np.var(s**2))
    for name, value in zip(JACOBIAN_COLUMNS[3:], np.quantile(s, QUANTILES), strict=True):
        summary[name] = float(value)
    return summary
