"""A local 2-process dask.distributed cluster gives results identical to the threaded scheduler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rasterio

from gepgeo.demo import sample_root
from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline

from .helpers import folder_files


def test_two_process_cluster_matches_threads(tmp_path):
    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_after.yaml")
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"chunk_size": 64})})
    a = run_pipeline(pipe, tmp_path / "threads", quiet=True, report=False)
    b = run_pipeline(pipe, tmp_path / "cluster", quiet=True, workers=2, report=False)
    assert b.manifest["engine"].startswith("tcp://")
    pd.testing.assert_frame_equal(a.tidy, b.tidy, check_exact=False, rtol=1e-12)
    for name in a.manifest["maps"]:
        with rasterio.open(a.out / "maps" / f"{name}.tif") as x, \
             rasterio.open(b.out / "maps" / f"{name}.tif") as y:
            np.testing.assert_array_equal(x.read(1), y.read(1))
            assert y.units == x.units and y.descriptions == x.descriptions


def test_cluster_maps_are_byte_identical_to_threaded_maps(tmp_path):
    # workers write blocks in the order they finish and GDAL appends each tile where it is
    # written: two cluster runs gave maps with equal pixels but different bytes
    from .test_atomic_and_determinism import _grid

    # 36 blocks, 2 maps (GEP, soil retention); each block costs a cluster run ~45 ms (a locked
    # open, write and close of each shared map file), so not the 100 of the threaded test
    p = _grid(tmp_path, 384, 64)
    pipe = load_pipeline(p)
    plain = pipe.model_copy(update={"options": pipe.options.model_copy(update={"cog": False})})
    cog = pipe.model_copy(update={"options": pipe.options.model_copy(update={"cog": True})})
    from distributed import LocalCluster

    # one cluster for both runs, reached by its address (as --scheduler does); its workers
    # write the maps in the order their blocks finish, whatever the run made the cluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        runs = []
        for name, pl in (("plain", plain), ("cog", cog)):
            a = run_pipeline(pl, tmp_path / f"{name}-threads", quiet=True, report=False)
            b = run_pipeline(pl, tmp_path / f"{name}-cluster", quiet=True, report=False,
                             scheduler_address=cluster.scheduler_address)
            runs.append((name, a, b))
    for name, a, b in runs:
        assert b.manifest["engine"] == cluster.scheduler_address
        ma, mb = (folder_files(r.out / "maps", "*.tif") for r in (a, b))
        assert len(ma) >= 2 and sorted(ma) == sorted(mb), name
        for k in ma:
            assert ma[k] == mb[k], (name, k)
        assert not list((b.out / "maps").glob("*unordered*"))
