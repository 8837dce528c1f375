"""The eight ecosystem services of METHOD.md and the measures (outputs) each one produces.

Each service has a module here holding its formula (``soil.py`` has RUSLE, ``water.py`` the water
balance, ...). This module is the catalogue: which measures exist, their units, which service and
category they belong to. The order of :data:`MEASURES` is the order of the output slots of the
fused kernel (:mod:`gepgeo.kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Service", "Measure", "SERVICES", "SERVICE_INDEX", "MEASURES", "MEASURE_INDEX",
           "CATEGORIES", "map_name", "GEP"]


@dataclass(frozen=True)
class Service:
    """One ecosystem service.

    Attributes
    ----------
    name : str
        Short name used in pipelines, tables and file names (``soil``).
    title : str
        Human-readable name (``Soil conservation``).
    category : str
        ``provisioning``, ``regulating`` or ``cultural``.
    """

    name: str
    title: str
    category: str


@dataclass(frozen=True)
class Measure:
    """One output of a service: a physical quantity or a value.

    Attributes
    ----------
    service : str
        Name of the service (``gep`` for the GEP total).
    name : str
        Measure name in tables (``soil_retention``; ``value`` for the service's total value).
    unit : str
        Unit of a table total (per year).
    density_unit : str
        Unit of a map pixel (per ha per year).
    description : str
        What it is.
    """

    service: str
    name: str
    unit: str
    density_unit: str
    description: str

    @property
    def is_value(self) -> bool:
        """True for money measures (yuan a⁻¹)."""
        return self.unit == "yuan a-1"


CATEGORIES = ("provisioning", "regulating", "cultural")

SERVICES: tuple[Service, ...] = (
    Service("agriculture", "Agricultural products", "provisioning"),
    Service("water", "Water conservation", "regulating"),
    Service("soil", "Soil conservation", "regulating"),
    Service("air", "Air purification", "regulating"),
    Service("carbon", "Carbon fixation", "regulating"),
    Service("oxygen", "Oxygen release", "regulating"),
    Service("climate", "Climate regulation", "regulating"),
    Service("landscape", "Landscape value", "cultural"),
)
SERVICE_INDEX = {s.name: i for i, s in enumerate(SERVICES)}

_V = ("yuan a-1", "yuan ha-1 a-1")

MEASURES: tuple[Measure, ...] = (
    Measure("agriculture", "productive_area", "ha", "ha ha-1", "area of land types with output"),
    Measure("agriculture", "product_mass", "kg a-1", "kg ha-1 a-1", "crop product (with yields)"),
    Measure("agriculture", "value", *_V, "market value of agricultural products"),
    Measure("water", "water_conservation", "m3 a-1", "m3 ha-1 a-1", "water conserved, P − R − ET"),
    Measure("water", "value", *_V, "water conservation value"),
    Measure("soil", "soil_retention", "t a-1", "t ha-1 a-1", "soil retained, R K LS (1 − C P)"),
    Measure("soil", "sediment_volume", "m3 a-1", "m3 ha-1 a-1", "sediment kept out of reservoirs"),
    Measure("soil", "n_fertilizer", "t a-1", "t ha-1 a-1", "N fertilizer equivalent retained"),
    Measure("soil", "p_fertilizer", "t a-1", "t ha-1 a-1", "P fertilizer equivalent retained"),
    Measure("soil", "k_fertilizer", "t a-1", "t ha-1 a-1", "K fertilizer equivalent retained"),
    Measure("soil", "sediment_value", *_V, "reduced reservoir sediment (dredging cost)"),
    Measure("soil", "n_fertilizer_value", *_V, "reduced N non-point pollution"),
    Measure("soil", "p_fertilizer_value", *_V, "reduced P non-point pollution"),
    Measure("soil", "k_fertilizer_value", *_V, "reduced K non-point pollution"),
    Measure("soil", "value", *_V, "soil conservation value"),
    Measure("air", "so2", "t SO2 a-1", "t SO2 ha-1 a-1", "SO2 absorbed"),
    Measure("air", "nox", "t NOx a-1", "t NOx ha-1 a-1", "NOx absorbed"),
    Measure("air", "dust", "t a-1", "t ha-1 a-1", "dust retained"),
    Measure("air", "so2_value", *_V, "SO2 treatment cost avoided"),
    Measure("air", "nox_value", *_V, "NOx treatment cost avoided"),
    Measure("air", "dust_value", *_V, "dust treatment cost avoided"),
    Measure("air", "value", *_V, "air purification value"),
    Measure("carbon", "carbon", "t C a-1", "t C ha-1 a-1", "carbon fixed (t C)"),
    Measure("carbon", "co2", "t CO2 a-1", "t CO2 ha-1 a-1", "CO2 fixed (t CO2)"),
    Measure("carbon", "value", *_V, "carbon fixation value"),
    Measure("oxygen", "o2", "t O2 a-1", "t O2 ha-1 a-1", "oxygen released (t O2)"),
    Measure("oxygen", "value", *_V, "oxygen release value"),
    Measure("climate", "cooling_energy", "kWh a-1", "kWh ha-1 a-1",
            "air-conditioning electricity replaced"),
    Measure("climate", "value", *_V, "climate regulation value"),
    Measure("landscape", "value", *_V, "landscape (aesthetic) value"),
    Measure("gep", "value", *_V, "gross ecosystem product"),
)
MEASURE_INDEX = {(m.service, m.name): i for i, m in enumerate(MEASURES)}
GEP = MEASURE_INDEX[("gep", "value")]


def map_name(measure: Measure) -> str:
    """File stem of a measure's density map: ``<service>_value`` for values, else the measure name.

    ``gep`` for the GEP total, ``soil_value`` for the soil value, ``soil_retention`` for q_sr.
    """
    if measure.service == "gep":
        return "gep"
    if measure.name == "value":
        return f"{measure.service}_value"
    return measure.name
