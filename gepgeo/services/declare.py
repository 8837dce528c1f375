"""The vocabulary a service module declares itself in.

A service (:class:`Service`) declares, in its own module of :mod:`gepgeo.services`:

- its **parameters** (:class:`ParameterSpec`: key, unit family and canonical unit, domain,
  default, whether it is money), or the keys it borrows from another service (``uses``);
- its **variants** (:class:`Variant`): formulas with alternative forms, chosen from the keys a
  profile or pipeline gives (e.g. the water balance from a net depth, a runoff coefficient or
  a runoff depth);
- its **measures** (:class:`Measure`): the physical quantities and values it produces, with
  their units;
- its **steps** (:class:`Step`): the per-pixel recipe, each step one numba scalar function of
  parameters and earlier steps, optionally only under one form of a variant;
- optionally its **linear driver** (:class:`Linear`): when every measure is a per-pixel driver
  (soil retention, the water balance depth) times per-land-type coefficients.

Everything else is derived from these declarations: the parameters a run needs
(:func:`gepgeo.resolve.required_parameters`), the measures it writes
(:func:`gepgeo.accounts.measures_in_use`), the formula variants (:func:`Method.modes`), the units
of the manifest and tables, the README's parameter table, and the per-pixel evaluation in the
fused kernel, which :mod:`gepgeo.codegen` generates from the steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParameterSpec", "Measure", "Variant", "Step", "Linear", "Service", "VALUE_UNITS",
           "INF"]

#: units of a value measure: a table total and a map pixel
VALUE_UNITS = ("yuan a-1", "yuan ha-1 a-1")
#: an open upper (or lower) end of a domain
INF = math.inf


@dataclass(frozen=True)
class ParameterSpec:
    """Declaration of one method parameter.

    Attributes
    ----------
    key : str
        The name used in profiles and pipelines.
    symbol : str
        The symbol in the method documentation.
    family : str
        Unit family (see :data:`gepgeo.units.UNIT_FAMILIES`); its first unit is canonical.
    unit : str
        Canonical unit.
    low, high : float
        Closed domain; values outside it are rejected (tables, constants) or masked/refused
        (rasters, by the domain policy).
    description : str
        What the parameter is.
    price : bool
        Money (a price, a cost, a value per ha): not needed for physical quantities only
        (``valuation: false``).
    default : float or None
        Value fixed by the method itself, used when neither profile nor pipeline gives one.
    """

    key: str
    symbol: str
    family: str
    unit: str
    low: float
    high: float
    description: str
    price: bool = False
    default: float | None = None


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


@dataclass(frozen=True)
class Variant:
    """A choice between forms of a formula, made once per run.

    Attributes
    ----------
    name : str
        Name of the choice (``water``, ``sediment`` ...), unique in the method.
    forms : mapping of str to tuple of str
        Each form's label and the parameter keys it reads, in the order of the form's index
        (the value the kernel sees).
    choose : callable
        ``choose(available_keys, options) -> index`` of the form that applies; ``options``
        holds ``water_deficit`` and ``valuation``.
    quantity : str
        The quantity the forms give, for messages (``water conservation depth``); empty for
        a choice that is not between alternative keys of one quantity (an option, or an
        optional extra).
    """

    name: str
    forms: Mapping[str, tuple[str, ...]]
    choose: Callable[[Set[str], Mapping[str, Any]], int]
    quantity: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a service's per-pixel recipe: ``out = fn(*args)``.

    Attributes
    ----------
    out : str or tuple of str
        Name(s) the result is bound to: a measure of the service (its map and table value),
        or an intermediate. A step whose ``fn`` returns a tuple binds each element. The name
        ``clamped`` is special: nonzero marks a pixel whose water deficit was clamped.
    fn : numba function
        A scalar function (``@njit(inline="always")``) of the service's module.
    args : tuple of str
        Parameter keys (read per pixel from a raster or a table by land type) or names bound
        by earlier steps.
    when : (str, int) or None
        Only under form ``when[1]`` of variant ``when[0]``; a measure no step sets is 0.
    """

    out: str | tuple[str, ...]
    fn: Any
    args: tuple[str, ...]
    when: tuple[str, int] | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.out,) if isinstance(self.out, str) else self.out


@dataclass(frozen=True)
class Linear:
    """Every measure of the service is ``driver × coefficient[land type]`` when only the
    driver's parameters come from rasters (used for soil and water, whose per-pixel drivers the
    kernel computes in vectorised loops; any other service is evaluated in full per pixel).

    ``settings[form]`` lists, for the form of ``variant`` in use (a single form when there is
    no variant), each parameter of the driver as ``(key, a, b)``: set to ``a·x + b`` it makes
    the driver equal to ``x`` (:func:`gepgeo.kernel.linear_coefficients` evaluates the steps
    at x = 0, 1, 2 to find and check the coefficients).
    """

    settings: tuple[tuple[tuple[str, float, float], ...], ...]
    variant: str = ""


@dataclass(frozen=True)
class Service:
    """One ecosystem service, declared once.

    Attributes
    ----------
    name : str
        Short name used in pipelines, tables and file names (``soil``).
    title : str
        Human-readable name (``Soil conservation``).
    category : str
        ``provisioning``, ``regulating`` or ``cultural``.
    parameters : tuple of ParameterSpec
        The parameters this service declares.
    uses : tuple of str
        Keys of parameters declared by another service that this one reads too.
    variants : tuple of Variant
        Formula choices.
    measures : tuple of Measure
        Outputs, in table order; the last is the service's ``value``.
    steps : tuple of Step
        The per-pixel recipe.
    linear : Linear or None
        The linear driver, if the service has one.
    value_only : bool
        True for a service with no physical quantity (left out without valuation).
    module : str
        The module that declares it (named in the generated kernel).
    """

    name: str
    title: str
    category: str
    parameters: tuple[ParameterSpec, ...] = ()
    uses: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    measures: tuple[Measure, ...] = ()
    steps: tuple[Step, ...] = ()
    linear: Linear | None = None
    value_only: bool = False
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name in ("p", "l", "on", "mode", "f", "gep"):
            raise ValueError(f"service name {self.name!r}: must be an identifier, and not one "
                             "of p, l, on, mode, f, gep")

    def active_steps(self, modes: Mapping[str, int]) -> list[Step]:
        """The steps that run under the forms ``modes`` (variant name → form index)."""
        return [st for st in self.steps
                if st.when is None or modes.get(st.when[0], 0) == st.when[1]]

    @property
    def parameter_keys(self) -> tuple[str, ...]:
        """Keys this service reads, borrowed (``uses``) first, then its own in declared order."""
        return self.uses + tuple(p.key for p in self.parameters)

    def required(self, modes: Mapping[str, int]) -> tuple[str, ...]:
        """Parameter keys the steps read under ``modes``, in :attr:`parameter_keys` order."""
        read = {a for st in self.active_steps(modes) for a in st.args}
        return tuple(k for k in self.parameter_keys if k in read)

    def measures_set(self, modes: Mapping[str, int]) -> list[str]:
        """Names of the measures some step sets under ``modes``."""
        out: set[str] = set()
        for st in self.active_steps(modes):
            out.update(st.outputs)
        return [m.name for m in self.measures if m.name in out]
