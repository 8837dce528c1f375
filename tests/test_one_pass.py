"""Laziness and the single pass: nothing computes while the graph is built; a run is one dask
computation in which every input block is read exactly once."""

from __future__ import annotations

import collections

import dask
import numpy as np
from dask.callbacks import Callback

import gepgeo
from gepgeo.demo import sample_root
from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline

from .test_services_vs_oracle import ALWAYS, CODES, _build


class _Counting:
    """A dask scheduler that counts its calls and refuses more than ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        self.calls += 1
        if self.calls > self.limit:
            raise RuntimeError(f"dask computed {self.calls} times; at most {self.limit} allowed")
        return dask.get(dsk, keys, **kwargs)


class _TaskCounter(Callback):
    """Counts how often each task whose key starts with ``prefix`` is executed."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.runs: collections.Counter = collections.Counter()

    def _pretask(self, key, dsk, state):
        name = key[0] if isinstance(key, tuple) else key
        if str(name).startswith(self.prefix):
            self.runs[key] += 1


def test_building_the_dataset_computes_nothing():
    rng = np.random.default_rng(0)
    forms = {k: "raster" for k in ALWAYS + ["lambda_over_rho", "water_retention_depth",
             "grain_output_value_per_ha", "agri_output_value_per_ha"]}
    lu, lu_da, params, _, _ = _build(40, 30, rng, forms, False, 0.1)
    lu_da = lu_da.chunk({"y": 16, "x": 16})
    params = {k: (v.chunk({"y": 16, "x": 16}) if hasattr(v, "chunk") else v)
              for k, v in params.items()}
    with dask.config.set(scheduler=_Counting(limit=0)):
        ds = gepgeo.compute_services(lu_da, CODES, params, no_services=["mine"])
        assert isinstance(ds["gep"].data, dask.array.Array)
    # computing two variables together runs the kernel once per block
    kernels = _TaskCounter("gepgeo-kernel-")
    with kernels, dask.config.set(scheduler="sync"):
        dask.compute(ds["gep"].data, ds["totals"].data)
    assert len(kernels.runs) == 3 * 2 and set(kernels.runs.values()) == {1}


def test_a_run_is_one_computation_reading_each_block_once(tmp_path, monkeypatch):
    import threading

    import gepgeo.io

    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_before.yaml")
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"chunk_size": 64})})
    reads: collections.Counter = collections.Counter()
    lock = threading.Lock()
    real = gepgeo.io.read_window

    def counting_read(src, row, col, height, width, out=None):   # every block read goes here
        with lock:
            reads[(src.path, row, col, height, width)] += 1
        return real(src, row, col, height, width, out=out)

    monkeypatch.setattr(gepgeo.io, "read_window", counting_read)
    kernels = _TaskCounter("gepgeo-kernel-")
    with kernels, dask.config.set(scheduler=_Counting(limit=1)):
        run_pipeline(pipe, tmp_path / "out", quiet=True)
    # 110 x 100 pixels in 64-pixel chunks: 2 x 2 blocks, 3 rasters (land use, R, LS)
    assert len({key[0] for key in reads}) == 3
    assert len(reads) == 12
    assert set(reads.values()) == {1}
    # and the kernel runs once per block
    assert len(kernels.runs) == 4 and set(kernels.runs.values()) == {1}



def test_layers_read_by_the_kernel_task_give_the_same_sums_as_through_dask(tmp_path,
                                                                          monkeypatch):
    """Factor layers read unchanged from files are read by the kernel task itself, into its
    layer stack (gepgeo.io.block_source); forcing them through dask read tasks instead must
    not change a bit of the totals or the map."""
    import gepgeo.io
    from gepgeo.compute import build_dataset
    from gepgeo.run import prepare

    pipe = load_pipeline(_generate(200, tmp_path / "in"))     # smooth fields, patchy land use
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"chunk_size": 96})})

    def sums():
        prep = prepare(pipe)
        ds = build_dataset(prep.land_use, prep.codes, prep.plan, maps=["gep"], chunks=prep.chunk)
        return [np.asarray(v) for v in dask.compute(ds["totals"].data, ds["pixel_stats"].data,
                                                    ds["gep"].data, scheduler="sync")]

    found = []
    real = gepgeo.io.block_source
    monkeypatch.setattr(gepgeo.io, "block_source", lambda d: found.append(real(d)) or found[-1])
    direct = sums()
    assert found and all(s is not None for s in found)      # every layer took the direct path
    monkeypatch.setattr(gepgeo.io, "block_source", lambda d: None)
    through_dask = sums()
    for a, b in zip(direct, through_dask):
        assert np.array_equal(a, b, equal_nan=True)
    assert np.isfinite(direct[2]).any()


def _generate(n: int, out):
    """The benchmark's input generator (benchmarks/generate.py), imported by path."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("gepgeo_bench_generate", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.generate(n, out)


class _LargestResult(Callback):
    """Records the largest NumPy array any task returns (inside tuples too)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = (0, None)

    def _posttask(self, key, result, dsk, state, worker_id):
        stack = [result]
        while stack:
            r = stack.pop()
            if isinstance(r, (tuple, list)):
                stack.extend(r)
            elif isinstance(r, np.ndarray) and r.size > self.largest[0]:
                self.largest = (r.size, key)


def test_no_task_holds_a_full_raster(tmp_path, monkeypatch):
    """No array larger than one block exists during a run: every task (reads, kernel, folds)
    returns at most one block of pixels, and every array the kernel works on (land use,
    layer stack, maps) is one block (per band)."""
    import gepgeo.kernel

    pipe = load_pipeline(_generate(256, tmp_path / "in"))
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(
        update={"chunk_size": 64, "report": False})})
    kernel_pixels = []
    real = gepgeo.kernel.gep_block

    def spy(*args):
        kernel_pixels.append(max(int(np.prod(a.shape[-2:])) for a in args
                                 if isinstance(a, np.ndarray) and a.ndim >= 2))
        return real(*args)

    monkeypatch.setattr(gepgeo.kernel, "gep_block", spy)
    seen = _LargestResult()
    with seen, dask.config.set(scheduler="sync"):
        run_pipeline(pipe, tmp_path / "out", quiet=True)
    size, key = seen.largest
    assert 0 < size <= 64 * 64, (size, key)      # a 64² block; the raster is 256²
    assert len(kernel_pixels) == 16 and max(kernel_pixels) == 64 * 64


def test_blocks_run_in_row_order_so_map_writers_hold_almost_nothing(tmp_path, monkeypatch):
    """Map files are written in row-major block order; a block that finishes early waits (as
    a copy) in its writer. The kernel tasks must therefore run close to row-major order: a
    task shared by a column of blocks once made dask run them so that the writers held 2/3 of
    all blocks (+400 MiB at 4000²)."""
    import gepgeo.io

    pipe = load_pipeline(_generate(256, tmp_path / "in"))
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(
        update={"chunk_size": 32, "report": False})})
    held: list[int] = []
    real_close = gepgeo.io.GeoTiffBlockWriter.close

    def close(self):
        held.append(self.max_pending)
        real_close(self)

    monkeypatch.setattr(gepgeo.io.GeoTiffBlockWriter, "close", close)
    order: list[tuple[int, int]] = []
    real_write = gepgeo.io.GeoTiffBlockWriter._write_locked

    def write(self, key, window, value):       # every block write goes through it
        if self.path.name.startswith("gep"):
            order.append((key[0].start, key[1].start))
        real_write(self, key, window, value)

    monkeypatch.setattr(gepgeo.io.GeoTiffBlockWriter, "_write_locked", write)
    with dask.config.set(scheduler="sync"):
        run_pipeline(pipe, tmp_path / "out", quiet=True)
    assert len(order) == 8 * 8                      # 256² pixels in 32-pixel blocks
    assert held and max(held) <= 2, held
    rows = [r for r, _ in order]
    assert rows == sorted(rows)                     # a row of blocks is done before the next


def test_default_block_size_depends_on_the_grid_only(tmp_path):
    from gepgeo.io import auto_chunk
    from gepgeo.run import prepare

    # 1024² blocks once the grid holds 16 of them; 512² below, so small grids still split
    assert auto_chunk((4000, 4000)) == 1024
    assert auto_chunk((4096, 3073)) == 1024
    assert auto_chunk((4096, 3072)) == 512
    assert auto_chunk((1000, 1000)) == 512
    assert auto_chunk((100, 50)) == 512
    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_before.yaml")
    assert pipe.options.chunk_size is None
    prep = prepare(pipe)
    assert prep.chunk == auto_chunk(prep.land_use_info.shape)
    assert prep.land_use.data.chunks[0][0] == min(prep.chunk, prep.land_use_info.shape[0])
    assert prep.plan.rasters   # the factor layers come in the land use's blocks
    for p in prep.plan.rasters:
        assert p.value.data.chunks == prep.land_use.data.chunks, p.key
    # the manifest records the block side the run used (it fixes the order of the sums)
    res = run_pipeline(pipe.model_copy(update={"options": pipe.options.model_copy(
        update={"report": False})}), tmp_path / "run")
    assert res.manifest["options"]["chunk_size"] == prep.chunk
    # an explicit chunk_size wins
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"chunk_size": 32})})
    prep = prepare(pipe)
    assert prep.chunk == 32 and prep.land_use.data.chunks[0][0] == 32
    assert all(p.value.data.chunks == prep.land_use.data.chunks for p in prep.plan.rasters)


def test_each_input_is_opened_once_when_one_thread_reads(tmp_path, monkeypatch):
    """The handle opened to check a layer's metadata is the one its first reading thread uses
    (``gepgeo.io._seed``): with one worker thread, a run opens every input raster once."""
    import rasterio

    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_before.yaml")
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"chunk_size": 64})})
    opens: collections.Counter = collections.Counter()
    real = rasterio.open

    def counting_open(fp, mode="r", *args, **kwargs):
        if mode == "r":
            opens[str(fp)] += 1
        return real(fp, mode, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", counting_open)
    with dask.config.set(scheduler="threads", num_workers=1):
        run_pipeline(pipe, tmp_path / "out", quiet=True, report=False)
    inputs = {str(pipe.resolve(pipe.land_use.path))} | {
        str(pipe.resolve(spec.path)) for spec in pipe.parameters.values()
        if getattr(spec, "path", None) is not None}
    assert len(inputs) == 3
    assert {p: opens[p] for p in inputs} == {p: 1 for p in inputs}


def test_metadata_handles_are_closed_when_no_run_reads_them(tmp_path):
    """Handles kept for the reads live only inside a run: ``validate``, a run whose set-up
    fails after the land use was opened, and ``account`` leave none open."""
    import gepgeo.io
    from gepgeo.errors import GepgeoError
    from gepgeo.run import account, validate

    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_before.yaml")
    validate(pipe)
    assert gepgeo.io._SEEDS == {}
    account(pipe)
    assert gepgeo.io._SEEDS == {}
    key, spec = next((k, v) for k, v in pipe.parameters.items() if getattr(v, "path", None))
    broken = pipe.model_copy(update={"parameters": {
        **pipe.parameters, key: spec.model_copy(update={"path": tmp_path / "missing.tif"})}})
    try:
        run_pipeline(broken, tmp_path / "out", quiet=True)
    except GepgeoError:
        pass
    else:
        raise AssertionError("a missing layer file must fail the run")
    assert gepgeo.io._SEEDS == {}
    assert not (tmp_path / "out").exists()


def test_lazy_layers_answer_any_selection_like_the_file(tmp_path):
    """Selections that dask folds into the read tasks (steps, integers, reversed slices, lists)
    give the same pixels as reading the whole file."""
    import uuid

    from affine import Affine

    from gepgeo.io import BlockSource, lazy_band, read_info

    from .helpers import read_band, write_tif

    rng = np.random.default_rng(3)
    data = rng.random((70, 90), dtype=np.float32)
    path = tmp_path / "r.tif"
    write_tif(path, data, Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0))
    full = read_band(path)
    info = read_info(path, what="r")
    arr = lazy_band(BlockSource(str(path), token=uuid.uuid4().hex), info.shape, info.dtype,
                    info.transform, info.crs, chunks=32)
    for key in [(5,), (-1,), (slice(None, None, 4),), (slice(60, 3, -7), slice(None, None, 3)),
                (slice(2, 50), -3), (slice(10, 10),), ([3, 1, 40],), (7, slice(None, None, -1)),
                (slice(-20, None, 3), [0, 89])]:
        got = arr.data[key].compute()
        assert got.shape == full[key].shape and np.array_equal(got, full[key]), key
    assert np.array_equal(arr.thin(4).values, full[::4, ::4])
    assert np.array_equal(arr.isel(y=5).values, full[5])
