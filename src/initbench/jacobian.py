"""The hidden layers' input-output Jacobian at initialization, and its singular values.

Pennington, Schoenholz & Ganguli (2017) judge an init by the spectrum of
J = dx^L/dx^0 = prod_l D^l W^l (D^l = diag phi'(h^l)) of an N-wide net: dynamical isometry
is all singular values of J near 1. Our nets read an input of another width, so J here
runs from the first hidden layer's output x^1 to the last hidden layer's x^L: an N x N
product of L - 1 factors D^l W^l over the square hidden-to-hidden layers. Computed in
NumPy, in float64, once per run before training (``probe: {jacobian: true}``); the
summary becomes run columns (``JACOBIAN_COLUMNS``).

Their moments are for one input at the fixed point q*, so the summary also holds each
row's own spectrum (averaged over rows), and with ``probe: {at_q_star: true}`` each row is
first scaled so that its first-layer pre-activation's second moment is q*, with the
free-probability prediction at that q recorded beside (``predicted_spectrum``).
"""

import numpy as np

from . import theory
from .engine.activations import get_activation
from .inits import INITS

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)  # of the singular values, pooled over rows
JACOBIAN_COLUMNS = (
    "init_jacobian_factors",  # L - 1: the D^l W^l factors of the product
    "init_jacobian_mean_sq",  # mean squared singular value (PSS's mean of JJ^T's spectrum)
    "init_jacobian_var_sq",  # variance of the squared singular values (PSS's sigma^2_JJT)
    *(f"init_jacobian_sv_q{round(q * 100):02d}" for q in QUANTILES),
    # first-layer pre-activation second moment mean(h^2) of the rows (after any scaling)
    "init_jacobian_q1_min",
    "init_jacobian_q1_max",
    # per row, averaged over the rows: each row's J on its own, as PSS's moments are
    "init_jacobian_row_mean_sq",  # mean of s^2
    "init_jacobian_row_var_sq",  # variance of s^2
    "init_jacobian_row_spread",  # variance of s^2 / mean of s^2 squared
    # at_q_star: the q the rows were scaled to and the infinite-width prediction there
    "init_jacobian_q",
    "init_jacobian_predicted_mean_sq",
    "init_jacobian_predicted_var_sq",
)
MEAN_FIELD_SCHEMES = ("mean_field", "critical")  # inits whose (sigma_w2, sigma_b2) fix q*


def predicted_spectrum(scheme, activation, init_params, factors):
    """theory.jacobian_moments of an init of ``scheme`` (mean_field or critical) with
    ``init_params``, over ``factors`` layers; ValueError naming what is missing."""
    if scheme not in MEAN_FIELD_SCHEMES:
        raise ValueError(f"at_q_star needs an init of scheme {' or '.join(MEAN_FIELD_SCHEMES)} "
                         f"(its sigma_w2 and sigma_b2 fix q*), got {scheme!r}")  # fmt: skip
    params = {**INITS[scheme].params, **init_params}
    sb2 = float(params["sigma_b2"])
    if scheme == "critical":
        sw2, _ = theory.critical_point(activation, sb2)
    elif "sigma_w2" in init_params:
        sw2 = float(init_params["sigma_w2"])
    else:
        raise ValueError("init scheme 'mean_field' needs param 'sigma_w2'")
    return theory.jacobian_moments(activation, sw2, sb2, factors, params["weights"])


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


def rows_at_q(W, b, X, q):
    """The rows of X each scaled by the a > 0 with mean((a W x + b)^2) = q: their first-layer
    pre-activation's second moment, on this draw of (W, b), exactly q."""
    u = np.asarray(X, dtype=np.float64) @ np.asarray(W, dtype=np.float64).T
    b = np.asarray(b, dtype=np.float64)
    A, B, C = np.mean(u * u, axis=1), np.mean(u * b, axis=1), float(np.mean(b * b))
    if not (q > C and np.all(A > 0)):
        raise ValueError(f"cannot scale the probe rows to q = {q:.4g}: the biases alone give "
                         f"{C:.4g}, or a row is 0 after the first layer")  # fmt: skip
    scale = (np.sqrt(B * B + A * (q - C)) - B) / A  # the positive root: q > C
    return X * scale[:, None]


def jacobian_summary(Ws, bs, activation, X, prediction=None):
    """The JACOBIAN_COLUMNS of the net (Ws, bs) on the rows X; with ``prediction``
    (predicted_spectrum of the net), on the rows scaled to its q. A net whose J overflows
    (a diverging init) gets NaN spectra: a result, not an error."""
    summary = dict.fromkeys(JACOBIAN_COLUMNS, np.nan)
    summary["init_jacobian_factors"] = float(len(Ws) - 2)
    if prediction is not None:
        X = rows_at_q(Ws[0], bs[0], X, prediction["q"])
        summary["init_jacobian_q"] = prediction["q"]
        summary["init_jacobian_predicted_mean_sq"] = prediction["mean"]
        summary["init_jacobian_predicted_var_sq"] = prediction["variance"]
    h1 = np.asarray(X, dtype=np.float64) @ np.asarray(Ws[0], np.float64).T + bs[0]
    q1 = np.mean(h1 * h1, axis=1)
    summary["init_jacobian_q1_min"] = float(q1.min())
    summary["init_jacobian_q1_max"] = float(q1.max())
    J = hidden_jacobians(Ws, bs, activation, X)
    if not np.isfinite(J).all():
        return summary
    s = np.linalg.svd(J, compute_uv=False)
    lam = s * s
    summary["init_jacobian_mean_sq"] = float(np.mean(lam))
    summary["init_jacobian_var_sq"] = float(np.var(lam))
    for name, value in zip(JACOBIAN_COLUMNS[3:10], np.quantile(s, QUANTILES), strict=True):
        summary[name] = float(value)
    row_mean, row_var = np.mean(lam, axis=1), np.var(lam, axis=1)
    summary["init_jacobian_row_mean_sq"] = float(np.mean(row_mean))
    summary["init_jacobian_row_var_sq"] = float(np.mean(row_var))
    with np.errstate(divide="ignore", invalid="ignore"):  # a row whose J is 0: NaN spread
        summary["init_jacobian_row_spread"] = float(np.mean(row_var / row_mean**2))
    return summary
