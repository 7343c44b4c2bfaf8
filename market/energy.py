"""Energy, emissions and water of rented compute (pure functions; units in each name).

One definition of power runs through the model: a hyperscaler's ``mw_per_h100e`` is
the all-in facility MW one installed H100e needs (servers, network, cooling: what
it buys with each install). Its IT power is that divided by the PUE (power usage
effectiveness, facility energy / IT energy), so::

    it_kw_per_h100e = 1000 x mw_per_h100e / pue                     (kW IT per H100e)
    energy_mwh      = sold x it_kw_per_h100e x hours_per_tick x pue / 1000
                    = sold x mw_per_h100e x hours_per_tick          (MWh per tick)
    it_energy_mwh   = energy_mwh / pue
    emissions_t     = energy_mwh x intensity / 1000                 (t CO2e; g/kWh = kg/MWh)
    water_m3        = it_energy_mwh x wue                           (m3: MWh x 1000 kWh/MWh x
                                                                      L/kWh / 1000 L/m3)

A clean-energy requirement r (share of energy from low-carbon sources) above the
grid's own clean share c is met by buying the difference as clean energy (PPAs or
certificates) at a premium π $/MWh; the energy's fossil share falls from 1 - c to
1 - max(r, c), and its emissions with it::

    clean_bought_mwh = max(0, r - c) x energy_mwh
    clean_cost       = clean_bought_mwh x π                         ($)
    intensity'       = intensity x (1 - max(r, c)) / (1 - c)        (g CO2e/kWh; 0 if c = 1)

``sold`` is the compute a hyperscaler rented out this tick, in H100e-quarters (fleet
x capacity factor x utilisation): an accelerator that is rented draws its full power
for the tick, an idle one is left out (idle draw is not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_YEAR = 8760.0
"""Hours in a (non-leap) year."""


def hours_per_tick(ticks_per_year: int) -> float:
    """Hours in one tick (2,190 for quarters)."""
    return HOURS_PER_YEAR / ticks_per_year


def it_kw_per_h100e(mw_per_h100e: float, pue: float) -> float:
    """kW of IT power per H100e: the all-in facility MW per H100e x 1000 / PUE."""
    return 1000.0 * mw_per_h100e / pue


def energy_mwh(sold: float, it_kw: float, hours: float, pue: float) -> float:
    """MWh drawn from the grid: ``sold`` H100e-quarters x IT kW per H100e x hours per
    tick x PUE / 1000 (kWh -> MWh)."""
    return sold * it_kw * hours * pue / 1000.0


def emissions_t(energy: float, intensity: float) -> float:
    """t CO2e of ``energy`` MWh at ``intensity`` g CO2e/kWh (= kg/MWh; / 1000 kg/t)."""
    return energy * intensity / 1000.0


def water_m3(it_energy: float, wue: float) -> float:
    """m3 of water for ``it_energy`` MWh of IT energy at ``wue`` L per kWh of IT energy
    (MWh x 1000 kWh/MWh x L/kWh / 1000 L/m3: numerically MWh x WUE)."""
    return it_energy * wue


@dataclass(frozen=True, slots=True)
class Footprint:
    """One tick's energy (MWh), emissions (t CO2e) and water (m3)."""

    energy_mwh: float = 0.0
    emissions_t: float = 0.0
    water_m3: float = 0.0


def footprint(
    sold: float, mw_per_h100e: float, pue: float, wue: float, intensity: float, hours: float
) -> Footprint:
    """The footprint of ``sold`` H100e-quarters rented for one tick of ``hours`` hours
    (``mw_per_h100e`` all-in MW per H100e, ``wue`` L/kWh IT, ``intensity`` g CO2e/kWh)."""
    energy = energy_mwh(sold, it_kw_per_h100e(mw_per_h100e, pue), hours, pue)
    return Footprint(energy, emissions_t(energy, intensity), water_m3(energy / pue, wue))


def carbon_cost_per_h100e(
    mw_per_h100e: float, intensity: float, hours: float, price: float
) -> float:
    """$ of carbon price per H100e-quarter rented: MWh per H100e-quarter (``mw_per_h100e``
    x ``hours``) x t CO2e per MWh (``intensity`` g/kWh / 1000) x ``price`` $ per t CO2e."""
    return emissions_t(mw_per_h100e * hours, intensity) * price


def clean_bought_share(required: float, grid_clean: float) -> float:
    """Share of its energy a hyperscaler buys as clean energy to meet a requirement of
    ``required`` (0..1) on a grid whose own clean share is ``grid_clean``: max(0, r - c)."""
    return max(0.0, required - grid_clean)


def residual_intensity(intensity: float, required: float, grid_clean: float) -> float:
    """g CO2e/kWh of the energy once a requirement ``required`` is met on a grid of
    ``intensity`` with clean share ``grid_clean``: intensity x (1 - max(r, c)) / (1 - c),
    0 on an all-clean grid. (The grid's intensity is its fossil share's, spread over all
    its energy; the clean energy bought displaces fossil energy.)"""
    if grid_clean >= 1.0:
        return 0.0
    return intensity * (1.0 - max(required, grid_clean)) / (1.0 - grid_clean)


def clean_cost_per_h100e(
    mw_per_h100e: float, hours: float, required: float, grid_clean: float, premium: float
) -> float:
    """$ per H100e-quarter rented of meeting the requirement: MWh per H100e-quarter
    (``mw_per_h100e`` x ``hours``) x ``clean_bought_share`` x ``premium`` $/MWh."""
    return mw_per_h100e * hours * clean_bought_share(required, grid_clean) * premium
