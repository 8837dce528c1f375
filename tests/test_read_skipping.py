"""Factor-layer tiles in which the land use has no data are not read: every pixel the
accounts use is still read exactly once, and the results do not change by a bit."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

import gepgeo.io
from gepgeo.io import _tile_bands
from gepgeo.pipeline import load_pipeline
from gepgeo.run import account, run_pipeline

from .helpers import read_band, write_tif, write_yaml

TILE = 16
N = 160
CHUNK = 64


@pytest.mark.parametrize("seed", range(40))
def test_tile_bands_cover_exactly_the_tiles_with_needed_pixels(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
    bh, bw = int(rng.integers(1, 25)), int(rng.integers(1, 25))
    r_off, c_off = int(rng.integers(0, bh)), int(rng.integers(0, bw))
    needed = rng.random((h, w)) < rng.choice([0.0, 0.002, 0.02, 0.5, 1.0])
    bands = _tile_bands(needed, bh, bw, r_off, c_off)
    # the bands split the rows along the tile rows of the file
    assert bands[0][0] == 0 and bands[-1][1] == h
    assert all(b[1] == n[0] for b, n in zip(bands, bands[1:]))
    assert all((r_off + a) % bh == 0 for a, *_ in bands[1:])
    assert all(b - a <= bh for a, b, *_ in bands)
    read = np.zeros((h, w), dtype=bool)
    for a, b, c0, c1 in bands:
        read[a:b, c0:c1] = True
        cols = np.flatnonzero(needed[a:b].any(axis=0))
        if cols.size == 0:
            assert c0 == c1
            continue
        # from the start of the first tile with a needed pixel to the end of the last one
        assert c0 == max(0, (cols[0] + c_off) // bw * bw - c_off)
        assert c1 == min(w, ((cols[-1] + c_off) // bw + 1) * bw - c_off)
    assert read[needed].all()


def _landscape(tmp: Path) -> tuple[Path, np.ndarray]:
    """Land use with nodata over whole 16² tiles of the factor layers (a margin, a hole) and
    over parts of others; R stored in 16² tiles, LS in one-row strips."""
    t = Affine(30, 0, 500000, 0, -30, 3000000)
    yy, xx = np.mgrid[0:N, 0:N]
    lu = (1 + ((np.sin(xx / 9.0) + np.cos(yy / 7.0)) > 0) + ((xx + yy) % 29 < 9)).astype(np.uint8)
    lu[:, :40] = 0                       # tiles 0-1 of every tile row, part of tile 2
    lu[96:128, 64:112] = 0               # a hole of whole tiles inside the outline
    lu[:5, :] = 0
    write_tif(tmp / "lu.tif", lu, t, nodata=0)
    rng = np.random.default_rng(3)
    for name, base in (("r", 4000.0), ("ls", 3.0)):
        v = (base * (1 + 0.2 * np.sin(xx / 13.0))
             + rng.normal(0, base / 100, (N, N))).astype(np.float32)
        layout = ({"tiled": True, "blockxsize": TILE, "blockysize": TILE} if name == "r"
                  else {"tiled": False, "blockysize": 1})
        write_tif(tmp / f"{name}.tif", v, t, nodata=-9999.0,
                  unit="MJ mm ha-1 h-1 a-1" if name == "r" else None, **layout)
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "dryland", 2: "forest", 3: "grassland"}},
           "profile": {"name": "jinsha-as-published", "scenario": "after"},
           "parameters": {"rainfall_erosivity_r": {"path": "r.tif"},
                          "slope_length_steepness_ls": {"path": "ls.tif"}},
           "maps": ["gep", "soil_retention"],
           "options": {"chunk_size": CHUNK}}
    return write_yaml(tmp / "p.yaml", doc), lu


def test_factor_tiles_without_land_use_data_are_not_read(tmp_path, monkeypatch):
    pipe_path, lu = _landscape(tmp_path)
    pipe = load_pipeline(pipe_path)
    reads: list[tuple[str, int, int, int, int]] = []
    lock = threading.Lock()
    real = gepgeo.io.read_window

    def counting_read(src, row, col, height, width, out=None):   # every block read goes here
        with lock:
            reads.append((Path(src.path).stem, row, col, height, width))
        return real(src, row, col, height, width, out=out)

    monkeypatch.setattr(gepgeo.io, "read_window", counting_read)
    skipped = run_pipeline(pipe, tmp_path / "skipped", quiet=True, report=False)
    monkeypatch.setattr(gepgeo.io, "read_window", real)

    data = lu != 0
    tiles_with_data = data.reshape(N // TILE, TILE, N // TILE, TILE).any(axis=(1, 3))
    for name in ("r", "ls", "lu"):
        count = np.zeros((N, N), dtype=int)
        for stem, row, col, h, w in reads:
            if stem == name:
                count[row:row + h, col:col + w] += 1
        assert count.max() == 1, f"{name}: a pixel was read twice"
        if name == "lu":
            assert (count == 1).all()
            continue
        assert (count[data] == 1).all(), f"{name}: a pixel with land-use data was not read"
        if name == "ls":       # strips: only bands of 128 rows without land-use data are skipped
            continue
        per_tile = count.reshape(N // TILE, TILE, N // TILE, TILE).max(axis=(1, 3))
        # the margin (tile columns 0-1) and the hole are never read
        assert not per_tile[:, :2].any() and not per_tile[6:8, 4:7].any()
        assert per_tile[tiles_with_data].all()

    # the same tables and maps as reading every tile
    def read_all(src, row, col, out, needed):
        real(src, row, col, out.shape[0], out.shape[1], out=out)

    monkeypatch.setattr(gepgeo.io, "read_needed", read_all)
    everything = run_pipeline(pipe, tmp_path / "all", quiet=True, report=False)
    assert skipped.tidy.equals(everything.tidy)
    for name in ("gep", "soil_retention"):
        a, b = (read_band(tmp_path / run / "maps" / f"{name}.tif") for run in ("skipped", "all"))
        assert np.array_equal(a, b, equal_nan=True)
    assert account(pipe).equals(everything.tidy)
