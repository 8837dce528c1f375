"""A local 2-process dask.distributed cluster gives results identical to the threaded scheduler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rasterio

from gepgeo.demo import sample_root
from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline


def test_two_process_cluster_matches_threads(tmp_path):
    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_after.yaml")
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"chunk_size": 64})})
    a = run_pipeline(pipe, tmp_path / "threads", quiet=True)
    b = run_pipeline(pipe, tmp_path / "cluster", quiet=True, workers=2)
    assert b.manifest["engine"].startswith("tcp://")
    pd.testing.assert_frame_equal(a.tidy, b.tidy, check_exact=False, rtol=1e-12)
    for name in a.manifest["maps"]:
        with rasterio.open(a.out / "maps" / f"{name}.tif") as x, \
             rasterio.open(b.out / "maps" / f"{name}.tif") as y:
            np.testing.assert_array_equal(x.read(1), y.read(1))
            assert y.units == x.units and y.descriptions == x.descriptions
