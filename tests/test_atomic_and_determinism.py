"""Interrupted runs leave nothing half-written; two runs give byte-identical outputs; random
mutations of a pipeline file end in success or a clean GepgeoError, never another exception."""

from __future__ import annotations

import copy
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from dask.callbacks import Callback
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gepgeo.demo import sample_root
from gepgeo.errors import GepgeoError
from gepgeo.io import GeoTiffBlockWriter, WriterClosedError
from gepgeo.pipeline import load_pipeline, parse_pipeline
from gepgeo.run import run_pipeline, validate

from .conftest import examples
from .helpers import (copy_sample, folder_files, gepgeo_command, read_band, read_yaml, write_tif,
                      write_yaml)


def _grid(tmp: Path, n: int, chunk: int, codec: str = "zstd") -> Path:
    """A synthetic n x n landscape with an R raster; a pipeline on the Jinsha profile."""
    rng = np.random.default_rng(1)
    t = Affine(10, 0, 600000, 0, -10, 3000000)
    yy, xx = np.mgrid[0:n, 0:n]
    lu = (1 + ((np.sin(xx / 37.0) + np.cos(yy / 23.0)) > 0)
          + ((xx + yy) % 97 < 30)).astype(np.uint8)
    lu[:3, :] = 0
    write_tif(tmp / "lu.tif", lu, t, nodata=0)
    r = (5000 + 1000 * np.sin(xx / 50.0) + rng.normal(0, 5, (n, n))).astype(np.float32)
    write_tif(tmp / "r.tif", r, t, nodata=-9999.0, unit="MJ mm ha-1 h-1 a-1", block=256)
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "dryland", 2: "forest", 3: "grassland"}},
           "profile": {"name": "jinsha-as-published", "scenario": "after"},
           "parameters": {"rainfall_erosivity_r": {"path": "r.tif"}},
           "maps": ["soil_retention"],
           "options": {"chunk_size": chunk, "codec": codec}}
    return write_yaml(tmp / "p.yaml", doc)


def test_two_runs_are_byte_identical(tmp_path):
    p = _grid(tmp_path, 640, 64)            # 100 blocks, computed by 2 threads in any order
    a = run_pipeline(load_pipeline(p), tmp_path / "a", quiet=True)
    b = run_pipeline(load_pipeline(p), tmp_path / "b", quiet=True)
    da, db = (folder_files(r.out, exclude=("manifest.json",)) for r in (a, b))
    assert len(da) >= 14 and da == db
    ma, mb = a.manifest, b.manifest
    for m in (ma, mb):
        m.pop("timings_s")
        m.pop("output")
    assert ma == mb


def _start(p: Path, out: Path, *extra: str) -> subprocess.Popen:
    # the default SIGINT disposition, as at an interactive Ctrl-C (a background job of a
    # non-interactive shell, which CI may be, inherits SIGINT ignored)
    return subprocess.Popen(gepgeo_command("run", p, "--out", out, "-q", *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_maps(out: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        tmps = list(out.parent.glob(f".{out.name}.tmp-*"))
        if tmps and any((t / "maps").is_dir() and any((t / "maps").iterdir()) for t in tmps):
            time.sleep(0.3)
            return
        if proc.poll() is not None:
            pytest.fail(f"the run finished before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.02)
    pytest.fail("the run never started writing")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_run_leaves_no_partial_output_and_keeps_the_previous_one(tmp_path, sig):
    p = _grid(tmp_path, 3000, 256, codec="deflate")
    out = tmp_path / "out"
    out.mkdir()
    # a previous gepgeo output (only such a folder may be replaced, issue 19.1)
    (out / "manifest.json").write_text('{"gepgeo_version": "0.0"}')
    (out / "previous.txt").write_text("the previous result")
    proc = _start(p, out, "--overwrite")
    _wait_for_maps(out, proc)
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read()
    assert code != 0, stderr
    assert (out / "previous.txt").read_text() == "the previous result"
    assert sorted(x.name for x in out.iterdir()) == ["manifest.json", "previous.txt"]
    leftovers = list(tmp_path.glob(".out.tmp-*"))
    if sig == signal.SIGINT:
        assert code == 130, stderr
        assert leftovers == [], stderr
    else:
        assert len(leftovers) == 1     # a killed process cannot clean up ...
        # ... the next run beside it removes the stale folder (any run writing into the same
        # parent folder: a small one, the 3000² grid above only had to be slow to interrupt)
        (tmp_path / "small").mkdir()
        small = _grid(tmp_path / "small", 200, 64)
        fresh = tmp_path / "out2"
        proc = _start(small, fresh)
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
        assert not list(tmp_path.glob(".out.tmp-*"))
        assert (fresh / "manifest.json").is_file()
    # without --overwrite an existing folder is refused
    proc = _start(p, out)
    assert proc.wait(timeout=120) == 2 and "--overwrite" in proc.stderr.read()


class _InterruptAfter(Callback):
    """Raise KeyboardInterrupt in the scheduler's thread after ``n`` finished tasks, as a
    Ctrl-C does, while the worker threads are still inside block tasks."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def _posttask(self, key, result, dsk, state, worker_id):
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt


def test_interrupt_mid_pass_propagates_as_such_and_leaves_nothing(tmp_path):
    # closing a map writer while a worker thread is still writing to it used to replace the
    # KeyboardInterrupt by a GDAL error (exit 1 instead of 130)
    p = _grid(tmp_path, 1024, 64)
    with _InterruptAfter(40), pytest.raises(KeyboardInterrupt):
        run_pipeline(load_pipeline(p), tmp_path / "out", quiet=True)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["lu.tif", "p.yaml", "r.tif"]


def test_an_aborted_writer_refuses_late_blocks_and_never_raises(tmp_path):
    w = GeoTiffBlockWriter(tmp_path / "m.tif", (64, 64), Affine(1, 0, 0, 0, -1, 64), "EPSG:32648",
                           description="x", unit="1", block=32)
    w[slice(32, 64), slice(0, 32)] = np.ones((32, 32))      # out of order: held back
    assert w.max_pending == 1
    done = threading.Event()
    errors = []

    def late():
        try:
            w[slice(0, 32), slice(0, 32)] = np.ones((32, 32))
        except WriterClosedError as exc:
            errors.append(exc)
        done.set()

    w.abort()
    t = threading.Thread(target=late)
    t.start()
    assert done.wait(10)
    assert len(errors) == 1
    w.abort()   # idempotent
    w.close()   # a no-op after abort


def test_try_write_skips_a_busy_file_and_writes_a_free_one(tmp_path):
    w = GeoTiffBlockWriter(tmp_path / "m.tif", (64, 32), Affine(1, 0, 0, 0, -1, 64), "EPSG:32648",
                           description="x", unit="1", block=32)
    with w._lock:                                   # another thread is writing this file
        assert w.try_write((slice(0, 32), slice(0, 32)), np.full((32, 32), 1.0)) is False
    assert w.try_write((slice(0, 32), slice(0, 32)), np.full((32, 32), 1.0)) is True
    w[slice(32, 64), slice(0, 32)] = np.full((32, 32), 2.0)
    w.close()
    got = read_band(tmp_path / "m.tif")
    assert (got[:32] == 1.0).all() and (got[32:] == 2.0).all()


# --- random mutations of a valid pipeline ------------------------------------------------

BASE = read_yaml(sample_root() / "pipelines" / "jinsha_after.yaml")
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                   st.text(max_size=12), st.lists(st.integers(0, 9), max_size=3),
                   st.dictionaries(st.text(max_size=6), st.integers(0, 5), max_size=2))


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


ALL_PATHS = list(_paths(BASE))


@st.composite
def mutated(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(VALUES)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    return doc


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_pipelines_fail_cleanly(tmp_path_factory, doc):
    root = tmp_path_factory.getbasetemp() / "mut"
    if not root.exists():
        copy_sample(root)
    try:
        pipe = parse_pipeline(doc, source=root / "pipelines" / "mutated.yaml")
        validate(pipe)
    except GepgeoError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and "Traceback" not in msg


def test_an_interrupt_wrapped_in_another_error_is_still_an_interrupt():
    # Ctrl-C during a lazy import surfaced as "RuntimeError: Error calling __set_name__ ..."
    from gepgeo.cli import _caused_by_interrupt

    class Lazy:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    with pytest.raises(RuntimeError) as info:
        type("Spec", (), {"field": Lazy()})
    assert _caused_by_interrupt(info.value)
    assert not _caused_by_interrupt(RuntimeError("a bug"))


def test_writer_refuses_a_window_that_is_not_one_of_its_blocks(tmp_path):
    # 512-px windows written into a writer of 1024-px blocks shared block indices: a block
    # waiting for its turn was overwritten by the next, and whole blocks of the map were lost
    w = GeoTiffBlockWriter(tmp_path / "m.tif", (1300, 1100), Affine(1, 0, 0, 0, -1, 1300),
                           "EPSG:32648", description="x", unit="1", block=1024)
    with pytest.raises(ValueError, match="not a 1024 x 1024 block"):
        w[slice(0, 512), slice(512, 1024)] = np.ones((512, 512))
    with pytest.raises(ValueError, match="block"):
        w[slice(1024, 1300), slice(0, 1000)] = np.ones((276, 1000))   # clipped too short
    w[slice(1024, 1300), slice(1024, 1100)] = np.full((276, 76), 4.0)  # edge block: fine
    w.abort()


@pytest.mark.parametrize("inherited", [signal.SIG_IGN, signal.SIG_DFL])
def test_ctrl_c_during_the_first_compile_exits_130_and_leaves_nothing(sample, tmp_path, inherited):
    """Ctrl-C while numba compiles the kernel (an empty NUMBA_CACHE_DIR forces the compile, some
    20 s) exits 130 and leaves nothing, also when gepgeo was started with SIGINT ignored, as a
    non-interactive shell starts a background job: before, that run finished and exited 0."""
    import os

    cache = tmp_path / "numba-cache"
    cache.mkdir()
    out = sample / "o"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    proc = subprocess.Popen(
        gepgeo_command("run", sample / "pipelines" / "jinsha_before.yaml", "--out", out, "-q"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, inherited))
    end = time.time() + 120
    while not list(sample.glob(".o.tmp-*")):      # the pass has started: the kernel compiles
        if proc.poll() is not None or time.time() > end:
            proc.kill()
            pytest.fail(f"the run never reached its pass: {proc.communicate()[1]}")
        time.sleep(0.05)
    time.sleep(1.0)
    assert proc.poll() is None, "the run ended before Ctrl-C"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the run did not stop within 60 s of Ctrl-C")
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not out.exists() and not list(sample.glob(".o.tmp-*"))
