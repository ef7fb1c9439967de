"""The mean-field weight and bias variances (sigma_w2, sigma_b2) an init scheme draws.

Mean field sees a layer only through fan_in x Var(W) and Var(b). For the built-in schemes
these are exact at a square width x width hidden layer (He's 2/(1 + a^2), Xavier's and
LeCun's 1, torch_default's 1/3 with a bias variance of 1/(3 width), ...); a plugin's
per-layer scheme gets them estimated from drawn layers. ``initbench advise`` evaluates
the theory at them, and matches measured cells by them.
"""

import functools
import inspect
import json
import math

import numpy as np

from . import theory
from .inits import INITS, init_params
from .outcomes import SYMMETRIC_INITS

SAMPLED_WEIGHTS = 1_000_000  # weights drawn to estimate a plugin scheme's variance


def scheme_variances(scheme, width, activation, params):
    """(sigma_w2, sigma_b2, note) that ``scheme`` draws a width x width hidden layer with:
    exact for the built-ins, estimated from drawn layers for a plugin's per-layer scheme;
    NaN with a note saying why where mean field does not apply."""
    if scheme not in INITS:
        return math.nan, math.nan, "a plugin's scheme, not loaded: pass the --configfile naming it"
    p = {
        **{k: v for k, v in INITS[scheme].params.items() if v is not inspect.Parameter.empty},
        **params,
    }
    gain2 = (p.get("gain") or 1.0) ** 2
    a = theory.default_alpha(activation) if activation == "leaky_relu" else 0.0
    exact = {
        "zeros": (0.0, 0.0), "uniform": (width * p.get("eps", 0) ** 2 / 3, 0.0),
        "normal": (width * p.get("std", 0) ** 2, 0.0), "xavier_uniform": (gain2, 0.0),
        "xavier_normal": (gain2, 0.0), "lecun_uniform": (1.0, 0.0), "lecun_normal": (1.0, 0.0),
        "orthogonal": (gain2, 0.0), "truncated_normal": (p.get("scale", 1.0), 0.0),
        "torch_default": (1 / 3, 1 / (3 * width)), "glorot_standard": (1 / 3, 0.0),
    }  # fmt: skip
    if scheme in ("he_uniform", "he_normal"):  # square layer: every fan mode is width
        return (p["gain"] ** 2 if p.get("gain") else 2 / (1 + a * a)), 0.0, ""
    if scheme in exact:
        return (
            *exact[scheme],
            "symmetric: never breaks symmetry" if scheme in SYMMETRIC_INITS else "",
        )
    if scheme == "constant":
        return math.nan, math.nan, "symmetric: every hidden unit identical, no mean field"
    if scheme == "positive_normal":
        return math.nan, math.nan, "every weight positive: not zero-mean, no mean field"
    if scheme == "mean_field":
        if "sigma_w2" not in p:
            return math.nan, math.nan, "needs sigma_w2 (critical is mean_field at chi1 = 1)"
        return float(p["sigma_w2"]), float(p.get("sigma_b2", 0.0)), ""
    if scheme == "critical":
        try:
            sw2, _ = theory.critical_point(activation, p["sigma_b2"])
        except ValueError as error:
            return math.nan, math.nan, f"no usable critical point: {error}"
        return sw2, float(p["sigma_b2"]), ""
    if scheme == "lsuv":  # unit pre-activation variance at every layer: q = 1 is the fixed point
        unit = theory.variance_after(activation, 1.0, 0.0, 1.0, 1)
        return 1.0 / unit, 0.0, "approximate: LSUV scales each layer to unit variance on data"
    if INITS[scheme].per_layer:
        return (*_sampled(scheme, width, activation, params), "estimated from drawn layers")
    return math.nan, math.nan, "a network init: no per-layer variance for mean field"


def _sampled(scheme, width, activation, params):
    Ws, bs = [], []
    for seed in range(max(1, SAMPLED_WEIGHTS // (width * width))):
        W, b = init_params(scheme, [width, width], activation=activation, seed=seed, **params)
        Ws.append(W[0])
        bs.append(b[0])
    return width * float(np.mean(np.square(Ws))), float(np.mean(np.square(bs)))


@functools.lru_cache(maxsize=1024)
def exact_variances(scheme, width, activation, params):
    """A cell's (sigma_w2, sigma_b2) where they are exact (built-in, not symmetric), else None."""
    if scheme not in INITS or scheme in SYMMETRIC_INITS:
        return None
    sw2, sb2, note = scheme_variances(scheme, int(width), activation, json.loads(params))
    return (sw2, sb2) if math.isfinite(sw2) and not note else None
