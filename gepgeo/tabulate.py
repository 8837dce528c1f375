"""The accounting tables of a run folder (``tables/``, OUTPUTS.md "Table columns").

:func:`_write_zone_tables` writes ``services_by_zone.csv`` (the tidy rows of every zone) and
``zones.gpkg`` (the zone polygons with their totals as attributes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from . import accounts
from .prepare import Prepared
from .services import MEASURES, map_name

__all__: list[str] = []


#: ``last_change`` recorded in ``zones.gpkg``: a GeoPackage stores the time of writing, which
#: would make two identical runs differ byte for byte
GPKG_DATE = "1970-01-01T00:00:00.000Z"


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


def _write_zone_tables(prep: Prepared, zone_totals: np.ndarray,
                       tables: Path) -> tuple[list[str], pd.DataFrame]:
    """``services_by_zone.csv`` (tidy rows per zone) and ``zones.gpkg`` (totals as attributes);
    returns the manifest's entries for them and the rows of the CSV."""
    from . import kernel as K
    from .zones import zone_table

    pl = prep.plan
    frames = []
    written = []
    offset = 0
    gpkg = tables / "zones.gpkg"
    for zl in prep.zones:
        block = zone_totals[offset: offset + zl.count]
        offset += zl.count
        tidies = [accounts.tidy_table(block[z], pl.land_types, pl.enabled_services, pl.modes)
                  for z in range(zl.count)]
        if not pl.valuation:   # quantities only
            tidies = [accounts.without_values(t) for t in tidies]
        rast_area = block[:, :, K.COL_AREA].sum(axis=1)
        frames.append(zone_table(zl, tidies, rast_area))
        gdf = zl.gdf.copy()
        gdf["zone_id"] = zl.ids
        gdf["polygon_area_ha"] = zl.polygon_area_ha
        gdf["rasterised_area_ha"] = rast_area
        if pl.valuation:
            for s in pl.enabled_services:
                col = K.COLUMNS.index(f"{s}.value")
                gdf[f"{s}_value"] = block[:, :, col].sum(axis=1)
            gdf["gep"] = block[:, :, K.GEP_COLUMN].sum(axis=1)
        else:   # the physical quantities instead (their units: services_by_zone.csv)
            for i in accounts.measures_in_use(pl.enabled_services, pl.modes):
                m = MEASURES[i]
                if not m.is_value:
                    col = K.COLUMNS.index(f"{m.service}.{m.name}")
                    gdf[map_name(m)] = block[:, :, col].sum(axis=1)
        with _fixed_gpkg_date():
            gdf.to_file(gpkg, layer=zl.name, driver="GPKG")
        written.append(f"tables/zones.gpkg:{zl.name}")
    rows = pd.concat(frames, ignore_index=True)
    rows.to_csv(tables / "services_by_zone.csv", index=False, float_format="%.10g")
    written.insert(0, "tables/services_by_zone.csv")
    return written, rows
