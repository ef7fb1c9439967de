"""``initbench advise`` on the command line: its options, and the advice as text."""

import json
from pathlib import Path

from .advise import advise, depth_text, q_text
from .layout import RESULTS, Layout
from .settings import PARAMETRIZATIONS
from .text import fnum, gnum, shorten


def render(advice):
    """The advice as text: a header, the table, the recommendation, the evidence cells."""
    a = advice
    lines = [
        f"initbench advise: {a['activation']}, depth {a['depth']} "
        f"({a['depth'] - 1} hidden layers of {a['width']})"
    ]
    if a["results"] is None:
        lines.append("evidence: none (theory only: no results read)")
    else:
        n = a["nearby"]
        lines.append(
            f"evidence: {a['results']}, cells of {a['activation']} with depth within "
            f"x{n['depth_factor']:g} and width within x{n['width_factor']:g}"
        )
    head = [
        "scheme",
        "sw2",
        "sb2",
        "q*",
        "chi1",
        "xi_c",
        "6xi_c",
        "signal x",
        "grad x",
        "trained",
        "steps",
        "claims / note",
    ]
    table = [head]
    for r in a["rows"]:
        measured = f"{r['trained']}/{len(r['cells'])}" if r["cells"] else "-"
        table.append(
            [
                r["label"],
                gnum(r["sigma_w2"], 4),
                gnum(r["sigma_b2"], 3),
                q_text(r["q_star"]),
                gnum(r["chi1"], 4),
                gnum(r["xi_c"], 3),
                depth_text(r["trainable_depth"]),
                gnum(r["signal_growth"]),
                gnum(r["gradient_growth"]),
                measured,
                fnum(r["steps_to_target"], 0),
                "; ".join([*r["claims"], shorten(r["note"], 60)]),
            ]
        )
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head) - 1)]
    for row in table:
        cells = [
            str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join([*cells, row[-1].strip("; ")]).rstrip())
    lines += [f"note, {r['label']}: {r['note']}" for r in a["rows"] if len(r["note"]) > 60]
    lines += [f"recommendation: {a['recommendation']}; {a['lr']}", f"why: {a['why']}"]
    if a["parametrization"]:
        p = a["parametrization"]
        lines.append(f"{p['parametrization']} at width {a['width']}, base width "
                     f"{p['base_width']}: multipliers against sp there (init std, lr of "
                     "weights, lr of biases)")  # fmt: skip
        lines += [f"  {r['optimizer']:5} {r['layers']:8} init x{gnum(r['init_std'], 3)}  lr W "
                  f"x{gnum(r['lr_weights'], 3)}  lr b x{gnum(r['lr_biases'], 3)}"
                  for r in p["rows"]]  # fmt: skip
    listed = [r for r in a["rows"] if r["cells"]]
    if listed:
        lines.append("evidence cells:")
        lines += [f"  {r['label']}: {', '.join(r['cells'])}" for r in listed]
    return "\n".join(lines)


# The engine trains these (architecture: residual, norm: layernorm), but the theory here
# is mean-field theory of plain nets, and the evidence reads plain cells.
UNSUPPORTED = {"residual": "residual nets", "norm": "normalized nets"}


def add_parser(sub):
    """``initbench advise``: the subcommand and its options."""
    p = sub.add_parser("advise", help="which init for a net: theory, and nearby measured cells")
    p.add_argument("--activation", required=True)
    p.add_argument("--depth", type=int, required=True, help="number of weight layers")
    p.add_argument("--width", type=int, required=True)
    p.add_argument(
        "--results",
        default=None,
        help="results directory to take evidence from (default: ./results if it "
        "holds aggregated tables, else theory only)",
    )
    p.add_argument(
        "--configfile", default=None, help="a study config: its plugins' schemes get rows too"
    )
    p.add_argument("--json", action="store_true", help="print the advice as JSON")
    p.add_argument("--parametrization", default=None, choices=PARAMETRIZATIONS,
                   help="add its per-layer multipliers against sp at --base-width")  # fmt: skip
    p.add_argument("--base-width", type=int, default=0, help="the width where it equals sp")
    # Accepted, so that they fail with a message rather than a usage line (UNSUPPORTED)
    p.add_argument("--residual", action="store_true", help="not advised on yet")
    p.add_argument("--norm", default=None, help="not advised on yet")
    p.set_defaults(func=_command)


def _command(args):
    for name, what in UNSUPPORTED.items():
        if getattr(args, name):
            why = "its mean-field theory is of plain nets; the engine trains them"
            raise ValueError(f"--{name}: advise has no theory for {what} yet ({why})")
    config = None
    if args.configfile:
        config = _plugin_config(args.configfile)
    results = args.results
    if results is not None and not Path(results).is_dir():
        raise ValueError(f"--results: no such directory: {results!r}")
    if results is None and Layout().table("runs").exists():
        results = str(RESULTS)
    advice = advise(args.activation, args.depth, args.width, results, config,
                    args.parametrization, args.base_width)  # fmt: skip
    print(json.dumps(advice, indent=1, default=str) if args.json else render(advice))


def _plugin_config(path):
    """A study config's init labels, its plugins imported (they register schemes)."""
    import yaml

    from .config import check_config_files, check_schema, load_plugins

    check_config_files([path])
    config = yaml.safe_load(Path(path).read_text())
    check_schema(config)
    load_plugins(config)
    return config
