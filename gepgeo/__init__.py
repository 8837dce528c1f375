"""gepgeo: Gross Ecosystem Product accounting from classified land-use rasters.

Public API
----------
compute_services
    Lazy per-pixel GEP services on xarray / dask (:mod:`gepgeo.compute`).
load_profile, list_profiles
    Parameter profiles (:mod:`gepgeo.profiles`).
run_pipeline, load_pipeline
    Pipeline files, as the command line runs them (:mod:`gepgeo.run`, :mod:`gepgeo.pipeline`).
"""

from ._version import __version__
from .compute import ALL_MAPS, DEFAULT_MAPS, compute_services
from .errors import GepgeoError
from .profiles import list_profiles, load_profile

__all__ = ["__version__", "compute_services", "ALL_MAPS", "DEFAULT_MAPS", "GepgeoError",
           "list_profiles", "load_profile"]
