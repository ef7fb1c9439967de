"""Command line: ``initbench run`` trains one cell, ``initbench bench`` times the kernels,
``initbench advise`` says which init suits a net, ``initbench status`` where a study stands."""

import argparse
import json
import sys
from dataclasses import fields

from tqdm.auto import tqdm

from .settings import CELL_DEFAULTS, FIELDS, TrainSettings


def _seeds(text):
    message = f"--seeds must be comma-separated non-negative ints, got {text!r}"
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if min(seeds) < 0:
        raise argparse.ArgumentTypeError(message)
    return seeds


def _flag(text):
    """true/false (also yes/no, 1/0) for a bool setting."""
    value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if text.lower() not in value:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value[text.lower()]


_ARG_TYPES = {bool: _flag}


def _param(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _run(args):
    from .cell import Cell, layer_sizes
    from .datasets import load_dataset
    from .engine.checks import check_architecture
    from .trainer import train_cell

    for name in ("depth", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    data = load_dataset(args.dataset, seed=args.data_seed)
    cell = Cell(
        dataset=args.dataset, activation=args.activation, init=args.init, scheme=args.init,
        hidden=(args.width,) * (args.depth - 1), seeds=args.seeds,
        training=TrainSettings(**{name: getattr(args, name) for name in FIELDS}),
        loss=args.loss or data.default_loss, dtype=args.dtype, init_params=dict(args.init_param),
    )  # fmt: skip
    check_architecture(cell.training, layer_sizes(data, cell.hidden))  # before the bar
    bar = tqdm(total=len(cell.seeds), desc=cell.name, unit="seed", file=sys.stderr)
    lines = []

    def report(seed, res, seconds):
        last = res.history.iloc[-1]
        lines.append(
            f"seed {seed}: {res.status}"
            + (f" at step {res.diverged_step}" if res.diverged_step is not None else "")
            + f", train loss {last['train_loss']:.4g}, train acc {last['train_accuracy']:.3f}"
            + f", test acc {last['test_accuracy']:.3f}, {seconds:.2f} s"
        )
        bar.update()

    runs, curves, layers = train_cell(cell, data, on_seed_done=report)
    bar.close()
    out = args.out or f"{cell.name}.parquet"
    runs.to_parquet(out)
    curves.to_parquet(out.replace(".parquet", "-curves.parquet"))
    layers.to_parquet(out.replace(".parquet", "-layers.parquet"))
    print("\n".join(lines))
    print(f"wrote {out} (+ -curves, -layers)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="initbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train one cell over several seeds, write parquet tables")
    run.add_argument("--dataset", required=True)
    run.add_argument("--activation", required=True)
    run.add_argument("--init", required=True)
    run.add_argument("--init-param", type=_param, action="append", default=[],
                     metavar="KEY=VALUE", help="init scheme parameter, repeatable")  # fmt: skip
    run.add_argument("--depth", type=int, required=True, help="number of weight layers")
    run.add_argument("--width", type=int, required=True)
    run.add_argument("--seeds", type=_seeds, default=CELL_DEFAULTS["seeds"])
    for f in fields(TrainSettings):  # one option per training setting, its default
        run.add_argument(f"--{f.name.replace('_', '-')}", type=_ARG_TYPES.get(f.type, f.type),
                         default=f.default)  # fmt: skip
    run.add_argument("--loss", default=None, help="default: the dataset's natural loss")
    run.add_argument("--dtype", choices=("float32", "float64"), default=CELL_DEFAULTS["dtype"])
    run.add_argument("--data-seed", type=int, default=0)
    run.add_argument("--out", default=None, help="runs table path (default: <cell>.parquet)")
    run.set_defaults(func=_run)

    from .advise_cli import add_parser as add_advise_parser
    from .bench import add_parser as add_bench_parser
    from .status import add_parser as add_status_parser

    add_bench_parser(sub)
    add_advise_parser(sub)
    add_status_parser(sub)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ValueError as error:
        parser.exit(2, f"initbench {args.command}: error: {error}\n")


if __name__ == "__main__":
    main()
