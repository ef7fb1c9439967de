"""Which init for a given net: mean-field theory at its shape, and measured nearby cells.

``advise(activation, depth, width)`` gives one row per init scheme: the theory at the
scheme's weight and bias variances (``theory``: q*, chi1, xi_c, and how the signal and the
gradient grow over the net's depth), and, where a results directory holds cells of the
same activation at a nearby depth and width, whether they trained, in how many steps, and
which published claims' verdicts rest on them. It ends with one recommendation and why.
Theory is evaluated here (it needs the activations); the evidence is read from the tables.
"""

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from . import theory
from .inits import INITS
from .nearby import NEAR_DEPTH, NEAR_WIDTH, nearby
from .outcomes import BAND, SYMMETRIC_INITS, XI_FACTOR
from .parametrizations import multiplier_table
from .settings import TrainSettings
from .tables import decoded
from .text import fnum, gnum
from .variances import exact_variances, scheme_variances

TRAINABLE_DEPTHS = XI_FACTOR  # Schoenholz et al. 2017: nets train up to about 6 xi_c layers


@dataclass
class Row:
    """One init scheme (at given parameters): its theory and its nearby evidence."""

    scheme: str
    params: dict
    label: str
    sigma_w2: float = math.nan
    sigma_b2: float = math.nan
    q_star: float = math.nan
    chi1: float = math.nan
    xi_c: float = math.nan
    trainable_depth: float = math.nan  # TRAINABLE_DEPTHS x xi_c
    signal_growth: float = math.nan  # q after the net's layers over q of the first
    gradient_growth: float = math.nan  # chi1 ** (depth - 1)
    note: str = ""
    cells: list = field(default_factory=list)  # nearby evidence cells
    trained: int = 0  # of them, those that did not stall
    steps_to_target: float = math.nan  # median over the cells that reached it
    lrs: list = field(default_factory=list)  # learning rates of the cells that trained
    claims: list = field(default_factory=list)  # "key: verdict" of claims over these cells
    depth_needed: int = 0  # the net's depth

    @property
    def has_theory(self):
        return math.isfinite(self.chi1)

    @property
    def theory_trainable(self):
        return self.has_theory and self.trainable_depth >= self.depth_needed

    @property
    def mismatch(self):
        """e-folds by which signal and gradient grow or shrink over the net: 0 is ideal."""
        logs = [
            abs(math.log(g)) if g > 0 else math.inf
            for g in (self.signal_growth, self.gradient_growth)
        ]
        return round(sum(logs), 9) if self.has_theory else math.inf


def check_shape(activation, depth, width):
    """Early one-line errors for an unknown activation or a net that cannot exist."""
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(
            f"--depth must be an integer >= 2 (weight layers; 1 has no hidden "
            f"layer to propagate through), got {depth!r}"
        )
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"--width must be an integer >= 1, got {width!r}")
    theory.default_alpha(activation)  # ValueError: unknown activation, naming the known ones


def theory_row(row, activation, depth, width):
    """Fill ``row``'s theory at the net's shape (in place; NaN where it does not apply).

    The first hidden layer's pre-activation variance is sigma_w2 + sigma_b2 (standardized
    inputs); signal and gradient growth are over the depth - 1 steps between layers."""
    sw2, sb2, row.note = scheme_variances(row.scheme, width, activation, row.params)
    row.sigma_w2, row.sigma_b2, row.depth_needed = sw2, sb2, depth
    if not math.isfinite(sw2) or row.scheme in SYMMETRIC_INITS:
        return row
    row.q_star = theory.fixed_point_q(activation, sw2, sb2)
    row.chi1 = theory.chi1(activation, sw2, sb2)
    row.xi_c = theory.depth_scale(activation, sw2, sb2)
    row.trainable_depth = TRAINABLE_DEPTHS * row.xi_c
    first = sw2 + sb2
    if first > 0:
        row.signal_growth = theory.variance_after(activation, sw2, sb2, first, depth - 1) / first
    row.gradient_growth = row.chi1 ** (depth - 1)
    return row


def scheme_rows(activation, depth, width, config=None, variants=()):
    """A row per built-in scheme at its defaults, per scheme a config's ``inits`` name that
    is a plugin's, and per (scheme, params) variant measured nearby."""
    builtin = [name for name, s in INITS.items() if s.fn.__module__ == "initbench.inits"]
    keys = {(name, "{}") for name in builtin}
    for spec in ((config or {}).get("inits") or {}).values():
        if spec["scheme"] not in builtin:
            params = {k: v for k, v in spec.items() if k != "scheme"}
            keys.add((spec["scheme"], json.dumps(params, sort_keys=True)))
    keys |= set(variants)
    rows = [
        Row(scheme, json.loads(params), _label(scheme, json.loads(params)))
        for scheme, params in keys
    ]
    return [theory_row(r, activation, depth, width) for r in sorted(rows, key=lambda r: r.label)]


def _label(scheme, params):
    """A row's name: the scheme, then its parameters that differ from the defaults."""
    return " ".join([scheme, *(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                               for k, v in sorted(params.items()))])  # fmt: skip


def _canonical(scheme, params):
    """A scheme's parameters as a key: the ones equal to its defaults left out."""
    defaults = INITS[scheme].params if scheme in INITS else {}
    kept = {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}
    return scheme, json.dumps(kept, sort_keys=True)


# ---- measured evidence ----------------------------------------------------------------


def add_evidence(rows, near, claims, activation):
    """Each row's nearby cells, how many trained, median steps to target, claims. A row's
    cells are those of its scheme and parameters, and those of any scheme whose exact
    variances at the cell's width equal the row's (within 1%): the same net to mean field
    (``critical`` at sigma_w2 1.761 and ``mean_field`` at 1.76; He and mean_field at 2)."""
    keys = [_canonical(s, p) for s, p in zip(near["scheme"], decoded(near["init_params"]))]
    variances = [
        exact_variances(s, w, activation, p)
        for s, w, p in zip(near["scheme"], near["width"], near["init_params"])
    ]
    for row in rows:
        same = [
            k == _canonical(row.scheme, row.params) or _close(v, row)
            for k, v in zip(keys, variances)
        ]
        mine = near.loc[np.array(same, bool)]
        row.cells = sorted(mine.index)
        row.trained = int(mine["trained"].sum())
        reached = mine["steps"].dropna()
        row.steps_to_target = float(reached.median()) if len(reached) else math.nan
        row.lrs = sorted({float(lr) for lr in mine.loc[mine["trained"], "lr"]})
        row.claims = [
            f"{key}: {verdict}" for key, verdict, members in claims if members & set(row.cells)
        ]
    return rows


def _close(variances, row):
    if variances is None or row.note or not math.isfinite(row.sigma_w2):
        return False
    return all(math.isclose(a, b, rel_tol=0.01, abs_tol=1e-9)
               for a, b in zip(variances, (row.sigma_w2, row.sigma_b2)))  # fmt: skip


def disagreements(rows):
    """Rows whose nearby cells contradict the predicted trainable depth by more than
    outcomes.BAND (the factor the trainable-depth claim leaves unjudged): most cells
    trained at a depth beyond BAND x 6 xi_c, or most stalled within 6 xi_c / BAND."""
    found = []
    for r in rows:
        if not (r.cells and r.has_theory):
            continue
        trained = 2 * r.trained > len(r.cells)
        if trained and r.depth_needed > BAND * r.trainable_depth:
            found.append(f"{r.label} (trained beyond its 6 xi_c = {depth_text(r.trainable_depth)})")
        elif not trained and r.depth_needed < r.trainable_depth / BAND:
            found.append(f"{r.label} (stalled within its 6 xi_c = {depth_text(r.trainable_depth)})")
    return found


# ---- the recommendation ---------------------------------------------------------------


def recommend(rows, activation, has_results):
    """(the row recommended, one sentence why). Theory ranks the schemes whose predicted
    trainable depth covers the net by how far signal and gradient drift over it; nearby
    measurements, where they exist, win over theory, and the sentence says so."""
    usable = [r for r in rows if r.has_theory and r.scheme not in SYMMETRIC_INITS]
    deep_enough = [r for r in usable if r.theory_trainable] or usable
    best = min(deep_enough, key=lambda r: r.mismatch)
    why = (
        f"theory: {best.label} keeps chi1 = {gnum(best.chi1, 3)} (gradient x"
        f"{gnum(best.gradient_growth)}, signal x{gnum(best.signal_growth)} over the net), "
        f"predicted trainable to depth {depth_text(best.trainable_depth)}"
    )
    if not best.theory_trainable:
        why += f", the deepest of any scheme, but short of {best.depth_needed}"
    measured = [r for r in rows if r.cells]
    critical = next((r for r in rows if r.scheme == "critical"), None)
    caveat = (
        f"; {activation} has no usable critical point"
        if critical is not None and not critical.has_theory
        else ""
    )
    disagree = disagreements(rows)
    if disagree:
        caveat += f"; theory and measurements disagree on {'; '.join(disagree)}"
    if not has_results:
        return best, f"{why}{caveat} (theory only: no results read)."
    if not measured:
        return best, f"{why}{caveat}; no cells nearby were measured, so this is theory only."
    top = max(measured, key=lambda r: (r.trained / len(r.cells), -_steps(r)))
    if best.cells and 2 * best.trained >= len(best.cells):
        return best, (
            f"{why}{caveat}; measured nearby, {best.trained} of {len(best.cells)} "
            f"cells trained: theory and measurements agree."
        )
    if best.cells and 2 * top.trained >= len(top.cells):
        return top, (
            f"theory and measurements disagree: {why}, but nearby only "
            f"{best.trained} of {len(best.cells)} of its cells trained, while "
            f"{top.trained} of {len(top.cells)} with {top.label} did{caveat}."
        )
    return best, (
        f"{why}{caveat}; no nearby cells measured it (best measured: {top.label}, "
        f"{top.trained} of {len(top.cells)} trained)."
    )


def _steps(row):
    return row.steps_to_target if math.isfinite(row.steps_to_target) else math.inf


def q_text(value):
    """q* as text: the theory's collapsed fixed point (about Q_MIN) as 0."""
    return "0" if value < theory.Q_DEGENERATE * 1e-90 else gnum(value, 3)


def depth_text(value):
    return "any" if value == math.inf else fnum(value, 0)


def advise(activation, depth, width, results_dir=None, config=None, parametrization=None,
           base_width=0):  # fmt: skip
    """Everything the command prints, as one dict (``--json`` writes it as it is).

    With a ``parametrization`` (and its ``base_width``) it adds the per-layer init and lr
    multipliers against sp at the base width (parametrizations.multiplier_table)."""
    check_shape(activation, depth, width)
    scaling = None
    if parametrization is not None:
        TrainSettings(parametrization=parametrization, base_width=base_width)  # one-line errors
        scaling = {"parametrization": parametrization, "base_width": base_width,
                   "rows": multiplier_table(parametrization, width, base_width, depth)}  # fmt: skip
    found = nearby(results_dir, activation, depth, width) if results_dir else None
    variants = set()
    if found is not None:
        near = found[0]
        variants = {_canonical(s, p) for s, p in zip(near["scheme"], decoded(near["init_params"]))}
    rows = scheme_rows(activation, depth, width, config, variants)
    if found is not None:
        add_evidence(rows, *found, activation)
    choice, why = recommend(rows, activation, found is not None)
    lr = (
        f"lr {gnum(choice.lrs[0], 3)}: the lowest learning rate its nearby cells trained at"
        if choice.lrs
        else "lr: no nearby cell trained with it; theory gives no learning rate"
    )
    return {
        "activation": activation,
        "depth": depth,
        "width": width,
        "results": str(results_dir) if found is not None else None,
        "nearby": {"depth_factor": NEAR_DEPTH, "width_factor": NEAR_WIDTH},
        "rows": [{**asdict(r), "theory_trainable": r.theory_trainable} for r in rows],
        "recommendation": choice.label,
        "lr": lr,
        "why": why,
        "parametrization": scaling,
    }
