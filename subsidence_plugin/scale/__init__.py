"""The plugin's core algorithms on a Dask cluster (issue 16): rasters cut into tiles with the halo each kernel needs,
each tile computed by the same core function the Processing algorithm runs, on the workers of a
``distributed.Client`` (a LocalCluster on a laptop, dask-jobqueue on HPC, dask-kubernetes / dask-gateway), and the
tiles written into the same GeoTIFF (cloud-optimised). Core only: no QGIS, no Qt; dask and distributed are an
optional extra (``requirements/distributed.txt``) imported only when a cluster is used.

    python -m subsidence_plugin.scale subsidence:slope --local 2 INPUT=dem.tif OUTPUT=slope.tif
"""
