"""Parametrizations: how a layer's init scale and learning rate change with the width.

A parametrization is a per-layer rule giving three multipliers, each a function of the
layer's widths relative to a base width: the init standard deviation's, the learning
rate's (weights and biases apart) and the forward output's. The multipliers scale what the
init scheme draws and what the optimizer steps; at the base width every parametrization is
the standard one (all multipliers 1), as the ``mup`` package arranges it, so a study can
tune at the base width and widen.

Only hidden widths grow: the input features and the outputs are finite dimensions, whose
ratio is 1. For layer l (weights of shape (fan_out, fan_in)), ``r_in`` is fan_in / base
width when fan_in is a hidden width (else 1) and ``r_out`` likewise for fan_out.

- ``sp``, the standard parametrization: every multiplier 1.
- ``mup``: Yang et al. 2022 (Tensor Programs V), Table 3, the formulation without
  multipliers (all forward multipliers 1; its Table 9's output multiplier 1/fan_in is the
  same function of the width, written as init and lr instead):

  ====================  =====================  ===============  ==============
  Table 3 row           input weights, biases  output weights   hidden weights
  ====================  =====================  ===============  ==============
  init var              1/fan_in               1/fan_in^2       1/fan_in
  SGD lr                fan_out                1/fan_in         1
  Adam lr               1                      1/fan_in         1/fan_in
  ====================  =====================  ===============  ==============

  so, against sp at the base width: the output layer's init std times r_in^-1/2; SGD lr
  times r_out / r_in for weights (fan_out for input weights, 1/fan_in for the output
  layer, 1 for square hidden layers) and r_out for biases; Adam (and AdamW) lr times
  1 / r_in for weights and 1 for biases.
- ``ntk``, the neural tangent parametrization (Jacot et al. 2018): W = w / sqrt(fan_in),
  w ~ N(0, 1) trained at lr eta. Written on W it is sp's init, with the lr of every
  weight matrix whose fan_in grows times 1 / r_in under SGD (the gradient and the step
  both pick up 1/sqrt(fan_in)) and times r_in^-1/2 under Adam (only the step does);
  biases keep theirs.

Adam's ``eps`` is not rescaled by these three: the formulations agree up to it, as Tensor
Programs V notes of its own tables.

Depth parametrizations, for residual nets of L blocks (m_L = L: the base depth is one
block; a base depth L_0 is the same as base hyperparameters rescaled by powers of L_0).
Both are ``mup`` for the width (init, lr), plus, on the residual blocks' parameters (the
branches' dense layers, their biases and LayerNorms; not the input layer or readout):

- ``depth_mup``: Yang, Yu, Zhu & Hayou 2023 (Tensor Programs VI), Depth-muP: branch
  multiplier L^-1/2 (``branch_scaling: depth_power``, ``branch_exponent: 0.5``); the
  blocks' lr times 1 under SGD and times L^-1/2 under Adam (its learning rate eta L^-gamma:
  gamma = 0 for SGD, 1/2 for Adam; Dey et al. 2025's Table 1, column alpha = 0.5, has the
  same Adam rule). TP6 rescales neither Adam's eps nor the weight decay.
- ``completep``: Dey, Zhang, Noci, Li, Bordelon, Bergsma, Pehlevan, Hanin & Hestness 2025
  ("Don't be lazy: CompleteP enables compute-efficient deep transformers"), Table 1,
  column alpha = 1, rows (m_N = width / base_width, m_L = L):

  ========================  ==============================  ===============================
  Table 1 row               CompleteP                       here
  ========================  ==============================  ===============================
  MLP residual              Z + m_L^-1 MLP(LN(Z))           depth_power, branch_exponent 1
  Hidden init var           sigma^2 m_N^-1                  mup's (the init scheme's 1/fan_in)
  Hidden LR (AdamW)         eta m_N^-1 m_L^(alpha-1)        mup's 1 / r_in, times L^0 = 1
  Hidden bias LR (AdamW)    eta m_L^(alpha-1)               1
  Pre-LN LR (AdamW)         eta m_L^(alpha-1)               1 (gains and biases)
  Hidden WD (AdamW)         lambda m_N                      weight_decay_scaling width_invariant
  AdamW eps (res. blocks)   eps m_N^-1 m_L^-alpha           the blocks' eps times m_N^-1 L^-1
  Unembed fwd, init, LR     x W^T m_N^-1, sigma^2, eta      mup's readout (its Table 3 form)
  ========================  ==============================  ===============================

  Table 1 is for AdamW only: ``completep`` takes adam or adamw. Its reference code
  (github.com/EleutherAI/nanoGPT-mup, branch completep) rescales eps for every parameter
  and gives LayerNorms and biases no weight decay; here eps follows the table's "residual
  blocks" and every parameter decays, as in the other parametrizations.

Weight decay (``weight_decay_scaling``). ``layer_lr`` (the default): every parameter has
the one ``weight_decay``, and its lr multiplier m scales the decay with the lr: AdamW
shrinks it by lr m lambda a step, SGD and Adam add lambda W to the gradient, stepped at
lr m (torch.optim with per-group lrs; the mup package with ``decoupled_wd=True``).
``width_invariant``: each parameter's decay is lambda / m_w, m_w the width part of its lr
multiplier, so that lr x decay per step does not change with the width: AdamW shrinks by
lr lambda (times the depth part of m, for depth_mup); this is what the mup package's
MuAdam, MuAdamW and MuSGD do by default (mup/optim.py: ``group['lr'] /= width_mult;
group['weight_decay'] *= width_mult``, and the converse for MuSGD's vector-like
parameters) and CompleteP's "Hidden WD" row.
"""

import math

import numpy as np

from .settings import DEPTH_ALPHA, OPTIMIZERS, PARAMETRIZATIONS

# The kernels' per-parameter rules, multipliers of the lr, the weight decay and Adam's eps:
# the last axis of ``optimizer_scales``' arrays. Its groups: a layer's weights and biases,
# a residual net's gates and LayerNorms (gains and biases).
RULES = ("lr", "weight_decay", "eps")
LAYER_PARAMS = ("weights", "biases")
EXTRA_PARAMS = ("gates", "norms")
SCALE_LAYOUT = (RULES, LAYER_PARAMS, EXTRA_PARAMS)  # the kernels bake it in (hyper.BAKED)
LR_SCALE, DECAY_SCALE, EPS_SCALE = map(RULES.index, RULES)
WEIGHTS, BIASES = map(LAYER_PARAMS.index, LAYER_PARAMS)
GATES, NORMS = map(EXTRA_PARAMS.index, EXTRA_PARAMS)

# Which of Table 3's lr rows each optimizer follows: AdamW's are Adam's.
LR_RULES = {"sgd": "sgd", "adam": "adam", "adamw": "adam"}


def lr_rule(optimizer):
    """The Table 3 lr row (``sgd`` or ``adam``) that ``optimizer`` follows."""
    if optimizer not in LR_RULES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    return LR_RULES[optimizer]


def width_ratios(sizes, base_width):
    """(r_in, r_out) per layer: hidden widths over ``base_width``, 1 for finite dimensions."""
    sizes = [int(n) for n in sizes]
    hidden = range(1, len(sizes) - 1)
    ratio = [sizes[i] / base_width if i in hidden else 1.0 for i in range(len(sizes))]
    return ratio[:-1], ratio[1:]


def multipliers(parametrization, optimizer, sizes, base_width):
    """Per-layer width multipliers of ``parametrization`` for a net of layer ``sizes``.

    Returns a dict of float64 arrays, one entry per layer: ``init_std`` (of the scheme's
    draw of W), ``lr_weights`` and ``lr_biases``; the forward (output) multiplier is 1 in
    every formulation used here. ``optimizer``: sgd, adam or adamw.
    """
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(
            f"parametrization must be one of {', '.join(PARAMETRIZATIONS)}, got {parametrization!r}"
        )
    sgd = lr_rule(optimizer) == "sgd"  # else Adam's row
    n_layers = len(sizes) - 1
    ones = np.ones(n_layers)
    if parametrization in DEPTH_ALPHA:  # mup for the width; their depth rules: optimizer_scales
        parametrization = "mup"
    if parametrization == "sp":
        return {"init_std": ones, "lr_weights": ones, "lr_biases": ones}
    if not (base_width and base_width > 0):
        raise ValueError(f"base_width: parametrization {parametrization} needs a base_width > 0")
    r_in, r_out = (np.asarray(r) for r in width_ratios(sizes, base_width))
    init_std = ones.copy()
    if parametrization == "mup":
        init_std[-1] = 1 / math.sqrt(r_in[-1])  # output weights: var 1/fan_in^2
        lr_weights = r_out / r_in if sgd else 1 / r_in
        lr_biases = r_out.copy() if sgd else ones.copy()
    else:  # ntk
        lr_weights = 1 / r_in if sgd else 1 / np.sqrt(r_in)
        lr_biases = ones.copy()
    return {"init_std": init_std, "lr_weights": lr_weights, "lr_biases": lr_biases}


def init_multipliers(parametrization, sizes, base_width):
    """Per-layer multipliers of the init scheme's weight draw (the same for every optimizer)."""
    return multipliers(parametrization, "sgd", sizes, base_width)["init_std"]


def lr_scales(parametrization, optimizer, sizes, base_width):
    """The kernels' (n_layers, 2) array of lr multipliers: weights, then biases, per layer."""
    m = multipliers(parametrization, optimizer, sizes, base_width)
    return np.ascontiguousarray(np.stack([m["lr_weights"], m["lr_biases"]], axis=1))


def extra_lr_scales(parametrization, optimizer, sizes, base_width):
    """Width lr multipliers of a residual net's (gates, LayerNorm gains and biases).

    The norms' parameters are vectors of the hidden width: Table 3's "all biases" column
    (muP's SGD lr times their fan_out ratio); a gate is one scalar (fan_out 1): 1.
    """
    if parametrization in ("mup", *DEPTH_ALPHA) and lr_rule(optimizer) == "sgd":
        return np.array([1.0, sizes[1] / base_width])
    return np.ones(2)


def optimizer_scales(settings, sizes):
    """The kernels' multipliers of the lr, the weight decay and Adam's eps (``RULES``).

    Returns (layers, extras): layers[l, WEIGHTS or BIASES, rule] for dense layer l, and
    extras[GATES or NORMS, rule] for a residual net's gates and LayerNorms. Every entry of
    sp with ``weight_decay_scaling: layer_lr`` is 1. ``settings``: a TrainSettings.
    """
    p, optimizer, base = settings.parametrization, settings.optimizer, settings.base_width
    n_layers = len(sizes) - 1
    layers = np.ones((n_layers, 2, len(RULES)))
    layers[:, :, LR_SCALE] = lr_scales(p, optimizer, sizes, base)
    extras = np.ones((2, len(RULES)))
    extras[:, LR_SCALE] = extra_lr_scales(p, optimizer, sizes, base)
    if settings.weight_decay_scaling == "width_invariant":  # lr x decay free of the width
        layers[:, :, DECAY_SCALE] = 1 / layers[:, :, LR_SCALE]
        extras[:, DECAY_SCALE] = 1 / extras[:, LR_SCALE]
    if p in DEPTH_ALPHA:
        blocks = (n_layers - 2) // settings.block_size
        inside = slice(1, n_layers - 1)  # the residual blocks' dense layers
        # TP6: eta L^-1/2 under Adam, eta under SGD
        if p == "depth_mup" and lr_rule(optimizer) == "adam":
            layers[inside, :, LR_SCALE] *= blocks**-0.5
            extras[NORMS, LR_SCALE] *= blocks**-0.5
        if p == "completep":  # Table 1: hidden, bias and pre-LN lr times L^(1 - 1) = 1
            width_ratio = sizes[1] / base
            layers[inside, :, EPS_SCALE] = 1 / (width_ratio * blocks)  # eps m_N^-1 m_L^-1
            extras[NORMS, EPS_SCALE] = 1 / (width_ratio * blocks)
    return layers, extras


def multiplier_table(parametrization, width, base_width, depth):
    """The multipliers of an MLP of ``depth`` weight layers, all ``width`` wide, against sp
    at ``base_width``: one row each for its input layer, hidden layers and readout, under
    SGD and under Adam (AdamW's are Adam's)."""
    sizes = [1, *[width] * (depth - 1), 1]  # the input and output sizes do not scale
    kinds = [("input", 0), ("hidden", 1), ("readout", depth - 1)] if depth > 2 else [
        ("input", 0), ("readout", depth - 1)]  # fmt: skip
    rows = []
    for optimizer in ("sgd", "adam"):
        m = multipliers(parametrization, optimizer, sizes, base_width)
        rows += [{"optimizer": optimizer, "layers": kind, "init_std": float(m["init_std"][i]),
                  "lr_weights": float(m["lr_weights"][i]),
                  "lr_biases": float(m["lr_biases"][i])} for kind, i in kinds]  # fmt: skip
    return rows
