"""Chip generations (ODD 7.15): a designer's products by generation.

A generation g of a designer has per-chip specs (H100e per chip, HBM GB, dies per
wafer, packages per CoWoS wafer, $ unit cost, TDP W), a launch tick L_g, the ramp
progress it has at launch a_g (0 for a future launch, the share of output it
already has for one on sale at the start) and a ramp length R_g (ticks). Its ramp
progress at tick t is

    p_g(t) = 0 if t < L_g, else min(1, a_g + (t - L_g + [L_g > 0]) / R_g)

and, from the newest generation to the oldest, its planned share of the designer's
output (H100e) is s_g = p_g x (1 - sum of the newer generations' shares), normalised to
sum to 1 (which matters only while the oldest on sale is not fully ramped): a new
generation ramps up and the older ones run down.

Power: a generation draws w_g = TDP_g / H100e_per_chip_g W per peak H100e. The
hyperscalers' ``mw_per_h100e`` is calibrated for the 2025 fleet, so each designer's
start mix is the reference: f_g = w_g / sum_k(s_k(0) w_k) (H100e-weighted), and a
cohort of generation g needs f_g x mw_per_h100e MW per H100e (1 without generations).
"""

from __future__ import annotations

from market.scenario import DesignerSpec, GenerationSpec


def realised(g: GenerationSpec, performance: float) -> float:
    """Realised H100e per chip: H100e per chip x the designer's performance."""
    return g.h100e_per_chip * performance


def inputs_per_h100e(
    chips_per_wafer: float, hbm_per_chip: float, chips_per_cowos_wafer: float, h: float
) -> dict[str, float]:
    """Wafers, GB of HBM and CoWoS wafer-equivalents per realised H100e (h per chip)."""
    return {
        "wafer": 1.0 / (chips_per_wafer * h),
        "hbm": hbm_per_chip / h,
        "cowos": 1.0 / (chips_per_cowos_wafer * h),
    }


def progress(g: GenerationSpec, tick: int) -> float:
    """Ramp progress p_g(t) in [0, 1] (see module)."""
    if tick < g.launch:
        return 0.0
    step = tick - g.launch + (0 if g.launch == 0 else 1)
    return min(1.0, g.ramped + step / g.ramp_ticks)


def shares(gens: tuple[GenerationSpec, ...], tick: int) -> list[float]:
    """Planned share of the designer's output (H100e) by generation, in spec order
    (oldest first): newest first, each takes its ramp progress of what is left."""
    out = [0.0] * len(gens)
    left = 1.0
    for i in sorted(range(len(gens)), key=lambda i: (gens[i].launch, i), reverse=True):
        out[i] = progress(gens[i], tick) * left
        left -= out[i]
    total = 1.0 - left  # < 1 only while the oldest on sale is not fully ramped
    return [x / total for x in out] if 0 < total < 1 else out


def w_per_h100e(g: GenerationSpec) -> float:
    """W of TDP per peak H100e."""
    return g.tdp_w / g.h100e_per_chip


def mw_factors(designers: list[DesignerSpec] | tuple[DesignerSpec, ...]) -> dict:
    """(designer, generation) -> f_g, the MW per H100e of a cohort of that generation
    relative to the hyperscaler's ``mw_per_h100e`` (the designer's start mix = 1)."""
    out: dict[tuple[str, str], float] = {}
    for d in designers:
        if not d.generations:
            continue
        s = shares(d.generations, 0)
        ref = sum(si * w_per_h100e(g) for si, g in zip(s, d.generations))
        for g in d.generations:
            out[(d.name, g.name)] = w_per_h100e(g) / ref
    return out


__all__ = ["inputs_per_h100e", "mw_factors", "progress", "realised", "shares", "w_per_h100e"]
