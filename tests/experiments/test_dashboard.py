"""``experiments.app``: the levers build valid scenarios, and the dashboard works in a browser.

The browser test starts the dashboard (``experiments.app.serve``) on a free port of
localhost and drives it with Playwright in Debian's headless Chromium
(``/usr/bin/chromium``, installed by ``.ci/run``; Playwright never downloads one):
the page loads with the scenario's title, *Step* advances the tick, the price chart
changes (its PNG data, fetched in the page: never a screenshot of a node that may
re-render) and its caption shows the model's prices; a slider shows its value and
moving it changes nothing until *Apply*; *Reset levers* restores the scenario's
values; a screenshot of the whole page is saved (``runs/dashboard.png``, gitignored,
and in ``tmp_path``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.app import (
    DashboardModel,
    Levers,
    applied_levers,
    dashboard_scenario,
    latest_prices,
    lever_defaults,
    model_params,
)
from experiments.scenarios import load_scenario

ROOT = Path(__file__).parents[2]
BASELINE = ROOT / "experiments" / "scenarios" / "baseline.toml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


# ---------------------------------------------------------------- the levers


def test_levers_change_behaviour_growth_and_add_policy_shocks():
    base = load_scenario(BASELINE)
    levers = Levers(
        foresight=0.7,
        contract_share=0.1,
        switching_cost=0.4,
        demand_growth=2.0,
        taiwan_outage=True,
        outage_start=38,
        outage_ticks=5,
        export_controls=True,
        export_start=4,
        contract_cap=0.3,
    )
    world = dashboard_scenario(base, levers)
    b = world.behaviour
    assert (b.foresight, b.contract_share, b.switching_cost) == (0.7, 0.1, 0.4)
    assert world.labs[0].training_growth == pytest.approx(2 * base.labs[0].training_growth)
    added = world.shocks[len(base.shocks) :]
    kinds = [s.kind for s in added]
    assert kinds == ["outage", "export_control", "export_control", "export_control", "contract_cap"]
    outage = added[0]
    assert (outage.target, outage.start, outage.end) == ("TW", 38, base.meta.horizon)  # cut
    assert added[-1].factor == 0.3


def test_default_levers_keep_the_scenario():
    base = load_scenario(BASELINE)
    assert dashboard_scenario(base, Levers()) == base
    assert dashboard_scenario(base, Levers(contract_cap=1.0)) == base


def test_sidebar_defaults_build_the_model_that_stops_at_the_horizon():
    base = load_scenario(BASELINE)
    params = model_params(base, str(BASELINE))
    kwargs = {k: v["value"] if isinstance(v, dict) else v for k, v in params.items()}
    model = DashboardModel(**kwargs)
    assert model.world.behaviour == base.behaviour
    assert model.world.shocks == base.shocks
    model.step()
    assert model.tick == 1 and model.running


def test_applied_levers_name_what_differs_from_the_scenario():
    base = load_scenario(BASELINE)
    defaults = lever_defaults(model_params(base, str(BASELINE)))
    assert applied_levers(DashboardModel(**defaults).levers, base) == "scenario values"
    levers = Levers(foresight=base.behaviour.foresight, demand_growth=1.5, contract_cap=0.25)
    text = applied_levers(levers, base)
    assert text == "demand growth x1.5; contract cap 0.25"


def test_latest_prices_are_the_last_ticks_prices_per_good():
    model = DashboardModel(scenario_path=str(BASELINE))
    assert latest_prices(model) == ""
    model.step()
    model.step()
    table = model.tables()["prices"]
    rows = [(g, p) for t, g, p in zip(table["tick"], table["good"], table["price"]) if t == 1]
    text = latest_prices(model)
    assert text.startswith("2025Q2: ")
    shown = dict(part.split(" $") for part in text.removeprefix("2025Q2: ").split("; "))
    assert set(shown) == {good for good, _ in rows}
    for good, price in rows:
        assert float(shown[good].replace(",", "")) == pytest.approx(price, rel=5e-3)


# ---------------------------------------------------------------- the browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(proc: subprocess.Popen, port: int, log: Path, timeout: float = 60.0) -> None:
    """Until the port accepts connections; fails with the server's log if it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dashboard server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"dashboard server not listening after {timeout:.0f} s:\n{log.read_text()}")


# The chart's data: a digest of the PNG bytes its <img> shows (an object URL), fetched in
# one step in the page; null while the image is missing, loading or being replaced.
CHART_DIGEST = """async (sel) => {
  const img = document.querySelector(sel);
  if (img === null || !img.complete || !img.src) return null;
  try {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    if (bytes.byteLength === 0) return null;
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
  } catch (e) { return null; }
}"""
CHART_CHANGED = (
    f"async ([sel, old]) => {{ const d = await ({CHART_DIGEST})(sel);"
    " return d !== null && d !== old; }"
)


def _chart_digest(page, name: str) -> str:
    """A digest of the chart's PNG (waits until one is shown): its data, not its DOM node."""
    handle = page.wait_for_function(
        CHART_DIGEST, arg=f".aimarket-{name} img", polling=200, timeout=TIMEOUT_MS
    )
    return handle.json_value()


def _wait_for_new_chart(page, name: str, old: str) -> str:
    """The chart's digest once it differs from ``old`` (fails after the timeout)."""
    page.wait_for_function(
        CHART_CHANGED, arg=[f".aimarket-{name} img", old], polling=200, timeout=TIMEOUT_MS
    )
    return _chart_digest(page, name)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def test_dashboard_steps_and_applies_levers_only_on_apply_in_headless_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the dashboard test needs Debian's Chromium. "
            "Run `bash .ci/run`, or `apt-get update && apt-get install -y chromium`."
        )
    from playwright.sync_api import expect, sync_playwright

    # Every assertion retries for up to TIMEOUT_MS (Playwright's default is 5 s, too short
    # for a server that shares a busy machine).
    expect.set_options(timeout=TIMEOUT_MS)
    base = load_scenario(BASELINE)
    reference = DashboardModel(**lever_defaults(model_params(base, str(BASELINE))))
    reference.step()
    expected_prices = latest_prices(reference)
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "AIMARKET_SCENARIO": str(BASELINE)}
    code = f"from experiments.app import serve; serve({str(BASELINE)!r}, {port})"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_server(proc, port, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(f"http://127.0.0.1:{port}/")

                tick = page.locator(".aimarket-tick")
                expect(tick).to_have_text("Tick 0", timeout=TIMEOUT_MS)
                # The title comes from the scenario file.
                expect(page).to_have_title(re.compile(re.escape(base.meta.name)))
                expect(page.locator(".v-toolbar__title")).to_contain_text(base.meta.description)
                expect(page.locator(".aimarket-prices img")).to_be_visible()
                expect(page.locator(".aimarket-network img")).to_be_visible()
                # The chart's data (a digest of its PNG, read in one step), never a screenshot of
                # an <img> that a re-render may replace while it is photographed.
                before = _chart_digest(page, "prices")

                page.get_by_role("button", name="Step").click()
                expect(tick).to_have_text("Tick 1", timeout=TIMEOUT_MS)
                after = _wait_for_new_chart(page, "prices", before)
                assert after != before, "the price chart did not change"
                # What the chart shows is the model's own prices (an in-process run, same seed).
                expect(page.locator(".aimarket-prices-data")).to_have_text(expected_prices)

                # Slider values are shown; moving one changes the draft, not the running model.
                growth = page.locator(".aimarket-lever-demand_growth")
                expect(growth.locator(".aimarket-lever-value")).to_have_text("1.00")
                applied = page.locator(".aimarket-applied")
                expect(applied).to_contain_text("scenario values")
                growth.locator("[role=slider]").focus()
                page.keyboard.press("ArrowRight")
                expect(growth.locator(".aimarket-lever-value")).to_have_text("1.10 (running: 1.00)")
                expect(page.locator(".aimarket-pending")).to_contain_text("not applied")
                expect(tick).to_have_text("Tick 1")
                expect(applied).to_contain_text("scenario values")
                expect(page.locator(".aimarket-prices-data")).to_have_text(expected_prices)

                # Apply: a new model with the lever, back at tick 0.
                page.get_by_role("button", name="Apply", exact=True).click()
                expect(tick).to_have_text("Tick 0", timeout=TIMEOUT_MS)
                expect(applied).to_contain_text("demand growth x1.1")
                expect(growth.locator(".aimarket-lever-value")).to_have_text("1.10")
                expect(page.get_by_role("button", name="Apply", exact=True)).to_be_disabled()

                # Reset levers: the scenario's values again, in the sliders and the model.
                page.get_by_role("button", name="Reset levers").click()
                expect(growth.locator(".aimarket-lever-value")).to_have_text("1.00")
                expect(applied).to_contain_text("scenario values")
                expect(tick).to_have_text("Tick 0")

                page.get_by_role("button", name="Step").click()
                expect(tick).to_have_text("Tick 1", timeout=TIMEOUT_MS)
                expect(page.locator(".aimarket-prices-data")).to_have_text(expected_prices)
                page.get_by_role("button", name="Step").click()
                expect(tick).to_have_text("Tick 2", timeout=TIMEOUT_MS)
                expect(page.locator(".aimarket-date")).to_contain_text("2025Q2")

                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                keep = ROOT / "runs" / "dashboard.png"
                keep.parent.mkdir(exist_ok=True)
                shutil.copyfile(shot, keep)
            finally:
                browser.close()
    finally:
        _stop(proc)
