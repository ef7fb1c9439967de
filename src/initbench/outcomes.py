"""The result tables and what both the findings and the report derive from them.

One home for: the view of the tables both read (loaded by ``results.load_results``), the
stall rule, per-cell summaries, steps to a target, and medians with their interquartile
range. The findings and the report read these, so the two never disagree about what
"stalled" or "median" means.
"""

import functools

import numpy as np
import pandas as pd

from .cell import CELL_PARAMETERS
from .layout import TABLE_NAMES
from .tables import PREDICTED, PROVENANCE_COLUMNS, THEORY_KEYS, decoded

TIMING_COLUMNS = ("train_seconds", "train_cpu_seconds")
# Row keys of each table, in sort order.
ROW_KEYS = ("study", "cell", "seed", "step", "layer")

STALL_MARGIN = 0.02  # no progress: final train accuracy <= majority-class rate + this
STALL_LOSS_FRACTION = 0.95  # regression: no progress if final train loss >= this x initial
SYMMETRIC_INITS = ("zeros", "constant")  # inits whose hidden units start, and stay, identical
TARGET_FRACTION = 0.9  # steps to target: 0.9 x the dataset's best final train accuracy
# The trainable depth (Schoenholz et al. 2017), which the depth_scale claim judges and
# `initbench advise` predicts: nets train up to about XI_FACTOR x xi_c layers; depths
# within a factor BAND of that (the depth grid's resolution) are left unjudged.
XI_FACTOR = 6
BAND = 2.0


class StudyTables:
    """The aggregated tables (every one of TABLE_NAMES; empty where absent), the config
    they were run from, and the cells of each study: what the findings (``Results``) and
    the report (``Report``) both read."""

    def __init__(self, tables, config):
        self.tables = {name: tables.get(name, pd.DataFrame()) for name in TABLE_NAMES}
        self.config = config or {}
        studies = self.tables["studies"]
        self.studies = (
            {s: list(g["cell"]) for s, g in studies.groupby("study", sort=False)}
            if len(studies)
            else {}
        )

    def has(self, study):
        return study in self.studies

    def not_run(self, studies):
        """Why these studies have no results: not in the config, or configured but not run."""
        configured = self.config.get("studies", {})
        return "; ".join(
            f"study {study} was not run ("
            + ("configured, but it has no results" if study in configured
               else "not in this configuration")
            + ")"
            for study in studies
        )  # fmt: skip

    def rows(self, kind, *studies, columns=None):
        """The rows of table ``kind`` of the studies' cells; only ``columns`` when given
        (copying every column of most of the layers table once took a second).

        A lean layers table (``load_results(lean_layers=True)``) lacks the cell parameters
        its rows repeat: those asked for (all of them, without ``columns``) come from the
        runs table, cell by cell."""
        cells = set().union(*(self.studies.get(s, ()) for s in studies))
        table = self.tables[kind]
        if columns is None:
            absent = [] if kind != "layers" else [
                c for c in self._cell_parameters.columns if c not in table.columns
            ]  # fmt: skip
            columns = [*table.columns, *absent]
        return self.cell_rows(kind, cells, columns, self._cell_parameters)

    def cell_rows(self, kind, cells, columns, per_cell):
        """The ``columns`` of table ``kind``'s rows of ``cells``, in the table's order; a
        column the table lacks comes from ``per_cell`` (one row per cell, indexed by cell):
        a cell's parameters, or the report's label of its init."""
        table = self.tables[kind]
        selected = table["cell"].isin(cells)
        added = [c for c in columns if c not in table.columns]
        rows = table.loc[selected, [c for c in columns if c not in added]]
        if not added:
            return rows
        at = per_cell.index.get_indexer(table.loc[selected, "cell"])
        if (at < 0).any():
            raise KeyError(f"cells of the {kind} table without a row of their own "
                           f"(asked for {added})")  # fmt: skip
        for column in added:
            rows[column] = per_cell[column].to_numpy().take(at)
        return rows[list(columns)]

    @functools.cached_property
    def _cell_parameters(self):
        """Each cell's parameters (one row per cell, indexed by cell) from the runs table."""
        runs = self.tables["runs"]
        present = [c for c in CELL_PARAMETERS if c in runs.columns]
        if "cell" not in runs.columns:
            return pd.DataFrame(columns=present)
        return runs.drop_duplicates("cell").set_index("cell")[present]


def comparable(table):
    """``table`` without provenance and timing columns, in a canonical row order: equal
    for two runs of one config, whatever the machine, thread count or executor."""
    drop = [c for c in (*PROVENANCE_COLUMNS, *TIMING_COLUMNS) if c in table.columns]
    keys = [c for c in ROW_KEYS if c in table.columns]
    return table.drop(columns=drop).sort_values(keys).reset_index(drop=True)


# ---- the stall rule -------------------------------------------------------------------


def made_no_progress(runs):
    """Per run (rows of a runs table): diverged, or ended no better than predicting the
    majority class (regression: the train loss barely fell)."""
    regression = runs["majority_rate"].isna()
    flat = np.where(
        regression,
        runs["final_train_loss"] >= STALL_LOSS_FRACTION * runs["initial_train_loss"],
        runs["final_train_accuracy"] <= runs["majority_rate"] + STALL_MARGIN,
    )
    return pd.Series(flat, index=runs.index) | runs["status"].eq("diverged")


def accuracy_counting_divergence(runs, column="final_train_accuracy"):
    """Final accuracy per run, a diverged run at chance (its majority-class rate): an
    outcome of the effect, never a run dropped."""
    diverged = runs["status"].eq("diverged")
    return runs[column].where(~diverged, runs["majority_rate"])


def stalled_cells(runs):
    """Per cell: made no progress in at least half its seeds."""
    return made_no_progress(runs).groupby(runs["cell"]).mean() >= 0.5


STALL_RULE = (
    f"a run makes no progress when it diverges or ends with train accuracy <= chance + "
    f"{STALL_MARGIN} (regression: train loss >= {STALL_LOSS_FRACTION} x its initial value); "
    "a cell stalls when at least half its seeds make no progress"
)


# ---- the plateau check ----------------------------------------------------------------

CELL_CLASSES = ("trained", "stalled", "diverged")
PLATEAU_SHARE = 0.05  # at most this share of cells may change class when the steps double
PLATEAU_RULE = (
    f"a study has trained to its plateau when doubling its steps changes the class (trained, "
    f"stalled or diverged) of at most {PLATEAU_SHARE:.0%} of its cells; measured on the same "
    "runs' logged curves, as each cell's class at half the steps (the last logged step at or "
    "below it) against its class at the end"
)


def cell_class(runs):
    """Per cell (rows of a runs table, or of ``runs_at``): one of CELL_CLASSES: ``diverged``
    when at least half its seeds diverged, else ``stalled`` when at least half made no
    progress (the stall rule), else ``trained``."""
    diverged = runs["status"].eq("diverged").groupby(runs["cell"]).mean() >= 0.5
    stalled = stalled_cells(runs)
    return pd.Series(
        np.where(diverged, "diverged", np.where(stalled, "stalled", "trained")),
        index=stalled.index,
    )


def runs_at(runs, curves, step):
    """The runs as if training had stopped at ``step``: diverged only if they diverged by
    then, and their final train accuracy and loss those at the last logged step <= ``step``
    (logged steps are geometric, so that step may lie a little earlier)."""
    keys = ["cell", "seed"]
    logged = curves[curves["step"] <= step]
    last = logged[logged["step"].eq(logged.groupby(keys)["step"].transform("max"))]
    at = last.set_index(keys)[["step", "train_accuracy", "train_loss"]]
    out = runs.join(at, on=keys)
    diverged_by = runs["status"].eq("diverged") & runs["diverged_step"].between(0, step)
    return out.assign(
        status=np.where(diverged_by, "diverged", "completed"),
        final_train_accuracy=out["train_accuracy"],
        final_train_loss=out["train_loss"],
    ).drop(columns=["step", "train_accuracy", "train_loss"])


def plateau_check(runs, curves):
    """Per cell: its class at half its steps (``half``: ``runs_at`` the last logged step <=
    steps // 2, ``half_step``) and at the end (``final``), and whether they differ
    (``changed``). The share of changed cells is what doubling the steps from half the
    budget changes; PLATEAU_SHARE bounds it."""
    checks = []
    for steps, group in runs.groupby("steps"):
        logged = curves[curves["cell"].isin(group["cell"])]
        checks.append(
            pd.DataFrame({
                "steps": steps,
                "half_step": logged.loc[logged["step"] <= steps // 2, "step"].max(),
                "half": cell_class(runs_at(group, logged, steps // 2)),
                "final": cell_class(group),
            })
        )  # fmt: skip
    if not checks:
        return pd.DataFrame(columns=["steps", "half_step", "half", "final", "changed"])
    table = pd.concat(checks)
    return table.assign(changed=table["half"].ne(table["final"]))


# ---- per-cell summaries ---------------------------------------------------------------


def summarize_cells(runs):
    """One row per cell: its parameters, medians over seeds and divergence/stall counts."""
    r = runs.assign(
        is_diverged=runs["status"].eq("diverged"),
        no_progress=made_no_progress(runs),
        div_step=runs["diverged_step"].where(runs["status"].eq("diverged")),
    )
    g = r.groupby("cell", sort=False)
    cells = (
        g[[*CELL_PARAMETERS, "majority_rate"]]
        .first()
        .join(
            g.agg(
                seeds=("seed", "size"),
                n_diverged=("is_diverged", "sum"),
                n_no_progress=("no_progress", "sum"),
                first_div_step=("div_step", "min"),
                test_acc=("final_test_accuracy", "median"),
                train_acc=("final_train_accuracy", "median"),
                test_loss=("final_test_loss", "median"),
                train_loss=("final_train_loss", "median"),
                initial_loss=("initial_train_loss", "median"),
                train_seconds=("train_seconds", "sum"),
            )
        )
    )
    cells["task"] = np.where(cells["majority_rate"].isna(), "regression", "classification")
    cells["stalled"] = 2 * cells["n_no_progress"] >= cells["seeds"]
    return cells


def steps_to_target(cells, curves):
    """Per cell: the first logged step at which the median-over-seeds train accuracy reaches
    TARGET_FRACTION x the dataset's best (regression: loss at most best / fraction)."""
    cls = cells["task"] == "classification"
    best_acc = cells[cls].groupby("dataset")["train_acc"].max()
    best_loss = cells[~cls].groupby("dataset")["train_loss"].min()
    target = pd.Series(
        np.where(
            cls,
            TARGET_FRACTION * cells["dataset"].map(best_acc),
            cells["dataset"].map(best_loss) / TARGET_FRACTION,
        ),
        index=cells.index,
    )
    if not len(curves):
        return target, pd.Series(np.nan, index=cells.index)
    med = curves.groupby(["cell", "step"], sort=False)[["train_accuracy", "train_loss"]]
    med = med.median().reset_index()
    med = med.merge(
        pd.DataFrame({"target": target, "task": cells["task"]}), left_on="cell", right_index=True
    )
    hit = np.where(
        med["task"] == "classification",
        med["train_accuracy"] >= med["target"],
        med["train_loss"] <= med["target"],
    )
    first = med[hit & med["target"].notna()].groupby("cell")["step"].min()
    return target, first.reindex(cells.index)


def first_step_reaching(curves, threshold, column="train_accuracy"):
    """Per (cell, seed): the first logged step at which ``column`` >= ``threshold`` (one
    number, or a Series indexed by cell); NaN for a run that never reaches it."""
    limit = threshold if np.isscalar(threshold) else curves["cell"].map(threshold)
    hit = curves[curves[column] >= limit]
    first = hit.groupby(["cell", "seed"])["step"].min()
    runs = curves.groupby(["cell", "seed"]).size().index
    return first.reindex(runs).astype(float)


def value_at(curves, step, column="train_accuracy"):
    """Per (cell, seed): ``column`` at the run's last logged step <= ``step`` (logged steps
    are geometric, so a window's end rarely is one)."""
    logged = curves[curves["step"] <= step]
    last = logged["step"].eq(logged.groupby(["cell", "seed"])["step"].transform("max"))
    return logged[last].set_index(["cell", "seed"])[column]


# ---- learning-rate sweeps -------------------------------------------------------------


def lr_optimum(log_lrs, losses):
    """(log lr of the optimum, lowest loss, side) over one sweep: the vertex of the
    parabola through the lowest loss and its two neighbours on the grid, kept within them
    (side 0). On the grid's edge the optimum may lie beyond it: the edge's log lr, side -1
    on the lowest (the optimum is at most it; so too when no loss is finite: every rate
    diverged), +1 on the highest (at least it). A non-finite neighbour (a diverged run)
    leaves the grid point itself."""
    order = np.argsort(log_lrs)
    x, y = np.asarray(log_lrs, float)[order], np.asarray(losses, float)[order]
    i = int(np.argmin(y))
    if not np.isfinite(y[i]) or i == 0:
        return float(x[0]), float(y[i]), -1
    if i == len(y) - 1:
        return float(x[i]), float(y[i]), 1
    if not np.isfinite(y[[i - 1, i + 1]]).all():
        return float(x[i]), float(y[i]), 0
    a, b, _ = np.polyfit(x[i - 1 : i + 2], y[i - 1 : i + 2], 2)
    vertex = -b / (2 * a) if a > 0 else x[i]
    return float(np.clip(vertex, x[i - 1], x[i + 1])), float(y[i]), 0


def largest_trainable_lr(runs):
    """Per cell group of one sweep (rows of a runs table with an lr column): the largest lr
    at which the run made progress (see made_no_progress); NaN when none did."""
    progressed = runs[~made_no_progress(runs)]
    return progressed["lr"].max() if len(progressed) else np.nan


# ---- gradients at init ----------------------------------------------------------------


VANISHED_DECADES = -1.0  # "the gradient vanished": log10 ||dL/dz_1|| / ||dL/dz_L|| below this


def first_layer_decades(layers):
    """Per run (cell, seed): log10 ||dL/dz_1|| / ||dL/dz_L|| at init, the share of the
    back-propagated gradient that reaches the first hidden layer from the output layer, in
    decades (-inf: none of it, a net born dead)."""
    init = layers[layers["step"].eq(0)]
    ratio = gradient_ratio_at_init(init, top="output")
    with np.errstate(divide="ignore", invalid="ignore"):
        decades = np.log10(ratio.to_numpy(dtype=float))
    first = init.assign(decades=decades)[init["layer"].eq(1)]
    return first[["cell", "seed", "decades"]].reset_index(drop=True)


def gradient_ratio_at_init(init, top="output"):
    """Per row of the layers table at step 0: ||dL/dz_l|| over the same run's ||dL/dz|| at
    the top layer, the output layer (``top="output"``) or the last hidden one ("hidden").
    One definition for the claims that ask how much of the gradient reaches the input."""
    if top not in ("output", "hidden"):
        raise ValueError(f"top must be 'output' or 'hidden', got {top!r}")
    top_layer = init["depth"] - (0 if top == "output" else 1)
    norms = init[init["layer"].eq(top_layer)].set_index(["cell", "seed"])["grad_z_norm"]
    at_top = init.join(norms.rename("_top"), on=["cell", "seed"])["_top"]
    return init["grad_z_norm"] / at_top


# ---- medians and columns --------------------------------------------------------------


def finite(series):
    """inf counted as missing."""
    return series.replace([np.inf, -np.inf], np.nan)


def quantiles(df, keys, value):
    """Median (``mid``) and interquartile range (``lo``, ``hi``) of ``value`` per ``keys``."""
    df = df.assign(**{value: finite(df[value])})
    g = df.groupby(keys, sort=True, observed=True)[value]
    out = pd.DataFrame({"lo": g.quantile(0.25), "mid": g.median(), "hi": g.quantile(0.75)})
    return out.reset_index()


def median_curve(curves, keys, value):
    """Median over seeds of ``value`` at each logged step, per group of ``keys``."""
    return curves.groupby([*keys, "step"], as_index=False)[value].median()


def param(df, name, default=np.nan):
    """One init parameter per row, from the JSON ``init_params`` column (numbers as floats;
    text when ``default`` is text)."""
    column = decoded(df["init_params"]).map(lambda params: params.get(name, default))
    return column if isinstance(default, str) else column.astype(float)


def with_mean_field_params(df):
    """``df`` with the mean-field init's sigma_w2 and sigma_b2 as columns."""
    return df.assign(sigma_w2=param(df, "sigma_w2"), sigma_b2=param(df, "sigma_b2", 0.0))


def with_theory(df, theory):
    """``df`` (with mean-field parameter columns) with the theory table's predictions at
    its settings: NaN where the table has none (results aggregated before it existed)."""
    if not len(theory):
        return df.assign(**{name: np.nan for name in PREDICTED})
    cells = theory.loc[theory["kind"] == "cell", [*THEORY_KEYS, *PREDICTED]]
    return df.merge(cells, on=list(THEORY_KEYS), how="left")


def theory_curve(theory, activation, sigma_b2):
    """The theory table's curve for one (activation, sigma_b2), by increasing sigma_w2."""
    if not len(theory):
        return pd.DataFrame(columns=[*THEORY_KEYS, *PREDICTED])
    on_curve = (theory["kind"] == "curve") & (theory["activation"] == activation)
    return theory[on_curve & (theory["sigma_b2"] == sigma_b2)].sort_values("sigma_w2")


def n_hidden(df):
    return decoded(df["hidden"]).map(len)
