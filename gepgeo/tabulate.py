"""The accounting tables (``tables/``, OUTPUTS.md "Table columns") from a computed dataset.

:func:`tables` turns the float64 totals of the dataset that :func:`gepgeo.compute_services`
returns, or that a run computes (:func:`gepgeo.execute.execute`), into the tables of a run
folder as pandas DataFrames; :func:`write_tables` writes them, and ``zones.gpkg``, as
``gepgeo run`` does. The Python API and the command line make their tables here, so the CSV
files of a run are :func:`tables` of its dataset, at 10 significant digits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import accounts
from . import kernel as K
from .services import MEASURES, map_name

if TYPE_CHECKING:
    import xarray as xr

    from .zones import ZoneLayerData

__all__ = ["tables", "write_tables", "FLOAT_FORMAT"]

#: how the CSV tables write numbers: 10 significant digits
FLOAT_FORMAT = "%.10g"

#: ``last_change`` recorded in ``zones.gpkg``: a GeoPackage stores the time of writing, which
#: would make two identical runs differ byte for byte
GPKG_DATE = "1970-01-01T00:00:00.000Z"


@dataclass
class _Totals:
    """The computed totals of a dataset and what its coordinates and attributes say of them."""

    totals: np.ndarray                  # float64 (land type, column)
    land_types: list[str]
    codes: dict[int, str]               # raster code -> land type
    services: list[str]                 # enabled
    modes: np.ndarray                   # int64[N_MODES]
    valuation: bool
    zone_totals: np.ndarray | None      # float64 (zone, land type, column)
    zone_layers: list[tuple[str, int]]  # (name, number of zones), in the order of zone_totals

    def tidy(self, totals: np.ndarray) -> pd.DataFrame:
        """The tidy master table of ``totals`` (the grid's, or one zone's)."""
        tidy = accounts.tidy_table(totals[: len(self.land_types)], self.land_types,
                                   self.services, self.modes)
        return tidy if self.valuation else accounts.without_values(tidy)

    def zone_blocks(self) -> Iterator[tuple[str, np.ndarray]]:
        """Each zone layer's name and its rows of ``zone_totals``."""
        assert self.zone_totals is not None
        offset = 0
        for name, count in self.zone_layers:
            yield name, self.zone_totals[offset: offset + count]
            offset += count


def _totals_of(ds: xr.Dataset) -> _Totals:
    """Compute the totals of ``ds`` (``totals`` and ``zone_totals`` in one computation, unless
    they hold values already) and read what describes them."""
    missing = ([v for v in ("totals",) if v not in ds.data_vars]
               + [c for c in ("land_type", "codes") if c not in ds.coords]
               + [a for a in ("services", "modes", "valuation") if a not in ds.attrs])
    if missing:
        raise ValueError(f"not a dataset of gepgeo.compute_services: it has no "
                         f"{', '.join(repr(m) for m in missing)}")
    done = ds[[v for v in ("totals", "zone_totals") if v in ds.data_vars]].compute()
    land_types = [str(lt) for lt in done["land_type"].values]
    codes = {int(c): lt for lt, cs in zip(land_types, done["codes"].values)
             for c in str(cs).split(",") if c}
    modes = np.zeros(K.N_MODES, dtype=np.int64)
    for pair in str(ds.attrs["modes"]).split(","):
        if pair:
            name, value = pair.split("=")
            modes[K.MODE[name]] = int(value)
    layers: dict[str, int] = {}
    if "zone_totals" in done:
        for label in done["zone"].values:   # "layer:index"
            name = str(label).rsplit(":", 1)[0]
            layers[name] = layers.get(name, 0) + 1
    return _Totals(np.asarray(done["totals"].values, dtype=np.float64), land_types, codes,
                   [s for s in str(ds.attrs["services"]).split(",") if s], modes,
                   bool(int(ds.attrs["valuation"])),
                   np.asarray(done["zone_totals"].values, dtype=np.float64)
                   if "zone_totals" in done else None, list(layers.items()))


def tables(ds: xr.Dataset, zones: Sequence[ZoneLayerData] | None = None
           ) -> dict[str, pd.DataFrame]:
    """The accounting tables of a dataset: the tables ``gepgeo run`` writes into ``tables/``.

    Parameters
    ----------
    ds : xarray.Dataset
        What :func:`gepgeo.compute_services` returns, lazy or computed: its ``totals`` (and
        ``zone_totals``) are computed here, in one computation, unless they hold values
        already (e.g. ``dask.compute(ds)``).
    zones : sequence of gepgeo.zones.ZoneLayerData, optional
        The zone layers behind ``ds``'s ``zone_totals`` (:func:`gepgeo.zones.read_zones`), in
        the dataset's order: each zone's rows then carry its id, its attributes and the area of
        its polygon, as in ``services_by_zone.csv``. Without them a zone is named by its layer
        and its index (``zone_id`` 0..n-1).

    Returns
    -------
    dict of str to pandas.DataFrame
        Named as the files of ``tables/`` without ``.csv`` (OUTPUTS.md, "Table columns"), in
        the order of the manifest: ``services_by_land_type`` (the tidy master table: one row
        per service, land type and measure, plus GEP), ``land_use``, ``gep_by_service``,
        ``gep_by_land_type`` (not for a dataset of physical quantities only, whose tables hold
        no value row) and, with zones, ``services_by_zone``. Amounts at full precision (the
        files hold 10 significant digits, :data:`FLOAT_FORMAT`).

    Raises
    ------
    ValueError
        ``ds`` lacks the totals or what describes them, or ``zones`` are not its zone layers.

    Examples
    --------
    >>> ds = gepgeo.compute_services(land_use, {1: "forest", 2: "cropland"}, layers,
    ...                              profile="jinsha-as-published", scenario="after")
    >>> t = gepgeo.tables(ds)
    >>> t["gep_by_service"].query("service == 'gep'")["amount"]   # yuan a-1
    """
    tot = _totals_of(ds)
    return _tables(tot, zones)


def _tidy_of(ds: xr.Dataset) -> pd.DataFrame:
    """``tables(ds)["services_by_land_type"]`` without making the other tables (the
    tables-only path, :func:`gepgeo.run.account`)."""
    tot = _totals_of(ds)
    return tot.tidy(tot.totals)


def _tables(tot: _Totals, zones: Sequence[ZoneLayerData] | None) -> dict[str, pd.DataFrame]:
    tidy = accounts.tidy_table(tot.totals[: len(tot.land_types)], tot.land_types, tot.services,
                               tot.modes)
    out = {"services_by_land_type": tidy,
           "land_use": accounts.land_use_table(tot.totals, tot.land_types, tot.codes),
           "gep_by_service": accounts.gep_by_service(tidy)}
    if tot.valuation:
        out["gep_by_land_type"] = accounts.gep_by_land_type(tidy)
    else:   # quantities only: no value row, no GEP, no value table
        for name in ("services_by_land_type", "gep_by_service"):
            out[name] = accounts.without_values(out[name])
    if tot.zone_totals is not None:
        out["services_by_zone"] = _zone_rows(tot, _zone_layers(tot, zones))
    elif zones:
        raise ValueError("zones: the dataset has no zone_totals (compute_services(zones=...))")
    return out


def _zone_layers(tot: _Totals, zones: Sequence[ZoneLayerData] | None
                 ) -> list[ZoneLayerData | None]:
    """``zones`` checked against the zone layers of the dataset (None each when not given)."""
    if not zones:
        return [None] * len(tot.zone_layers)
    given = [(zl.name, zl.count) for zl in zones]
    if given != tot.zone_layers:
        raise ValueError(f"zones: the dataset's zone layers are {tot.zone_layers} (name, "
                         f"number of zones), not {given}")
    return list(zones)


def _zone_rows(tot: _Totals, layers: Sequence[ZoneLayerData | None]) -> pd.DataFrame:
    """``services_by_zone``: the tidy rows of every zone, the zone's id, attributes and areas
    in front (:func:`gepgeo.zones.zone_table`)."""
    from .zones import zone_table

    frames = []
    for (name, block), zl in zip(tot.zone_blocks(), layers):
        tidies = [tot.tidy(block[z]) for z in range(len(block))]
        rast_area = block[:, :, K.COL_AREA].sum(axis=1)
        if zl is not None:
            frames.append(zone_table(zl, tidies, rast_area))
            continue
        for z, tidy in enumerate(tidies):   # the zone's layer and index only
            front = pd.DataFrame([{"zone_layer": name, "zone_id": z,
                                   "rasterised_area_ha": float(rast_area[z])}] * len(tidy))
            frames.append(pd.concat([front, tidy.reset_index(drop=True)], axis=1))
    return pd.concat(frames, ignore_index=True)


def write_tables(ds: xr.Dataset, folder: Path, zones: Sequence[ZoneLayerData] | None = None
                 ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Write the tables of a run into ``folder`` (``tables/``, created): :func:`tables` of
    ``ds`` as CSV files and, with zones, ``zones.gpkg`` (the zone polygons with their totals).

    Parameters
    ----------
    ds : xarray.Dataset
        The run's dataset, its totals computed.
    folder : Path
        The run folder's ``tables`` folder; must not exist.
    zones : sequence of gepgeo.zones.ZoneLayerData, optional
        The zone layers of ``ds`` (:func:`tables`); needed for ``zones.gpkg``.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        The tables written.
    files : list of str
        The manifest's entries for them, relative to the run folder:
        ``tables/NAME.csv`` and ``tables/zones.gpkg:LAYER``.
    """
    tot = _totals_of(ds)
    out = _tables(tot, zones)
    folder.mkdir()
    files = []
    for name, table in out.items():
        if name == "services_by_zone":
            continue     # written after zones.gpkg, as before
        table.to_csv(folder / f"{name}.csv", index=False, float_format=FLOAT_FORMAT)
        files.append(f"tables/{name}.csv")
    if "services_by_zone" in out:
        layers = [zl for zl in _zone_layers(tot, zones) if zl is not None]
        for (_, block), zl in zip(tot.zone_blocks(), layers):
            _write_gpkg_layer(tot, zl, block, folder / "zones.gpkg")
        out["services_by_zone"].to_csv(folder / "services_by_zone.csv", index=False,
                                       float_format=FLOAT_FORMAT)
        files += ["tables/services_by_zone.csv"] + [f"tables/zones.gpkg:{zl.name}"
                                                    for zl in layers]
    return out, files


def _write_gpkg_layer(tot: _Totals, zl: ZoneLayerData, block: np.ndarray, gpkg: Path) -> None:
    """One layer of ``zones.gpkg``: the zone polygons with their ids, both areas and their
    totals as attributes (each service's value and GEP; without valuation the physical
    quantities, whose units ``services_by_zone.csv`` gives)."""
    gdf = zl.gdf.copy()
    gdf["zone_id"] = zl.ids
    gdf["polygon_area_ha"] = zl.polygon_area_ha
    gdf["rasterised_area_ha"] = block[:, :, K.COL_AREA].sum(axis=1)
    if tot.valuation:
        for s in tot.services:
            col = K.COLUMNS.index(f"{s}.value")
            gdf[f"{s}_value"] = block[:, :, col].sum(axis=1)
        gdf["gep"] = block[:, :, K.GEP_COLUMN].sum(axis=1)
    else:
        for i in accounts.measures_in_use(tot.services, tot.modes):
            m = MEASURES[i]
            if not m.is_value:
                col = K.COLUMNS.index(f"{m.service}.{m.name}")
                gdf[map_name(m)] = block[:, :, col].sum(axis=1)
    with _fixed_gpkg_date():
        gdf.to_file(gpkg, layer=zl.name, driver="GPKG")


@contextmanager
def _fixed_gpkg_date() -> Iterator[None]:
    """GeoPackages written inside record :data:`GPKG_DATE` as their time of change."""
    import pyogrio

    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
