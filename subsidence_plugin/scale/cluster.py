"""A Dask client for the plugin's tiled runs: a LocalCluster of N one-thread workers, or a running scheduler;
tasks submitted, their results taken as they complete with progress, and cancelled on request."""
from __future__ import annotations

import contextlib
import os
import time
from typing import Callable, Iterator, Optional, Sequence

from ..core.io.rasters import read_grid
from ..core.progress import Cancelled

#: The environment LocalCluster's nannies give their workers: one thread for the numeric libraries (the workers
#: are the parallelism), a small GDAL block cache (each tile is read once; GDAL's default, 5 % of the memory per
#: process, grew a worker to 780 MB on a 1.6 x 10^7-cell DEM), and not distributed's MALLOC_TRIM_THRESHOLD_=65536,
#: which made tiled kriging 2.4-2.7x slower (dask/distributed#4874).
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1, "GDAL_CACHEMAX": 64}


def _distributed():
    try:
        import dask
        import distributed
    except ImportError as error:
        raise ValueError("Running on a Dask cluster needs the optional packages of requirements/distributed.txt "
                         "(dask[distributed], zarr)") from error
    return dask, distributed


@contextlib.contextmanager
def dask_client(local: Optional[int] = None, scheduler: Optional[str] = None) -> Iterator[object]:
    """A ``distributed.Client``: on a new LocalCluster of ``local`` one-thread worker processes, or connected to
    the scheduler at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``); closed on exit."""
    if (local is None) == (scheduler is None):
        raise ValueError("Give either a number of local workers or a scheduler address")
    dask, distributed = _distributed()
    if scheduler is not None:
        with distributed.Client(scheduler) as client:
            yield client
        return
    if local < 1:
        raise ValueError(f"A local cluster needs at least one worker, got {local}")
    with dask.config.set({"distributed.nanny.pre-spawn-environ": dict(WORKER_ENVIRONMENT)}):
        with distributed.LocalCluster(n_workers=local, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
            yield client


def completed(client, function: Callable, items: Sequence, *args,
              progress: Optional[Callable[[float, str], None]] = None,
              is_cancelled: Optional[Callable[[], bool]] = None, label: str = "tiles") -> Iterator[tuple]:
    """Run ``function(item, *args)`` for every item on the cluster and yield (item, result) as they complete,
    reporting progress (0-100); a cancel or an error cancels the futures still pending and waits until the ones
    already running have ended."""
    futures = {client.submit(function, item, *args, pure=False): item for item in items}
    for item, future in finished(client, futures, progress, is_cancelled, label):
        yield item, future.result()


def finished(client, futures: dict, progress: Optional[Callable[[float, str], None]] = None,
             is_cancelled: Optional[Callable[[], bool]] = None, label: str = "tiles") -> Iterator[tuple]:
    """Yield (item, future) for the {future: item} ``futures`` as they complete (their results stay on the workers
    until asked for), reporting progress (0-100); a cancel or an error cancels the futures still pending and waits
    until the ones already running have ended. Raises the first task's error."""
    _, distributed = _distributed()
    pending = dict(futures)
    total, done = len(pending), 0
    try:
        for future in distributed.as_completed(list(pending)):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            if future.status == "error":
                future.result()
            done += 1
            if progress is not None:
                progress(100.0 * done / total, f"{done} of {total} {label}")
            yield pending.pop(future), future
    finally:
        if pending:
            keys = {future.key for future in pending}
            client.cancel(list(pending))
            _wait_until_stopped(client, keys)


def _executing(dask_worker) -> list:
    """On a worker: the keys of the tasks it is running."""
    return [task.key for task in dask_worker.state.executing]


def _wait_until_stopped(client, keys: set, timeout: float = 120.0) -> None:
    """Wait until no worker runs any of ``keys`` any more: a cancelled task that had started runs to its end, and
    one that writes into an output (a Zarr store) must be done before the output is removed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = {key for keys_of_worker in client.run(_executing).values() for key in keys_of_worker}
        if not running & keys:
            return
        time.sleep(0.05)


def _readable(path: str, raster: bool) -> str:
    """'' when this process (a worker) can read the file (open it as a raster with ``raster``), else why not."""
    if not os.path.exists(path):
        return f"{path} does not exist there"
    if raster:
        try:
            read_grid(path, require_crs=False)
        except ValueError as error:
            return str(error)
    return ""


def check_workers_read(client, path: str, raster: bool = True) -> None:
    """Refuse an input that a worker cannot open (a path local to this machine, not on storage they share)."""
    problems = {worker: problem for worker, problem in client.run(_readable, path, raster).items() if problem}
    if problems:
        worker, problem = next(iter(problems.items()))
        raise ValueError(f"{len(problems)} worker(s) cannot read the input (e.g. {worker}: {problem}); put it on "
                         "storage every worker reads (a shared file system, or a URL GDAL opens such as /vsis3/)")

