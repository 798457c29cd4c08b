"""``python -m mpil2l``: inspect a results log, read the optimizers' documentation.

    python -m mpil2l summary results.h5            # facts, statuses, best, generations
    python -m mpil2l export results.h5 [-o x.csv]  # one CSV row per attempt
    python -m mpil2l plot results.h5 [-o x.png]    # best and mean weighted fitness
    python -m mpil2l optimizers [NAME]             # the optimizers, or one optimizer's page

A missing or unreadable file ends with one line on stderr and exit status 2.
"""

import argparse
import os
import sys

from .storage import reader
from .storage.results_log import LogInUseError, ResultsLogError


def _default_output(path, suffix):
    root, ext = os.path.splitext(path)
    return (root if ext in (".h5", ".hdf5") else path) + suffix


def _summary(args):
    sys.stdout.write(reader.summary(args.file, max_generations=args.generations))


def _export(args):
    out = args.output or _default_output(args.file, ".csv")
    n = reader.export_csv(args.file, out)
    print(f"wrote {n} attempt(s) to {out}")


def _plot(args):
    out = args.output or _default_output(args.file, ".png")
    reader.plot(args.file, out)
    print(f"wrote {out}")


def _optimizers(args):
    from .optimizers import catalog

    if args.name is None:
        sys.stdout.write(catalog.index())
        return
    try:
        sys.stdout.write(catalog.page(args.name))
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m mpil2l", description="Inspect an mpil2l results log (HDF5), or read the optimizers' documentation.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    summary = commands.add_parser("summary", help="print the run's facts, statuses, best individuals, generations")
    summary.add_argument("file", help="the results log")
    summary.add_argument(
        "-g", "--generations", type=int, default=20, metavar="N",
        help="show at most N generations, the first and last N/2 (default 20; 0: all)",
    )
    summary.set_defaults(run=_summary)

    export = commands.add_parser("export", help="write one CSV row per attempt")
    export.add_argument("file", help="the results log")
    export.add_argument("-o", "--output", help="the CSV file (default: FILE with .csv)")
    export.set_defaults(run=_export)

    plot = commands.add_parser("plot", help="plot best and mean weighted fitness per generation (needs matplotlib)")
    plot.add_argument("file", help="the results log")
    plot.add_argument("-o", "--output", help="the PNG file (default: FILE with .png)")
    plot.set_defaults(run=_plot)

    optimizers = commands.add_parser(
        "optimizers", help="list the optimizers, or print one optimizer's page (algorithm, parameters, defaults)"
    )
    optimizers.add_argument("name", nargs="?", help="an optimizer, e.g. GeneticAlgorithm or CrossEntropyOptimizer")
    optimizers.set_defaults(run=_optimizers)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if getattr(args, "generations", None) == 0:
        args.generations = None
    try:
        args.run(args)
    except (OSError, ValueError, KeyError, ImportError, LogInUseError, ResultsLogError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"python -m mpil2l {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
