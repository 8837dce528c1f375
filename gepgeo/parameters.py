"""The parameters of the GEP method: names, canonical units, domains, defaults.

Each parameter is declared by the service that reads it (:mod:`gepgeo.services`); this module
is the lookup. Profiles, pipeline files and the Python API all speak these keys; anything else
is an error. The order of :data:`PARAMETERS` is also the order of the parameter slots the fused
kernel reads (:mod:`gepgeo.kernel`).
"""

from __future__ import annotations

import difflib

from .errors import ConfigError
from .services import METHOD, ParameterSpec

__all__ = ["ParameterSpec", "PARAMETERS", "PARAM_INDEX", "METHOD_DEFAULTS", "spec_for",
           "suggest_key"]


#: every parameter of the method, as its services declare them (:mod:`gepgeo.services`)
PARAMETERS: tuple[ParameterSpec, ...] = METHOD.parameters

PARAM_INDEX: dict[str, int] = METHOD.param_index

#: Constants fixed by the method itself; used when neither profile nor pipeline gives the key,
#: and recorded in the manifest with the source "method default".
METHOD_DEFAULTS: dict[str, float] = METHOD.defaults


def suggest_key(key: str) -> str:
    """A ``"; did you mean 'x'?"`` hint for a misspelt parameter key ('' if none is close)."""
    close = difflib.get_close_matches(key, PARAM_INDEX, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def spec_for(key: str, *, where: str) -> ParameterSpec:
    """Return the :class:`ParameterSpec` of ``key``.

    Raises
    ------
    ConfigError
        If ``key`` is not a parameter of the method; the message names ``where`` it was found.
    """
    try:
        return PARAMETERS[PARAM_INDEX[key]]
    except KeyError:
        raise ConfigError(
            f"{where}: unknown parameter {key!r}{suggest_key(key)} "
            "(see 'Parameter names' in the README for the accepted keys)"
        ) from None
