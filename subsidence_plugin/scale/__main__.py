"""Command line: the plugin's algorithms on a Dask cluster, with the Processing algorithms' parameter names.

    python -m subsidence_plugin.scale ALGORITHM_ID (--local N | --scheduler ADDRESS) [--tile ROWSxCOLS] NAME=VALUE ...

    python -m subsidence_plugin.scale subsidence:slope --local 2 INPUT=dem.tif OUTPUT=slope.tif
    python -m subsidence_plugin.scale subsidence:curvature --scheduler tcp://10.0.0.5:8786 \\
        INPUT=/shared/dem.tif OUTPUT=/shared/total.tif PLAN=/shared/plan.tif
    python -m subsidence_plugin.scale subsidence:kriging --local 4 INPUT=points.gpkg FIELD=velocity \\
        REFERENCE=dem.tif OUTPUT=velocity.tif NEIGHBOURS=32
    python -m subsidence_plugin.scale subsidence:applymodel --local 4 MODEL=cnn.pt STACK=stack.tif \\
        OUTPUT=surface.tif UNCERTAINTY=true MC_SAMPLES=20
    python -m subsidence_plugin.scale subsidence:filldepressions --local 4 INPUT=dem.tif EPSILON=true \\
        OUTPUT=filled.tif
    python -m subsidence_plugin.scale subsidence:flowaccumulation --local 4 INPUT=dem.tif METHOD=1 \\
        OUTPUT=accumulation.tif OUTPUT_SCA=sca.tif
"""
from __future__ import annotations

import argparse
import sys
import time

from .cluster import dask_client
from .terrain import DEFAULT_TILE, distributed_terrain

#: terrain algorithm id -> {output parameter: core product}; each also takes INPUT and BAND (default 1)
TERRAIN = {
    "subsidence:slope": {"OUTPUT": "slope", "OUTPUT_PERCENT": "slope_percent"},
    "subsidence:aspect": {"OUTPUT": "aspect"},
    "subsidence:curvature": {"OUTPUT": "total", "PLAN": "plan", "PROFILE": "profile"},
}
#: subsidence:kriging's parameters here (its defaults); VARIOGRAM 0 = the best model by leave-one-out RMSE
KRIGING = {"INPUT": None, "FIELD": None, "REFERENCE": None, "OUTPUT": None, "VARIOGRAM": "0", "NEIGHBOURS": "32",
           "DRIFT": "0", "N_LAGS": "20", "MAX_LAG": "0", "CV_POINTS": "1000", "SEED": "0"}
#: subsidence:applymodel's parameters here (patch-CNN model files)
APPLY_MODEL = {"MODEL": None, "STACK": None, "OUTPUT": None, "UNCERTAINTY": "false", "MC_SAMPLES": "20"}
#: subsidence:filldepressions's parameters here
FILL = {"INPUT": None, "BAND": "1", "EPSILON": "false", "OUTPUT": None}
#: subsidence:flowaccumulation's parameters here; METHOD 0 = MFD, 1 = D8
FLOW = {"INPUT": None, "BAND": "1", "METHOD": "0", "OUTPUT": None, "OUTPUT_SCA": ""}
SPECS = {**{name: {"INPUT": None, "BAND": "1", **{key: None if key == "OUTPUT" else "" for key in outputs}}
            for name, outputs in TERRAIN.items()},
         "subsidence:kriging": KRIGING, "subsidence:applymodel": APPLY_MODEL, "subsidence:filldepressions": FILL,
         "subsidence:flowaccumulation": FLOW}
ALGORITHMS = tuple(SPECS)


def _parameters(algorithm: str, pairs) -> dict:
    """NAME=VALUE pairs checked against the algorithm's parameters and completed with their defaults."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{algorithm}: not one of the algorithms that run on a cluster ({', '.join(ALGORITHMS)})")
    spec = SPECS[algorithm]
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in spec:
            raise ValueError(f"{pair!r}: give NAME=VALUE with NAME one of {', '.join(sorted(spec))}")
        parameters[name] = value
    required = [name for name, default in spec.items() if default is None]
    missing = [name for name in required if name not in parameters]
    if missing:
        raise ValueError(f"{algorithm} needs " + ", ".join(f"{name}=..." for name in missing))
    return {**{k: v for k, v in spec.items() if v is not None}, **parameters}


def _run(client, algorithm: str, parameters: dict, tile, progress) -> list:
    """Run one algorithm; returns the files written."""
    if algorithm == "subsidence:filldepressions":
        from .fill import DEFAULT_FILL_TILE, distributed_fill
        from .flow import distributed_epsilon_fill

        fill = distributed_epsilon_fill if parameters["EPSILON"].lower() in ("1", "true", "yes") else distributed_fill
        fill(client, parameters["INPUT"], parameters["OUTPUT"], int(parameters["BAND"]), tile or DEFAULT_FILL_TILE,
             progress=progress)
        return [parameters["OUTPUT"]]
    if algorithm == "subsidence:flowaccumulation":
        from .flow import DEFAULT_FLOW_TILE, distributed_flow_accumulation

        if parameters["METHOD"] not in ("0", "1"):
            raise ValueError(f"METHOD={parameters['METHOD']}: give 0 (multiple flow directions) or 1 (D8)")
        outputs = {"accumulation": parameters["OUTPUT"]}
        if parameters["OUTPUT_SCA"]:
            outputs["sca"] = parameters["OUTPUT_SCA"]
        method = "mfd" if parameters["METHOD"] == "0" else "d8"
        rounds = distributed_flow_accumulation(client, parameters["INPUT"], outputs, int(parameters["BAND"]),
                                               tile or DEFAULT_FLOW_TILE, method, progress=progress)
        print(f"the flats' distances settled after {rounds['rounds']} round(s) across the tiles, the flow after "
              f"{rounds['flow rounds']}")
        return list(outputs.values())
    if algorithm == "subsidence:applymodel":
        from .surface import distributed_surface

        uncertainty = parameters["UNCERTAINTY"].lower() in ("1", "true", "yes")
        distributed_surface(client, parameters["MODEL"], parameters["STACK"], parameters["OUTPUT"],
                            int(parameters["MC_SAMPLES"]) if uncertainty else 0, progress=progress)
        return [parameters["OUTPUT"]]
    if algorithm == "subsidence:kriging":
        from ..core.spatial.variogram import MODELS
        from .kriging import DEFAULT_KRIGING_TILE, krige_files

        values = parameters
        choice = int(values["VARIOGRAM"])
        variogram = krige_files(client, values["INPUT"], values["FIELD"], values["REFERENCE"], values["OUTPUT"],
                                list(MODELS) if choice == 0 else [MODELS[choice - 1]], int(values["NEIGHBOURS"]),
                                values["DRIFT"] == "1", int(values["N_LAGS"]), float(values["MAX_LAG"]),
                                int(values["CV_POINTS"]), int(values["SEED"]), tile or DEFAULT_KRIGING_TILE, progress)
        print(f"variogram: {variogram.model}, psill {variogram.psill:.4g}, range {variogram.range:.4g} m, nugget "
              f"{variogram.nugget:.4g}")
        return [values["OUTPUT"]]
    outputs = {product: parameters[key] for key, product in TERRAIN[algorithm].items() if parameters.get(key)}
    distributed_terrain(client, parameters["INPUT"], outputs, int(parameters.get("BAND", 1)), tile or DEFAULT_TILE,
                        progress=progress)
    return list(outputs.values())


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
    parser.add_argument("--tile", type=_tile, default=None,
                        help="tile size ROWSxCOLS (default 1024x1024 for terrain, the fill and flow, 256x256 for "
                             "kriging; applymodel: chunks of 4 x 4 dense tiles of 256)")
    parser.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_intermixed_args(argv)
    try:
        parameters = _parameters(args.algorithm, args.parameters)
        started = time.perf_counter()
        with dask_client(args.local, args.scheduler) as client:
            workers = len(client.scheduler_info()["workers"])
            print(f"{args.algorithm} on {workers} worker(s)", flush=True)
            written = _run(client, args.algorithm, parameters, args.tile,
                           lambda percent, text: print(f"  {percent:5.1f} % {text}", flush=True))
        print(f"wrote {', '.join(written)} in {time.perf_counter() - started:.1f} s")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
