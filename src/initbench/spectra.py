"""Random-matrix predictions the findings compare with: NumPy and SciPy only, no engine, so
that the analysis layers may import them.

The Jacobian J = D^L W^L ... D^1 W^1 of a net at its fixed point q* (Pennington, Schoenholz
& Ganguli 2017, "Resurrecting the sigmoid", section 2.5; 2018, "The emergence of spectral
universality"): with mu_k = E[phi'(h)^(2k)], h ~ N(0, q*), and s_1 the first coefficient of
the S-transform of W W^T / sigma_w2 (Gaussian -1, orthogonal 0), the eigenvalues lambda = s^2
of J J^T have, at infinite width,

    mean     m_1 = (sigma_w2 mu_1)^L                        (= chi1^L: 1 at criticality)
    spread   sigma^2 / m_1^2 = L (mu_2 / mu_1^2 - 1 - s_1).

Free multiplicative convolution multiplies S-transforms, S(z) = (1 - v z + O(z^2)) / m_1 for
a law of mean m_1 and normalised variance v, so m_1 multiplies and v adds over the 2L free
factors D^2 (v = mu_2/mu_1^2 - 1) and W W^T (v = -s_1): exact in L at infinite width.
At finite width N (Monte Carlo, one input at q*, var(s^2)/mean(s^2)^2 per net and input):
tanh orthogonal at q* = 0.020 is within 1-6% of it at N = 64-256 up to L = 254; Gaussian
and ReLU within 5% while L/N < 0.2, about 0.75-0.9 of it at L/N = 0.5-1 (the spectrum's top
is then a few outliers). var(s^2) alone is heavy-tailed there (its mean up to 2-7x this).

The size of a He-initialised ReLU net's activations (Hanin & Nica 2019, "Products of many
large random matrices and gradients in deep neural networks"; Hanin 2018): with weights
N(0, 2/n_{l-1}) and zero biases, the units of z^l = W^l x^{l-1} are i.i.d. N(0, 2 |x^{l-1}|^2
/ n_{l-1}) given x^{l-1}; a Binomial(n_l, 1/2) number K_l of them is positive, independently
of their magnitudes (the signs are symmetric). So

    |x^l|^2 / |x^{l-1}|^2 = (2 / n_{l-1}) chi^2_{K_l},

a factor whose law does not depend on x^{l-1}: the layers' factors are independent and
Var[log |x^L|^2] = sum_l V(n_l), V(n) = E[psi_1(K/2)] + Var[psi(K/2)] over K ~ Bin(n, 1/2)
(E log chi^2_k = psi(k/2) + log 2, Var log chi^2_k = psi_1(k/2)). K_l = 0 kills the net
(log 0); the exact variance is conditional on no dead layer (K_l >= 1 at every layer), as a
measurement that drops dead nets is. Large n: V(n) = 5/n + O(1/n^2), Hanin & Nica's 5 beta.
"""

import numpy as np

from .imports import imported

# -s_1 of W W^T (Pennington et al. 2017): its normalised variance, Marchenko-Pastur at ratio 1
WEIGHT_SPREAD = {"normal": 1.0, "orthogonal": 0.0}


def _weight_spread(weights):
    if weights not in WEIGHT_SPREAD:
        raise ValueError(f"weights must be one of {sorted(WEIGHT_SPREAD)}, got {weights!r}")
    return WEIGHT_SPREAD[weights]


def jacobian_mean(sigma_w2, mu1, factors):
    """m_1 = (sigma_w2 mu_1)^L: the mean eigenvalue of J J^T over L = ``factors`` layers."""
    return (sigma_w2 * mu1) ** factors


def jacobian_spread(mu1, mu2, factors, weights):
    """sigma^2 / m_1^2 = L (mu_2 / mu_1^2 - 1 - s_1): the normalised variance of J J^T's
    eigenvalues (infinite width), ``weights`` "normal" (s_1 = -1) or "orthogonal" (0)."""
    return factors * (mu2 / mu1**2 - 1.0 + _weight_spread(weights))


def jacobian_variance(sigma_w2, mu1, mu2, factors, weights):
    """sigma^2 = m_1^2 L (mu_2 / mu_1^2 - 1 - s_1): the variance of J J^T's eigenvalues (the
    variance of the squared singular values of J), infinite width."""
    return jacobian_mean(sigma_w2, mu1, factors) ** 2 * jacobian_spread(mu1, mu2, factors, weights)


def _widths(hidden):
    widths = [int(n) for n in hidden]
    if not widths or min(widths) < 1:
        raise ValueError(f"hidden must list one or more widths >= 1, got {list(hidden)!r}")
    return widths


def relu_layer_log_variance(n):
    """V(n) = Var[log chi^2_K], K ~ Binomial(n, 1/2) given K >= 1: the variance one He ReLU
    layer of width n adds to log |x|^2 (exact; 5/n for large n)."""
    special = imported("scipy.special")  # SciPy on first use (imports.py)
    binom = imported("scipy.stats").binom
    (n,) = _widths([n])
    k = np.arange(1, n + 1)
    p = binom.pmf(k, n, 0.5)
    p /= p.sum()
    mean = special.digamma(k / 2)
    return float(p @ special.polygamma(1, k / 2) + p @ (mean - p @ mean) ** 2)


def relu_log_norm_variance(hidden):
    """Exact Var[log |x^L|^2] of a He-initialised ReLU net (zero biases) with hidden widths
    ``hidden`` at any fixed input, given that no layer is dead: sum of V(n_l)."""
    return sum(relu_layer_log_variance(n) for n in _widths(hidden))


def hanin_nica_variance(hidden):
    """5 beta = 5 sum 1/n_l: Hanin & Nica's large-width approximation of the same."""
    return 5.0 * sum(1.0 / n for n in _widths(hidden))
