"""Issue 21: a first run (numba's cache empty) says once that it compiles, compiles part of the
kernel in a second process (gepgeo.warmup) and gives the results a run with the cache filled
gives, byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gepgeo import kernel as K
from gepgeo import warmup

# runs `gepgeo ARGS` and prints the functions numba compiled in this process (JSON, last line)
_RUN = """
import json, sys
from numba.core import event
names = []
class Compiles(event.Listener):
    def on_start(self, ev):
        disp = (ev.data or {}).get("dispatcher")
        if disp is not None:
            names.append(disp.py_func.__name__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Compiles())
from gepgeo.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code or 0
print(json.dumps({"compiled": names, "code": code}))
"""


def _gepgeo(cache, *args, off=False):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    env.pop(warmup.ENV_OFF, None)
    if off:
        env[warmup.ENV_OFF] = "1"
    proc = subprocess.run([sys.executable, "-c", _RUN, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.first_run     # a cold compile: run by the README's exhaustive command (CI)
def test_a_first_run_compiles_in_two_processes_says_so_once_and_gives_the_same_results(
        sample, tmp_path):
    cache = tmp_path / "numba-cache"
    pipe = sample / "pipelines" / "jinsha_before.yaml"
    first, err = _gepgeo(cache, "run", pipe, "--out", tmp_path / "first", "-q", "--no-report")
    notices = [ln for ln in err.splitlines() if "compiling the computing kernel" in ln]
    assert len(notices) == 1, err
    assert first["code"] == 0
    compiled = set(first["compiled"])
    assert "gep_block" in compiled and "_decode_row" in compiled
    # class_densities and the services' code came from the second process, through the cache
    assert not compiled & {"class_densities", "services_row"}, sorted(compiled)
    # ... and so did the stage that adds the totals (its signature is right)
    assert not compiled & {"_accumulate_row", "_add_run", "_add_linear_run"}, sorted(compiled)
    # each stage of the kernel compiled once (no literal-typed duplicates)
    assert all(first["compiled"].count(f) == 1 for f in ("_maps_row", "_drivers_row"))
    again, err = _gepgeo(cache, "run", pipe, "--out", tmp_path / "again", "-q", "--no-report")
    assert again["compiled"] == [] and "compiling" not in err
    files = sorted(p.relative_to(tmp_path / "first")
                   for p in (tmp_path / "first").rglob("*") if p.is_file()
                   and p.suffix in (".tif", ".csv"))
    assert any(p.suffix == ".tif" for p in files) and any(p.suffix == ".csv" for p in files)
    for rel in files:
        first_bytes = (tmp_path / "first" / rel).read_bytes()
        assert first_bytes == (tmp_path / "again" / rel).read_bytes(), rel


def test_no_background_compile_when_the_cache_has_the_kernel_or_it_is_turned_off(monkeypatch):
    K.class_densities(*K.class_densities_args())      # compiled (or loaded) in this process
    assert K.class_densities_cached()
    assert not warmup.start()
    monkeypatch.setattr(warmup, "_proc", None)
    monkeypatch.setenv(warmup.ENV_OFF, "1")
    assert not warmup.start()
    assert warmup.wait() is None


def test_the_extended_tables_and_row_buffers_are_those_the_kernel_reads():
    """Made in NumPy once per pass (they were made by the kernel per block): the pseudo land
    types of nodata and unmapped codes, the class-constant GEP in service order."""
    nclass, nmeas = 3, K.N_MEASURES
    rng = np.random.default_rng(0)
    fields = dict.fromkeys(K.KernelPlan._fields)
    on = np.ones(K.N_SERVICES, dtype=np.uint8)
    dyn = np.zeros(K.N_SERVICES, dtype=np.uint8)
    dyn[K.S_S] = 1
    mstart, mstop, value_idx = K.service_layout()
    fields.update(
        lu_nodata=np.int64(0), lu_has_nodata=True, lut=np.array([0, -1, 2, 1], dtype=np.int32),
        lut_offset=np.int64(1), table=rng.random((K.N_PARAMS, nclass)),
        supplies=np.array([1, 0, 1], dtype=np.uint8), on=on, dyn=dyn, msvc=K.measure_services(),
        value_idx=value_idx, dclass=rng.random((nclass, nmeas)),
        clamp_class=np.array([1, 1, 0], dtype=np.uint8), coef=rng.random((nclass, nmeas)))
    ext = K.extended_tables(K.KernelPlan(**fields))
    nodata_lt, unmapped_lt = nclass, nclass + 1
    assert ext.lut_all[0] == nodata_lt                   # the nodata code
    assert list(ext.lut_all[1:5]) == [0, unmapped_lt, 2, 1]
    assert (ext.lut_all[5:] == unmapped_lt).all()
    assert list(ext.lutx) == [0, unmapped_lt, 2, 1]
    assert list(ext.sup_x) == [1, 0, 1, 0, 0]
    assert np.isnan(ext.fill_x[[0, 2, 3, 4]]).all() and ext.fill_x[1] == 0.0
    const = [s for s in range(K.N_SERVICES) if s != K.S_S]
    for c in (0, 2):
        expect = 0.0
        for s in const:
            expect += fields["dclass"][c, value_idx[s]]
        assert ext.gep_x[c] == expect
    assert ext.gep_x[1] == 0.0 and np.isnan(ext.gep_x[3:]).all()
    assert list(ext.clamp_x) == [1, 0, 0, 0, 0]        # water is class-constant here
    np.testing.assert_array_equal(ext.dclass_t[:, :nclass], fields["dclass"].T)
    assert np.isnan(ext.dclass_t[:, nclass:]).all()
    np.testing.assert_array_equal(ext.pv_x[:, :nclass], fields["table"])
    work = K.row_buffers(7, 2)
    assert work[3].shape == (2 + K.N_SCRATCH, 7) and work[13].tolist() == [-1] * 7
