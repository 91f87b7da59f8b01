"""Command line: the plugin's algorithms on a Dask cluster, with the Processing algorithms' parameter names.

    python -m subsidence_plugin.scale ALGORITHM_ID (--local N | --scheduler ADDRESS) [--tile ROWSxCOLS] NAME=VALUE ...

    python -m subsidence_plugin.scale subsidence:slope --local 2 INPUT=dem.tif OUTPUT=slope.tif
    python -m subsidence_plugin.scale subsidence:curvature --scheduler tcp://10.0.0.5:8786 \\
        INPUT=/shared/dem.tif OUTPUT=/shared/total.tif PLAN=/shared/plan.tif
"""
from __future__ import annotations

import argparse
import sys
import time

from .cluster import dask_client
from .terrain import DEFAULT_TILE, distributed_terrain

#: algorithm id -> {output parameter: core product}; every one also takes INPUT and BAND (default 1)
ALGORITHMS = {
    "subsidence:slope": {"OUTPUT": "slope", "OUTPUT_PERCENT": "slope_percent"},
    "subsidence:aspect": {"OUTPUT": "aspect"},
    "subsidence:curvature": {"OUTPUT": "total", "PLAN": "plan", "PROFILE": "profile"},
}


def _parameters(algorithm: str, pairs) -> dict:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{algorithm}: not one of the algorithms that run on a cluster ({', '.join(ALGORITHMS)})")
    accepted = {"INPUT", "BAND", *ALGORITHMS[algorithm]}
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in accepted:
            raise ValueError(f"{pair!r}: give NAME=VALUE with NAME one of {', '.join(sorted(accepted))}")
        parameters[name] = value
    if "INPUT" not in parameters or "OUTPUT" not in parameters:
        raise ValueError(f"{algorithm} needs INPUT=... and OUTPUT=...")
    return parameters


def _tile(text: str):
    rows, sep, cols = text.lower().partition("x")
    if not sep or not rows.isdigit() or not cols.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: write the tile as ROWSxCOLS, e.g. 1024x1024")
    return int(rows), int(cols)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subsidence_plugin.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("algorithm", help=", ".join(ALGORITHMS))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", type=int, metavar="N", help="a LocalCluster of N one-thread workers")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--tile", type=_tile, default=DEFAULT_TILE, help="tile size ROWSxCOLS (default 1024x1024)")
    parser.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_intermixed_args(argv)
    try:
        parameters = _parameters(args.algorithm, args.parameters)
        outputs = {product: parameters[key] for key, product in ALGORITHMS[args.algorithm].items()
                   if key in parameters}
        started = time.perf_counter()
        with dask_client(args.local, args.scheduler) as client:
            workers = len(client.scheduler_info()["workers"])
            print(f"{args.algorithm} on {workers} worker(s), tiles of {args.tile[0]} x {args.tile[1]} cells",
                  flush=True)
            distributed_terrain(client, parameters["INPUT"], outputs, int(parameters.get("BAND", 1)), args.tile,
                                progress=lambda percent, text: print(f"  {percent:5.1f} % {text}", flush=True))
        print(f"wrote {', '.join(outputs.values())} in {time.perf_counter() - started:.1f} s")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
