"""Output folders (issue 19): gepgeo replaces only what it created, never an input, a file or
what appeared meanwhile; a live run's temporary folder is never taken for a stale one; the size
of a run is estimated and checked against the free space; a full disk, an unwritable folder and
a damaged manifest end in one line and exit 2."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

import gepgeo.outputs as O
from gepgeo.errors import OutputError, OutputExistsError
from gepgeo.outputs import LOCK_NAME, atomic_folder, check_target, remove_stale

from .helpers import (edited_yaml, folder_files, gepgeo_command, read_manifest, run_cli,
                      run_gepgeo, write_tif, write_yaml)

AFTER = "jinsha_after.yaml"


def _pipe(sample: Path, name: str = AFTER) -> Path:
    return sample / "pipelines" / name


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


# --- 19.1: what --overwrite may replace ---------------------------------------------------

def test_overwrite_refuses_the_folder_holding_the_inputs(sample, capsys):
    data = sample / "data" / "jinsha"
    before = folder_files(data)
    code, _, err = run_cli(["run", _pipe(sample), "--out", data, "--overwrite", "-q"], capsys)
    assert code == 2, err
    assert folder_files(data) == before                      # not one input lost
    assert str(data) in err and "gepgeo" in err
    assert len(err.strip().splitlines()) == 1
    assert _leftovers(data.parent) == []


def test_overwrite_refuses_the_project_folder(sample, capsys, monkeypatch):
    # --out .. from the pipelines folder: the project, holding the pipeline and the data
    monkeypatch.chdir(sample / "pipelines")
    before = folder_files(sample)
    code, _, err = run_cli(["run", AFTER, "--out", "..", "--overwrite", "-q"], capsys)
    assert code == 2 and "current folder or one of its parents" in err, err
    code, _, err = run_cli(["run", AFTER, "--out", ".", "--overwrite", "-q"], capsys)
    assert code == 2 and "current folder or one of its parents" in err, err
    assert folder_files(sample) == before


def test_overwrite_refuses_an_ancestor_of_the_inputs_even_if_gepgeo_made_it(sample, capsys,
                                                                               tmp_path):
    # a gepgeo run folder into which the user put the data later: still holds an input
    out = sample / "run"
    code, _, err = run_cli(["run", _pipe(sample), "--out", out, "-q"], capsys)
    assert code == 0, err
    shutil.move(str(sample / "data"), str(out / "data"))
    p = _pipe(sample)
    with edited_yaml(p) as doc:
        doc["land_use"]["path"] = str(out / "data" / "jinsha" / Path(doc["land_use"]["path"]).name)
    before = folder_files(out)
    code, _, err = run_cli(["run", p, "--out", out, "--overwrite", "-q"], capsys)
    assert code == 2 and "holds the input" in err, err
    assert folder_files(out) == before


def test_overwrite_never_replaces_a_file(sample, capsys):
    lu = next((sample / "data" / "jinsha").glob("*.tif"))
    data = lu.read_bytes()
    code, _, err = run_cli(["run", _pipe(sample), "--out", lu, "--overwrite", "-q"], capsys)
    assert code == 2 and "is a file" in err, err
    assert lu.is_file() and lu.read_bytes() == data
    assert _leftovers(lu.parent) == []
    # without --overwrite: not told to pass --overwrite, which would be refused
    code, _, err = run_cli(["run", _pipe(sample), "--out", lu, "-q"], capsys)
    assert code == 2 and "is a file" in err and "--overwrite" not in err, err


def test_overwrite_refuses_a_folder_gepgeo_did_not_create(sample, capsys):
    mine = sample / "notes"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    code, _, err = run_cli(["run", _pipe(sample), "--out", mine, "--overwrite", "-q"], capsys)
    assert code == 2 and "not created by gepgeo" in err, err
    assert (mine / "thesis.txt").read_text() == "years of work"
    # a `{}` manifest does not make a folder gepgeo's
    (mine / "manifest.json").write_text("{}")
    code, _, err = run_cli(["run", _pipe(sample), "--out", mine, "--overwrite", "-q"], capsys)
    assert code == 2 and "not created by gepgeo" in err, err
    assert (mine / "thesis.txt").read_text() == "years of work"


def test_overwrite_refuses_a_symbolic_link(sample, capsys, tmp_path):
    run = sample / "run"
    assert run_cli(["run", _pipe(sample), "--out", run, "-q"], capsys)[0] == 0
    link = sample / "link"
    link.symlink_to(run)
    code, _, err = run_cli(["run", _pipe(sample), "--out", link, "--overwrite", "-q"], capsys)
    assert code == 2 and "symbolic link" in err, err
    assert link.is_symlink() and (run / "manifest.json").is_file()


def test_overwrite_replaces_gepgeo_run_and_comparison_folders(sample, capsys):
    run = sample / "run"
    assert run_cli(["run", "--no-report", _pipe(sample), "--out", run, "-q"], capsys)[0] == 0
    (run / "stale.txt").write_text("from the previous run")
    code, _, err = run_cli(["run", "--no-report",
                            _pipe(sample), "--out", run, "--overwrite", "-q"], capsys)
    assert code == 0, err
    assert not (run / "stale.txt").exists() and (run / "manifest.json").is_file()
    cmp_ = sample / "cmp"
    args = ["compare", "--no-report",
            _pipe(sample, "jinsha_before.yaml"), _pipe(sample), "--out", cmp_, "-q"]
    assert run_cli(args, capsys)[0] == 0
    assert not (cmp_ / "manifest.json").exists()       # a comparison is known by change/
    code, _, err = run_cli(args + ["--overwrite"], capsys)
    assert code == 0, err
    assert _leftovers(sample) == []


def test_compare_refuses_the_folder_holding_either_scenario(sample, capsys):
    before = folder_files(sample / "data")
    code, _, err = run_cli(["compare", _pipe(sample, "jinsha_before.yaml"), _pipe(sample),
                            "--out", sample / "data", "--overwrite", "-q"], capsys)
    assert code == 2 and "holds the input" in err, err
    assert folder_files(sample / "data") == before
    # --out . from inside the project
    code, _, err = run_cli(["compare", _pipe(sample, "jinsha_before.yaml"), _pipe(sample),
                            "--out", sample / "pipelines", "--overwrite", "-q"], capsys)
    assert code == 2 and "holds the input" in err, err


def test_demo_refuses_a_folder_it_did_not_create(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run_cli(["demo", "--out", ".", "--overwrite", "-q"], capsys)
    assert code == 2 and "current folder" in err, err
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, _, err = run_cli(["demo", "--out", other, "--overwrite", "-q"], capsys)
    assert code == 2 and "not created by gepgeo" in err, err
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert (other / "keep.txt").read_text() == "mine"


# --- 19.2: what appears while a run computes is never replaced -----------------------------

@pytest.mark.parametrize("theirs", [None, "theirs.txt"])
def test_final_rename_keeps_a_folder_that_appeared_meanwhile(tmp_path, theirs):
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError, match="appeared while this run was computing"):
        with atomic_folder(target) as tmp:
            (tmp / "mine.txt").write_text("mine")
            target.mkdir()                                  # another run finished first
            if theirs:
                (target / theirs).write_text("theirs")
    assert sorted(p.name for p in target.iterdir()) == ([theirs] if theirs else [])
    assert _leftovers(tmp_path) == []


def test_final_rename_without_renameat2_still_keeps_it(tmp_path, monkeypatch):
    # systems or file systems without renameat2 (e.g. NFS): the check-then-rename fallback
    monkeypatch.setattr(O, "_renameat2", lambda *a: False)
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError):
        with atomic_folder(target) as tmp:
            (tmp / "mine.txt").write_text("mine")
            target.mkdir()
            (target / "theirs.txt").write_text("theirs")
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]
    with atomic_folder(tmp_path / "fresh") as tmp:          # and a plain rename still works
        (tmp / "mine.txt").write_text("mine")
    assert (tmp_path / "fresh" / "mine.txt").read_text() == "mine"


def test_overwrite_swaps_in_a_complete_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "manifest.json").write_text('{"gepgeo_version": "0.0"}')
    with atomic_folder(target, overwrite=True) as tmp:
        (tmp / "manifest.json").write_text('{"gepgeo_version": "new"}')
    assert read_manifest(target)["gepgeo_version"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_two_runs_into_one_folder_one_wins_the_other_exits_2(sample):
    out = sample / "out"
    procs = [subprocess.Popen(gepgeo_command("run", _pipe(sample), "--out", out, "-q",
                                             "--no-report"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    loser = next(e for c, e in results if c == 2)
    assert str(out) in loser and len(loser.strip().splitlines()) == 1
    assert (out / "manifest.json").is_file() and (out / "tables" / "gep_by_service.csv").is_file()
    assert _leftovers(sample) == []


# --- 19.3: a live run's temporary folder is not stale ---------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _fake_tmp(parent: Path, owner: dict | None, pid: int) -> Path:
    folder = parent / f".out.tmp-{pid}-abcdef12"
    (folder / "maps").mkdir(parents=True)
    (folder / "maps" / "gep.tif").write_bytes(b"partial")
    if owner is not None:
        (folder / LOCK_NAME).write_text(json.dumps(owner))
    return folder


def test_a_temp_folder_whose_lock_is_held_is_kept_whatever_its_pid(tmp_path):
    # a run on another host or in another container: its PID means nothing here, but it holds
    # the lock of its temporary folder for as long as it runs
    pid = _dead_pid()
    folder = _fake_tmp(tmp_path, {"host": "another-host|boot|pid:[1]", "pid": pid}, pid)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(folder / LOCK_NAME)!r}, os.O_RDWR)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert remove_stale(tmp_path / "out", now=time.time() + 10 * O.STALE_AGE_S) == []
        assert (folder / "maps" / "gep.tif").is_file()
    finally:
        holder.kill()
        holder.wait()
    # its holder gone, a long-silent folder of another host is removed
    assert remove_stale(tmp_path / "out", now=time.time() + 10 * O.STALE_AGE_S) == [folder]


def test_a_temp_folder_of_another_host_is_kept_until_long_silent(tmp_path):
    pid = _dead_pid()
    folder = _fake_tmp(tmp_path, {"host": "another-host|boot|pid:[1]", "pid": pid}, pid)
    assert remove_stale(tmp_path / "out") == []                       # PID not visible: kept
    no_owner = _fake_tmp(tmp_path / "sub", None, pid)                 # no owner record yet
    assert remove_stale(tmp_path / "sub" / "out") == []
    later = time.time() + O.STALE_AGE_S + 60
    assert remove_stale(tmp_path / "out", now=later) == [folder]
    assert remove_stale(tmp_path / "sub" / "out", now=later) == [no_owner]


def test_a_temp_folder_of_this_host_whose_run_died_is_removed(tmp_path):
    pid = _dead_pid()
    folder = _fake_tmp(tmp_path, {"host": O._host_id(), "pid": pid}, pid)
    assert remove_stale(tmp_path / "out") == [folder]
    alive = _fake_tmp(tmp_path, {"host": O._host_id(), "pid": os.getpid()}, os.getpid())
    assert remove_stale(tmp_path / "out") == [] and alive.is_dir()


def test_a_live_run_holds_its_lock_and_leaves_no_lock_file(tmp_path):
    target = tmp_path / "out"
    with atomic_folder(target) as tmp:
        assert O._lock_state(tmp / LOCK_NAME) is True
        assert remove_stale(target, now=time.time() + 10 * O.STALE_AGE_S) == []
        (tmp / "a.txt").write_text("a")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]


# --- 19.5: size estimate and free space ---------------------------------------------------

Usage = namedtuple("Usage", "total used free")


def test_the_estimate_is_printed_unless_quiet(sample, capsys):
    code, _, err = run_cli(["run", "--no-report", _pipe(sample), "--out", sample / "o1"], capsys)
    assert code == 0, err
    line = next(x for x in err.splitlines() if "pixels" in x)
    assert "grid" in line and "map(s) of about" in line and "uncompressed" in line
    code, _, err = run_cli(["run", "--no-report",
                            _pipe(sample), "--out", sample / "o2", "-q"], capsys)
    assert code == 0 and "pixels" not in err


def test_a_run_that_cannot_fit_is_refused_with_the_numbers(sample, capsys, monkeypatch):
    monkeypatch.setattr(O.shutil, "disk_usage", lambda p: Usage(10**9, 10**9 - 1000, 1000))
    out = sample / "out"
    code, _, err = run_cli(["run", "--no-report", _pipe(sample), "--out", out, "-q"], capsys)
    assert code == 2, err
    assert "not enough free space" in err and "1000 B is free" in err and "need about" in err
    assert str(out) in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and _leftovers(sample) == []
    code, _, err = run_cli(["compare", "--no-report",
                            _pipe(sample, "jinsha_before.yaml"), _pipe(sample),
                            "--out", sample / "cmp", "-q"], capsys)
    assert code == 2 and "not enough free space" in err, err
    # --yes: the user knows better (a mostly-nodata grid)
    code, _, err = run_cli(["run", "--no-report",
                            _pipe(sample), "--out", out, "-q", "--yes"], capsys)
    assert code == 0, err


def _huge_sparse(folder: Path, n: int) -> Path:
    """An n x n uint8 land use of which one tile is written (a few KB on disk)."""
    t = Affine(10, 0, 600000, 0, -10, 3000000)
    with rasterio.open(folder / "huge.tif", "w", driver="GTiff", height=n, width=n, count=1,
                       dtype="uint8", crs="EPSG:32648", transform=t, nodata=0, tiled=True,
                       blockxsize=512, blockysize=512, compress="deflate",
                       sparse_ok=True) as dst:
        dst.write(np.ones((512, 512), np.uint8), 1, window=((0, 512), (0, 512)))
    doc = {"land_use": {"path": "huge.tif", "codes": {1: "forest"}},
           "profile": {"name": "jinsha-as-published", "scenario": "after"},
           "services": ["carbon"]}
    return write_yaml(folder / "huge.yaml", doc)


def test_a_huge_grid_needs_yes(tmp_path, capsys):
    p = _huge_sparse(tmp_path, 100_000)
    t0 = time.time()
    code, _, err = run_cli(["run", p, "--out", tmp_path / "out"], capsys)
    assert code == 2, err
    assert "100,000 x 100,000 = 10,000,000,000 pixels" in err and "--yes" in err
    assert time.time() - t0 < 60                     # refused before any work
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_the_pixel_threshold_is_lifted_by_yes(sample, capsys, monkeypatch):
    monkeypatch.setattr(O, "LARGE_GRID_PIXELS", 1000)
    code, _, err = run_cli(["run", "--no-report",
                            _pipe(sample), "--out", sample / "o", "-q"], capsys)
    assert code == 2 and "pixels is more than 1,000" in err, err
    code, _, err = run_cli(["run", "--no-report",
                            _pipe(sample), "--out", sample / "o", "-q", "-y"], capsys)
    assert code == 0, err


# --- 19.8: unwritable output, damaged manifests -------------------------------------------

def test_an_output_inside_a_file_is_one_line(sample, capsys):
    lu = next((sample / "data" / "jinsha").glob("*.tif"))
    code, _, err = run_cli(["run", _pipe(sample), "--out", lu / "out", "-q"], capsys)
    assert code == 2 and "cannot write there" in err, err
    assert len(err.strip().splitlines()) == 1


def test_an_unwritable_output_folder_is_one_line(sample, capsys, monkeypatch):
    def refuse(self, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, _, err = run_cli(["run", _pipe(sample), "--out", sample / "ro" / "out", "-q"], capsys)
    assert code == 2 and "Read-only file system" in err and "cannot write there" in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_read_only_file_system_is_one_line(sample, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                             capture_output=True).returncode == 0
    if not mounted:    # not root: a folder without write permission (as effective for non-root)
        ro.chmod(0o555)
    try:
        res = run_gepgeo("run", _pipe(sample), "--out", ro / "out", "-q", timeout=600)
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        else:
            ro.chmod(0o755)
    assert res.returncode == 2, res.stderr
    assert "cannot write there" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.fixture()
def run_folder(sample, capsys) -> Path:
    out = sample / "run"
    assert run_cli(["run", _pipe(sample), "--out", out, "-q"], capsys)[0] == 0
    return out


@pytest.mark.parametrize("text, says", [("{not json", "not valid JSON"),
                                        ("[1, 2]", "expected a JSON object"),
                                        ("{}", "missing gepgeo_version, grid, land_use")])
def test_report_on_a_damaged_manifest_exits_2(run_folder, capsys, text, says):
    (run_folder / "report.html").unlink()
    (run_folder / "manifest.json").write_text(text)
    code, _, err = run_cli(["report", run_folder], capsys)
    assert code == 2 and says in err, err
    assert "manifest.json" in err and len(err.strip().splitlines()) == 1
    assert not (run_folder / "report.html").exists()


def test_report_on_a_damaged_comparison_manifest_exits_2(sample, capsys):
    out = sample / "cmp"
    assert run_cli(["compare", "--no-report", _pipe(sample, "jinsha_before.yaml"), _pipe(sample),
                    "--out", out, "-q"], capsys)[0] == 0
    (out / "change" / "manifest.json").write_text('{"kind": "comparison"}')
    code, _, err = run_cli(["report", out], capsys)
    assert code == 2 and "missing gepgeo_version, maps, tables" in err, err
    # refused before anything was drawn: no scenario report half-way
    assert not list(out.rglob("report.html"))


# --- 19.9: the disk fills during the run ---------------------------------------------------

def _grid(folder: Path, n: int = 1200) -> Path:
    rng = np.random.default_rng(3)
    t = Affine(10, 0, 600000, 0, -10, 3000000)
    lu = rng.integers(1, 4, (n, n)).astype(np.uint8)
    write_tif(folder / "lu.tif", lu, t, nodata=0)
    write_tif(folder / "r.tif", (5000 + rng.normal(0, 50, (n, n))).astype(np.float32), t,
              nodata=-9999.0, unit="MJ mm ha-1 h-1 a-1")
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "dryland", 2: "forest", 3: "grassland"}},
           "profile": {"name": "jinsha-as-published", "scenario": "after"},
           "parameters": {"rainfall_erosivity_r": {"path": "r.tif"}},
           "maps": ["soil_retention"], "options": {"chunk_size": 256}}
    return write_yaml(folder / "p.yaml", doc)


def _disk_full_run(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_gepgeo("run", _grid(folder), "--out", out, "-q", "--yes", *extra, timeout=600)


def _check_disk_full(res: subprocess.CompletedProcess, out: Path) -> None:
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines()
             if not ln.startswith("gepgeo: warning:")]       # e.g. a site profile off its site
    assert len(lines) == 1, res.stderr                       # no GDAL / libtiff noise
    assert "disk filled up" in lines[0] and str(out) in lines[0]
    assert "needed in all" in lines[0] and "written" in lines[0]
    assert "could not be read" not in lines[0]               # no input is blamed


def test_a_disk_that_fills_during_the_run(tmp_path):
    """A real full disk: a 1 MiB tmpfs (needs root to mount); without root the same run
    with every map write failing as on a full disk (ENOSPC from the file system)."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                             capture_output=True).returncode == 0
    try:
        if mounted:
            res = _disk_full_run(tmp_path, small / "out")
            assert os.listdir(small) == []                   # the partial output is removed
        else:
            res = _simulated_disk_full_run(tmp_path, small / "out")
    finally:
        if mounted:
            subprocess.run(["umount", str(small)], check=True)
    _check_disk_full(res, small / "out")


def _simulated_disk_full_run(folder: Path, out: Path) -> subprocess.CompletedProcess:
    code = ("import errno, os, sys\n"
            "import gepgeo.io as io\n"
            "real = io.GeoTiffBlockWriter._write_locked\n"
            "def full(self, *a):\n"
            "    os.write(2, b'_tiffWriteProc: No space left on device.\\n')\n"
            "    from rasterio.errors import RasterioIOError\n"
            "    raise RasterioIOError('Write failed') from OSError(errno.ENOSPC, "
            "'No space left on device')\n"
            "io.GeoTiffBlockWriter._write_locked = full\n"
            "from gepgeo.cli import main\n"
            f"main(['run', {str(_grid(folder))!r}, '--out', {str(out)!r}, '-q', '--yes'])\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)


def test_a_simulated_full_disk_mid_pass(tmp_path):
    """Every map write fails, printing a libtiff line as GDAL does (also the writes of block
    tasks still running after the pass was aborted: the run waits for them before it gives
    native stderr back, so none of their lines reaches the terminal)."""
    res = _simulated_disk_full_run(tmp_path, tmp_path / "out")
    _check_disk_full(res, tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_a_full_disk_while_writing_the_tables(sample, capsys, monkeypatch):
    import pandas as pd

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = sample / "out"
    code, _, err = run_cli(["run", _pipe(sample), "--out", out, "-q"], capsys)
    assert code == 2 and "disk filled up" in err and str(out) in err, err
    assert not out.exists() and _leftovers(sample) == []


def test_a_full_disk_while_writing_the_change_maps(sample, capfd, monkeypatch):
    # compare writes its difference maps itself, outside a run's pass
    import gepgeo.compare as C
    from rasterio.errors import RasterioIOError

    def full(self, key, value):
        os.write(2, b"_tiffWriteProc: No space left on device.\n")
        raise RasterioIOError("Write failed") from OSError(errno.ENOSPC, "No space left")

    monkeypatch.setattr(C.GeoTiffBlockWriter, "__setitem__", full)
    out = sample / "cmp"
    code, _, err = run_cli(["compare", "--no-report",
                            _pipe(sample, "jinsha_before.yaml"), _pipe(sample),
                            "--out", out, "-q"], capfd)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "_tiffWriteProc" not in err, err
    assert "disk filled up" in err and str(out) in err and "needed in all" in err
    assert not out.exists() and _leftovers(sample) == []


def test_report_into_a_read_only_folder_is_one_line(run_folder, capsys, monkeypatch):
    import gepgeo._files as F   # the report and the styles write through gepgeo._files

    def refuse(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(F.tempfile, "mkstemp", refuse)
    code, _, err = run_cli(["report", run_folder], capsys)
    assert code == 2 and "Read-only file system" in err and "report.html" in err, err
    assert len(err.strip().splitlines()) == 1


def test_the_estimate_checks_the_numbers():
    est = O.estimate_output((1000, 2000), 9, codec="zstd")
    assert est.pixels == 2_000_000
    assert est.raw_bytes == 4 * 2_000_000 * 9
    assert est.bytes == int(O.COMPRESSED_BYTES_PER_PIXEL * 2_000_000 * 9)
    assert O.estimate_output((1000, 2000), 9, codec="none").bytes == est.raw_bytes
    cog = O.estimate_output((1000, 2000), 9, codec="zstd", cog=True)
    assert cog.bytes > est.bytes
    assert "2,000 x 1,000 = 2,000,000 pixels" in est.summary()


def test_check_target_api(tmp_path):
    check_target(tmp_path / "new")                             # absent: fine
    with pytest.raises(OutputExistsError):
        check_target(tmp_path)
    (tmp_path / "x").mkdir()
    with pytest.raises(OutputError, match="not created by gepgeo"):
        check_target(tmp_path / "x", overwrite=True)


def test_a_swallowed_ctrl_c_still_stops_the_run_before_its_output_appears(tmp_path, monkeypatch):
    """Ctrl-C that lands in a native callback (llvmlite's cache hook while numba compiles) is
    printed as "Exception ignored" and dropped by Python: the recording handler keeps it, and
    the output folder is not put in place (CI once saw such a run finish and exit 0)."""
    import gepgeo._interrupt as interrupt

    monkeypatch.setattr(interrupt, "_requested", type(interrupt._requested)())
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(target) as tmp:
            (tmp / "manifest.json").write_text("{}")
            try:                                   # what a ctypes callback does with it
                interrupt._on_sigint(2, None)
            except KeyboardInterrupt:
                pass
    assert interrupt.requested()
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_the_compile_step_raises_a_swallowed_ctrl_c(monkeypatch):
    """After the kernel's compile, a Ctrl-C recorded meanwhile is raised in the main thread."""
    import gepgeo._interrupt as interrupt
    from gepgeo import compute

    monkeypatch.setattr(interrupt, "_requested", type(interrupt._requested)())
    calls = []

    class Disp:                                   # a dispatcher whose compile swallows Ctrl-C
        overloads: dict = {}

        class _cache:                             # noqa: N801
            @staticmethod
            def load_overload(sig, ctx):
                return None

        targetctx = None

        def compile(self, sig):
            calls.append(sig)
            try:
                interrupt._on_sigint(2, None)
            except KeyboardInterrupt:
                pass

    monkeypatch.setattr(compute.K, "gep_block", Disp())
    monkeypatch.setattr(compute, "_kernel_args", lambda *a, **k: (np.zeros(1),))
    with pytest.raises(KeyboardInterrupt):
        fields = dict.fromkeys(compute.K.KernelPlan._fields)
        fields.update(lay_stack=np.zeros(0, np.uint8), map_idx=np.zeros((1, 1)))
        kernel = compute.K.KernelPlan(**fields)
        plan = compute.PassPlan(kernel=kernel, out_dtype=np.float32, nslot=1, nclass=1,
                                domain_policy="error", layer_names=(),
                                direct=(), lu_extra=(), lu_where="", lay_extra=())
        compute.compile_kernel(plan, 0)
    assert calls


def test_after_a_failed_pass_queued_block_tasks_do_not_start_and_the_next_pass_runs(sample):
    """A block task queued when its pass failed does nothing (it would write, and print,
    after the error was reported); the next pass built in the same process runs normally."""
    import dask

    from gepgeo.compute import PassCancelled, block_tasks, build_dataset
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import prepare

    block_tasks.cancel()
    with pytest.raises(PassCancelled), block_tasks:
        pass
    assert block_tasks.wait_idle(timeout=0.1)
    prep = prepare(load_pipeline(Path(_pipe(sample))))
    ds = build_dataset(prep.land_use, prep.codes, prep.plan, maps=["gep"], chunks=prep.chunk)
    totals, gep = dask.compute(ds["totals"].data, ds["gep"].data, scheduler="threads")
    assert np.nansum(gep) > 0 and np.asarray(totals).any()
