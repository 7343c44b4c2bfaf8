"""The historical series in data/history/: tidy, sourced, well formed and self-consistent.

Every CSV has one row per observation. Columns other than the standard ones below are
the series' identifying keys (e.g. designer, maker, company); with ``period`` and
``source`` they identify a row uniquely.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[2] / "data"
HISTORY = DATA / "history"
REQUIRED = ["period", "value", "unit", "source", "confidence", "note"]
#: optional: low/high (an interval), bound ("lower"/"upper": the value is only a bound)
STANDARD = {*REQUIRED, "low", "high", "bound"}
CONFIDENCE = {"high", "medium", "low"}
#: quarter (2023Q1), half (2026H1), year (2023) or month (2024-03)
PERIOD = re.compile(r"^(20[12]\d)(Q[1-4]|H[12]|-(0[1-9]|1[0-2]))?$")
#: units whose values may be negative or zero (changes); every other unit must be > 0
SIGNED_UNITS = {"% QoQ", "% YoY"}
#: the series the backtest issue asks for; removing one must fail a test
EXPECTED = {
    "chip_units_by_designer",
    "chip_units_by_designer_quarterly",
    "chip_h100e_by_designer",
    "chip_h100e_by_designer_quarterly",
    "nvidia_share_of_new_compute",
    "nvidia_datacenter_revenue",
    "h100_rental_price",
    "ai_server_lead_times",
    "cowos_capacity",
    "hbm_market_share",
    "dram_contract_price_change",
    "hyperscaler_capex",
}

CSVS = sorted(HISTORY.glob("*.csv"))


def load(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"period": str, "source": str, "note": str}, keep_default_na=False
    )


def keys(df: pd.DataFrame) -> list[str]:
    """Identifying columns: period and every non-standard column, then source."""
    return ["period", *[c for c in df.columns if c not in STANDARD], "source"]


def test_every_expected_series_is_present():
    assert {p.stem for p in CSVS} >= EXPECTED


@pytest.mark.parametrize("path", CSVS, ids=lambda p: p.stem)
class TestSeries:
    def test_has_required_columns_and_rows(self, path):
        df = load(path)
        assert not (missing := [c for c in REQUIRED if c not in df.columns]), missing
        assert len(df) > 0

    def test_every_row_cites_a_public_source(self, path):
        df = load(path)
        blank = df[df.source.str.strip() == ""]
        assert blank.empty, f"rows without source: {blank.period.tolist()}"
        assert df.source.str.contains("http").all(), "a source must give its URL"
        local = df[df.source.str.contains(r"\.\./|/work/", regex=True)]
        assert local.empty, "cite the original publisher, not a local path"

    def test_confidence_is_high_medium_or_low_and_low_says_why(self, path):
        df = load(path)
        assert set(df.confidence) <= CONFIDENCE, set(df.confidence) - CONFIDENCE
        unexplained = df[(df.confidence == "low") & (df.note.str.strip() == "")]
        assert unexplained.empty, f"low-confidence rows need a note: {unexplained.period.tolist()}"

    def test_periods_are_well_formed(self, path):
        bad = [p for p in load(path).period if not PERIOD.match(p)]
        assert not bad, bad

    def test_values_are_finite_and_positive_where_the_unit_requires(self, path):
        df = load(path)
        values = pd.to_numeric(df.value, errors="raise")
        assert all(math.isfinite(v) for v in values)
        unsigned = ~df.unit.isin(SIGNED_UNITS)
        assert (values[unsigned] > 0).all(), df[unsigned & (values <= 0)].period.tolist()
        shares = df.unit.str.startswith("% of")
        assert (values[shares] <= 100).all()

    def test_interval_brackets_the_value(self, path):
        df = load(path)
        for side in ("low", "high"):
            if side not in df.columns:
                continue
            given = df[df[side].astype(str).str.strip() != ""]
            bound = pd.to_numeric(given[side])
            value = pd.to_numeric(given.value)
            assert ((bound <= value) if side == "low" else (bound >= value)).all(), side

    def test_bound_is_lower_upper_or_blank(self, path):
        df = load(path)
        if "bound" in df.columns:
            assert set(df.bound) <= {"", "lower", "upper"}, set(df.bound)

    def test_forecasts_are_marked_and_dated(self, path):
        """A row made before its period ended says so (kind) and when (as_of)."""
        df = load(path)
        if "kind" in df.columns:
            assert set(df.kind) <= {"estimate", "forecast"}, set(df.kind)
            assert "as_of" in df.columns
        if "as_of" in df.columns:
            assert all(PERIOD.match(a) for a in df.as_of), df.as_of.tolist()

    def test_no_duplicate_keys_per_source(self, path):
        df = load(path)
        dup = df[df.duplicated(keys(df), keep=False)]
        assert dup.empty, dup[keys(df)].to_string()

    def test_is_documented_in_the_readme(self, path):
        assert f"`{path.name}`" in (DATA / "README.md").read_text()


def test_annual_chip_sales_equal_the_sum_of_their_quarters():
    """Both are differences of the same cumulative series, so they must add up."""
    for stem in ("chip_units_by_designer", "chip_h100e_by_designer"):
        annual, quarterly = load(HISTORY / f"{stem}.csv"), load(HISTORY / f"{stem}_quarterly.csv")
        for row in annual.itertuples():
            span = ("Q1", "Q2") if row.period.endswith("H1") else ("Q1", "Q2", "Q3", "Q4")
            year = row.period[:4]
            q = quarterly[
                (quarterly.designer == row.designer)
                & quarterly.period.isin([year + s for s in span])
            ]
            if len(q) < len(span):
                continue  # quarterly series starts inside the period
            assert q.value.astype(float).sum() == pytest.approx(float(row.value), abs=len(span))


def test_nvidia_share_matches_the_designer_totals():
    share = load(HISTORY / "nvidia_share_of_new_compute.csv")
    h = load(HISTORY / "chip_h100e_by_designer.csv")
    for row in share.itertuples():
        year = h[h.period == row.period]
        nvidia = float(year[year.designer == "Nvidia"].value.iloc[0])
        assert float(row.value) == pytest.approx(
            100 * nvidia / year.value.astype(float).sum(), abs=0.05
        )


def test_nvidia_fiscal_2026_quarters_add_up_to_the_reported_year():
    """NVIDIA reported FY2026 (to 2026-01-25) Data Center revenue of $193.7B (results of
    2026-02-25, e.g. https://www.pcgamer.com/hardware/nvidia-reports-a-truly-astonishing-usd193-7-billion-in-annual-data-center-revenue-in-its-latest-earnings-call-up-75-percent-year-on-year-while-little-old-gaming-brought-in-usd16-billion/)."""
    df = load(HISTORY / "nvidia_datacenter_revenue.csv")
    fy26 = df[df.fiscal_quarter.str.startswith("FY26")]
    assert len(fy26) == 4
    assert fy26.value.astype(float).sum() == pytest.approx(193.7, abs=0.15)


def test_hbm_shares_of_the_three_makers_add_up_to_the_whole_market():
    df = load(HISTORY / "hbm_market_share.csv")
    df = df[df.bound == ""]
    complete = 0
    for _, g in df.groupby(["period", "basis", "kind", "source"]):
        if set(g.maker) >= {"SK hynix", "Samsung", "Micron"}:
            complete += 1
            assert g.value.astype(float).sum() == pytest.approx(100, abs=2)
    assert complete >= 4


@pytest.mark.parametrize(
    ("company", "year", "reported"),
    [
        # annual purchases of property and equipment, $B, from the companies' annual reports
        # (Amazon's Q4-2025 release: 83.0 for 2024, 131.8 for 2025; Alphabet's 10-K: 52.5, 91.4)
        ("Amazon", "2024", 83.0),
        ("Amazon", "2025", 131.8),
        ("Alphabet", "2024", 52.5),
        ("Alphabet", "2025", 91.4),
    ],
)
def test_quarterly_capex_adds_up_to_the_annual_report(company, year, reported):
    df = load(HISTORY / "hyperscaler_capex.csv")
    q = df[
        (df.company == company)
        & (df.measure == "cash capex")
        & df.period.isin([f"{year}Q{i}" for i in range(1, 5)])
    ]
    assert len(q) == 4
    assert q.value.astype(float).sum() == pytest.approx(reported, abs=0.1)
