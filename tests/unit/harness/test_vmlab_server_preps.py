"""The VM tier's scheduling of server preps (tests/vmlab/run.py), without VMs: when each prep runs
relative to the scenarios, and whose failure a failing prep is."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

VMLAB = Path(__file__).resolve().parents[2] / "vmlab"
sys.path.insert(0, str(VMLAB))  # run.py imports its neighbour lab.py
_spec = importlib.util.spec_from_file_location("vmlab_run", VMLAB / "run.py")
vmlab_run = importlib.util.module_from_spec(_spec)
sys.modules["vmlab_run"] = vmlab_run  # dataclasses look their module up while it loads
_spec.loader.exec_module(vmlab_run)
Scenario, ScenarioFailed, ServerPreps = vmlab_run.Scenario, vmlab_run.ScenarioFailed, vmlab_run.ServerPreps


@dataclass
class FakeTier:
    """What ServerPreps uses of a Tier: its figures."""

    figures: dict = field(default_factory=dict)


def run_in_order(selected: list[Scenario], tier: FakeTier) -> dict[str, str]:
    """run_scenarios' loop without the lab: each scenario's outcome as 'passed' or the prep's error."""
    preps = ServerPreps(tier, selected)
    outcomes = {}
    try:
        for scenario in selected:
            try:
                preps.ready(scenario)
                scenario.run(tier)
                outcomes[scenario.name] = "passed"
            except ScenarioFailed as exc:
                outcomes[scenario.name] = str(exc)
    finally:
        preps.close()
    return outcomes


def test_preps_run_beside_a_scenario_that_leaves_the_server_alone_and_finish_before_the_next():
    events: list[str] = []
    prep_started = threading.Event()
    release_prep = threading.Event()

    def client_only(_tier):
        # The prep must start while this scenario still runs, or the wait below times out.
        assert prep_started.wait(10)
        events.append("client scenario ends")
        release_prep.set()

    def prep(_tier):
        prep_started.set()
        assert release_prep.wait(10)
        events.append("prep ends")

    selected = [
        Scenario("client", client_only, touches_server=False),
        Scenario("server", lambda t: events.append("server scenario runs"), server_prep=prep),
    ]
    tier = FakeTier()
    assert run_in_order(selected, tier) == {"client": "passed", "server": "passed"}
    assert events == ["client scenario ends", "prep ends", "server scenario runs"]
    assert set(tier.figures["server_prep_s"]) == {"server"}


def test_a_scenario_that_touches_the_server_waits_for_every_prep_started_before_it():
    """Both preps start beside the client scenario; the first server scenario must then wait for the
    second prep as well (no two apt runs on one VM), though that prep is not its own."""
    events: list[str] = []

    def slow_prep(_tier):
        # Were the first scenario to wait for its own prep only, it would run during this sleep.
        time.sleep(0.3)
        events.append("second prep ends")

    selected = [
        Scenario("client", lambda t: None, touches_server=False),
        Scenario(
            "first",
            lambda t: events.append("first runs"),
            server_prep=lambda t: events.append("first prep ends"),
        ),
        Scenario("second", lambda t: events.append("second runs"), server_prep=slow_prep),
    ]
    assert run_in_order(selected, FakeTier()) == {"client": "passed", "first": "passed", "second": "passed"}
    assert events == ["first prep ends", "second prep ends", "first runs", "second runs"]


def test_selected_alone_a_scenario_runs_its_prep_first():
    events: list[str] = []
    selected = [
        Scenario("server", lambda t: events.append("runs"), server_prep=lambda t: events.append("prep"))
    ]
    assert run_in_order(selected, FakeTier()) == {"server": "passed"}
    assert events == ["prep", "runs"]


def test_a_failing_prep_fails_its_own_scenario_only():
    ran: list[str] = []

    def failing_prep(_tier):
        raise ScenarioFailed("tgt did not start")

    selected = [
        Scenario("client", lambda t: ran.append("client"), touches_server=False),
        Scenario("broken", lambda t: ran.append("broken"), server_prep=failing_prep),
        Scenario("fine", lambda t: ran.append("fine"), server_prep=lambda t: None),
    ]
    outcomes = run_in_order(selected, FakeTier())
    assert outcomes == {"client": "passed", "broken": "tgt did not start", "fine": "passed"}
    assert ran == ["client", "fine"]


@pytest.mark.parametrize("touches_server", [True, False])
def test_a_scenario_without_preps_runs_at_once(touches_server):
    selected = [Scenario("only", lambda t: None, touches_server=touches_server)]
    assert run_in_order(selected, FakeTier()) == {"only": "passed"}
