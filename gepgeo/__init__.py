"""gepgeo: Gross Ecosystem Product accounting from classified land-use rasters.

Public API
----------
compute_services
    Lazy per-pixel GEP services on xarray / dask (:mod:`gepgeo.compute`).
tables
    The accounting tables of its dataset, those a run writes into ``tables/``
    (:mod:`gepgeo.tabulate`).
load_profile, list_profiles
    Parameter profiles (:mod:`gepgeo.profiles`).
run_pipeline, load_pipeline
    Pipeline files, as the command line runs them (:mod:`gepgeo.run`, :mod:`gepgeo.pipeline`).
"""

from ._version import __version__
from .compute import ALL_MAPS, DEFAULT_MAPS, compute_services
from .errors import GepgeoError
from .profiles import list_profiles, load_profile
from .tabulate import tables

__all__ = ["__version__", "compute_services", "tables", "ALL_MAPS", "DEFAULT_MAPS",
           "GepgeoError", "list_profiles", "load_profile"]
