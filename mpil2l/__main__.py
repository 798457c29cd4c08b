"""``python -m mpil2l``: inspect a results log, read the optimizers' documentation.

    python -m mpil2l summary results.h5            # facts, statuses, best, generations
    python -m mpil2l export results.h5 [-o x.csv]  # one CSV row per attempt
    python -m mpil2l plot results.h5 [-o x.png]    # best and mean weighted fitness
    python -m mpil2l repair results.h5             # a parallel log killed while growing it
    python -m mpil2l optimizers [NAME]             # the optimizers, or one optimizer's page

A missing or unreadable file ends with one line on stderr and exit status 2.
"""

import argparse
import os
import sys

import h5py

from .storage import presentation
from .storage.errors import LogInUseError, ResultsLogError
from .storage.repair import repair_truncated


def _default_output(path, suffix):
    root, ext = os.path.splitext(path)
    return (root if ext in (".h5", ".hdf5") else path) + suffix


def _summary(args):
    sys.stdout.write(presentation.summary(args.file, max_generations=args.generations))


def _export(args):
    out = args.output or _default_output(args.file, ".csv")
    n = presentation.export_csv(args.file, out)
    print(f"wrote {n} attempt(s) to {out}")


def _plot(args):
    out = args.output or _default_output(args.file, ".png")
    presentation.plot(args.file, out)
    print(f"wrote {out}")


def _repair(args):
    size = os.path.getsize(args.file)
    if repair_truncated(args.file):
        added = os.path.getsize(args.file) - size
        print(
            f"extended {args.file} by {added} byte(s) of zeros to the end HDF5 recorded; "
            "it reads as a whole log again"
        )
        return
    try:
        h5py.File(args.file, "r", locking=False).close()
    except OSError as exc:
        raise ResultsLogError(
            f"{args.file!r} is not repaired and left byte for byte as it was: "
            "only a log that a killed parallel run left shorter than HDF5 recorded, "
            f"with no written data missing, can be ({exc})"
        ) from None
    print(f"{args.file} opens as it is: nothing to repair")


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
    parser = argparse.ArgumentParser(
        prog="python -m mpil2l",
        description="Inspect an mpil2l results log (HDF5), or read the optimizers' documentation.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    summary = commands.add_parser(
        "summary", help="print the run's facts, statuses, best individuals, generations"
    )
    summary.add_argument("file", help="the results log")
    summary.add_argument(
        "-g",
        "--generations",
        type=int,
        default=20,
        metavar="N",
        help="show at most N generations, the first and last N/2 (default 20; 0: all)",
    )
    summary.set_defaults(run=_summary)

    export = commands.add_parser("export", help="write one CSV row per attempt")
    export.add_argument("file", help="the results log")
    export.add_argument("-o", "--output", help="the CSV file (default: FILE with .csv)")
    export.set_defaults(run=_export)

    plot = commands.add_parser(
        "plot", help="plot best and mean weighted fitness per generation (needs matplotlib)"
    )
    plot.add_argument("file", help="the results log")
    plot.add_argument("-o", "--output", help="the PNG file (default: FILE with .png)")
    plot.set_defaults(run=_plot)

    repair = commands.add_parser(
        "repair",
        help="make readable a parallel log that a killed job left shorter than HDF5 recorded "
        "(anything else is left as it is)",
    )
    repair.add_argument("file", help="the results log")
    repair.set_defaults(run=_repair)

    optimizers = commands.add_parser(
        "optimizers",
        help="list the optimizers, or print one optimizer's page (algorithm, parameters, defaults)",
    )
    optimizers.add_argument(
        "name", nargs="?", help="an optimizer, e.g. GeneticAlgorithm or CrossEntropyOptimizer"
    )
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
