"""The ecosystem services of the method, each declared once in its own module.

A new service is one module too: declare a :class:`Service` (see
:mod:`gepgeo.services.declare`) and name it in ``$GEPGEO_SERVICES`` (``pkg.module:SERVICE``)
or under the entry-point group ``gepgeo.services`` of an installed package; gepgeo then reads
its parameters from profiles and pipelines, evaluates it in the fused kernel, and writes its
maps and tables like any other service.

``agriculture.py``, ``water.py``, ``soil.py``, ``air.py``, ``carbon.py``, ``oxygen.py``,
``climate.py`` and ``landscape.py`` each declare one :class:`Service`: its parameters with units
and domains, its formula variants, its measures with units, and the per-pixel steps with their
numba scalar functions (the vocabulary is in :mod:`gepgeo.services.declare`). This module is the
catalogue built from them (:class:`Method`): the order of :data:`MEASURES` is the order of the
output slots of the fused kernel (:mod:`gepgeo.kernel`), whose per-pixel code
(``gepgeo/_services_row.py``) :mod:`gepgeo.codegen` generates from the steps.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping, Sequence, Set
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from . import agriculture, air, carbon, climate, landscape, oxygen, soil, water
from .declare import (VALUE_UNITS, Linear, Measure, ParameterSpec, Service, Step, Variant)

__all__ = ["Service", "Measure", "ParameterSpec", "Variant", "Step", "Linear", "Method",
           "METHOD", "BUILTIN_SERVICES", "PLUGIN_ENV", "SERVICES", "SERVICE_INDEX", "MEASURES",
           "MEASURE_INDEX", "CATEGORIES", "map_name", "GEP"]

CATEGORIES = ("provisioning", "regulating", "cultural")

#: the method's services, in table order
BUILTIN_SERVICES: tuple[Service, ...] = (
    agriculture.SERVICE, water.SERVICE, soil.SERVICE, air.SERVICE, carbon.SERVICE,
    oxygen.SERVICE, climate.SERVICE, landscape.SERVICE,
)

_GEP_MEASURE = Measure("gep", "value", *VALUE_UNITS, "gross ecosystem product")


def map_name(measure: Measure) -> str:
    """File stem of a measure's density map: ``<service>_value`` for values, else the measure name.

    ``gep`` for the GEP total, ``soil_value`` for the soil value, ``soil_retention`` for q_sr.
    """
    if measure.service == "gep":
        return "gep"
    if measure.name == "value":
        return f"{measure.service}_value"
    return measure.name


class Method:
    """A set of services and everything derived from their declarations.

    Parameters
    ----------
    services : sequence of Service
        In table order.

    Attributes
    ----------
    services : tuple of Service
    measures : tuple of Measure
        Every service's measures, contiguous per service, then GEP (the kernel's slots).
    parameters : tuple of ParameterSpec
        Every declared parameter, each once (the kernel's parameter slots).
    variants : tuple of Variant
        Every formula choice, in service order (the kernel's ``modes`` slots).
    """

    def __init__(self, services: Sequence[Service]):
        self.services: tuple[Service, ...] = tuple(services)
        self.service_index = {s.name: i for i, s in enumerate(self.services)}
        if len(self.service_index) != len(self.services):
            names = [s.name for s in self.services]
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"two services have the same name: {', '.join(twice)}")
        self.measures: tuple[Measure, ...] = tuple(
            m for s in self.services for m in s.measures) + (_GEP_MEASURE,)
        self.measure_index = {(m.service, m.name): i for i, m in enumerate(self.measures)}
        stems = [map_name(m) for m in self.measures]
        clash = sorted({st for st in stems if stems.count(st) > 1})
        if clash:
            raise ValueError(f"two measures have the same map name: {', '.join(clash)}")
        params: dict[str, ParameterSpec] = {}
        for s in self.services:
            for p in s.parameters:
                if p.key in params and params[p.key] != p:
                    raise ValueError(f"parameter {p.key!r} is declared twice, differently")
                params.setdefault(p.key, p)
        self.parameters: tuple[ParameterSpec, ...] = tuple(params.values())
        self.param_index = {p.key: i for i, p in enumerate(self.parameters)}
        self.variants: tuple[Variant, ...] = tuple(v for s in self.services for v in s.variants)
        self.mode_index = {v.name: i for i, v in enumerate(self.variants)}
        for s in self.services:
            self._check(s)

    def _check(self, s: Service) -> None:
        """Every step reads declared parameters or earlier names; every measure is the
        service's; the last measure is its value."""
        known = set(s.parameter_keys)
        bound: set[str] = set()
        for st in s.steps:
            for a in st.args:
                if a not in known and a not in bound:
                    raise ValueError(f"service {s.name!r}: step {st.out!r} reads {a!r}, "
                                     "neither a parameter it declares or uses nor an earlier step")
            if st.when is not None and st.when[0] not in self.mode_index:
                raise ValueError(f"service {s.name!r}: step {st.out!r} depends on unknown "
                                 f"variant {st.when[0]!r}")
            bound.update(st.outputs)
        for k in s.uses:
            if k not in self.param_index:
                raise ValueError(f"service {s.name!r} uses undeclared parameter {k!r}")
        for m in s.measures:
            if m.service != s.name:
                raise ValueError(f"service {s.name!r} declares a measure of {m.service!r}")
        if not s.measures or s.measures[-1].name != "value":
            raise ValueError(f"service {s.name!r}: its last measure must be its 'value'")

    @property
    def gep(self) -> int:
        """Index of the GEP measure."""
        return len(self.measures) - 1

    @property
    def forms(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Quantities given in alternative forms: quantity → form label → keys."""
        return {v.quantity: dict(v.forms) for v in self.variants if v.quantity}

    @property
    def price_parameters(self) -> frozenset[str]:
        """Keys of money parameters."""
        return frozenset(p.key for p in self.parameters if p.price)

    @property
    def value_only_services(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services if s.value_only)

    @property
    def defaults(self) -> dict[str, float]:
        """Values fixed by the method itself."""
        return {p.key: p.default for p in self.parameters if p.default is not None}

    def modes(self, keys: Set[str], options: Mapping[str, Any]) -> np.ndarray:
        """Form of each variant (int64, :attr:`mode_index` order) for the available ``keys``."""
        return np.array([v.choose(keys, options) for v in self.variants] or [0],
                        dtype=np.int64)

    def mode_map(self, modes: np.ndarray) -> dict[str, int]:
        """Variant name → form index."""
        return {v.name: int(modes[i]) for i, v in enumerate(self.variants)}

    def service(self, name: str) -> Service:
        return self.services[self.service_index[name]]

    def required(self, service: str, modes: np.ndarray) -> tuple[str, ...]:
        """Parameter keys ``service`` reads under ``modes``."""
        return self.service(service).required(self.mode_map(modes))

    def measures_in_use(self, services: Iterable[str], modes: np.ndarray) -> list[int]:
        """Indices of the measures the ``services`` produce under ``modes`` (GEP left out)."""
        chosen = set(services)
        mm = self.mode_map(modes)
        out: list[int] = []
        for s in self.services:
            if s.name in chosen:
                out.extend(self.measure_index[(s.name, n)] for n in s.measures_set(mm))
        return sorted(out)


#: environment variable naming extra services, ``module:attribute`` separated by commas
PLUGIN_ENV = "GEPGEO_SERVICES"


def _plugin_services() -> tuple[Service, ...]:
    """Extra services: those named in ``$GEPGEO_SERVICES`` and those installed packages declare
    under the entry-point group ``gepgeo.services``; each a :class:`Service` (or a sequence of
    them). They are added after the method's own services, once, when gepgeo is imported."""
    refs = [r.strip() for r in os.environ.get(PLUGIN_ENV, "").split(",") if r.strip()]
    loaded: list[Service] = []
    for ref in refs:
        mod, _, attr = ref.partition(":")
        try:
            obj = getattr(importlib.import_module(mod), attr or "SERVICE")
        except (ImportError, AttributeError) as exc:
            raise ImportError(f"{PLUGIN_ENV}: cannot load service {ref!r}: {exc}") from exc
        loaded.extend(obj if isinstance(obj, (list, tuple)) else [obj])
    for ep in entry_points(group="gepgeo.services"):
        try:
            obj = ep.load()
        except (ImportError, AttributeError) as exc:
            raise ImportError(f"entry point gepgeo.services {ep.name!r} ({ep.value}): cannot "
                              f"load its service: {exc}") from exc
        loaded.extend(obj if isinstance(obj, (list, tuple)) else [obj])
    for svc in loaded:
        if not isinstance(svc, Service):
            raise TypeError(f"{PLUGIN_ENV} or entry point gepgeo.services: {svc!r} is not a "
                            "gepgeo.services.Service")
    return tuple(loaded)


#: the method: its own services, then any added by plugins (:func:`_plugin_services`)
METHOD = Method(BUILTIN_SERVICES + _plugin_services())

SERVICES = METHOD.services
SERVICE_INDEX = METHOD.service_index
MEASURES = METHOD.measures
MEASURE_INDEX = METHOD.measure_index
GEP = METHOD.gep
