"""The stage clock behind Server-Timing: each stage's own time, nothing counted twice."""

from __future__ import annotations

import pytest

from jobs.stages import stage, stage_add, stages_measured


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nested_stages_count_only_their_own_time():
    clock = Clock()
    with stages_measured(clock) as measured, stage("middleware"):
        clock.now += 0.001
        with stage("view"):
            clock.now += 0.002
            with stage("nlu"):
                clock.now += 0.004
            stage_add("commit", 0.0005)  # timed by the caller, inside "view"
            clock.now += 0.0005
        clock.now += 0.001
    assert measured.own == pytest.approx(
        {"middleware": 0.002, "view": 0.002, "nlu": 0.004, "commit": 0.0005}
    )
    assert sum(measured.own.values()) == pytest.approx(measured.total())
    assert measured.header() == (
        "middleware;dur=2.000, view;dur=2.000, nlu;dur=4.000, commit;dur=0.500, total;dur=8.500"
    )


def test_a_stage_met_twice_adds_up_and_an_exception_still_counts():
    clock = Clock()
    with stages_measured(clock) as measured:
        for _ in range(2):
            with stage("write"):
                clock.now += 0.003
        with pytest.raises(ValueError), stage("dialogue"):
            clock.now += 0.01
            raise ValueError("an action failed")
    assert measured.own == pytest.approx({"write": 0.006, "dialogue": 0.01})


def test_without_a_clock_stages_measure_nothing():
    with stage("nlu"):
        stage_add("commit", 1.0)
    with stages_measured(Clock()) as measured:
        pass
    assert measured.own == {}
    assert measured.header() == "total;dur=0.000"
