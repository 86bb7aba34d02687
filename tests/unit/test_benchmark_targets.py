"""The benchmark's --check: it fails when a target it states is missed, and only then."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sync.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_sync", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sync"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def figures_meeting_every_target() -> dict[str, Any]:
    return {
        "ordered_over_unordered_far": 0.95,
        "hidden_worst_over_zero": 0.97,
        "default_over_send_all_cpu": 1.1,
        "send_all_far_over_bare_cpu": 1.9,
        "rss_huge_over_small": 1.08,
        "rss_mb_large_far": 100,
        "rss_mb_small_far": 95,
        "rss_large_over_small": 1.05,
        "pair_slower_over_faster": 1.002,
        "app_timer_p95_ms": 81.6,
        "rate_test_refused_share": 0.0,
        "changes_unchanged_speedup": 5.2,
        "changes_unchanged_requests": 0,
        "rss_with_over_without": 1.11,
    }


def test_every_target_met_passes_the_check(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.report_targets(figures_meeting_every_target(), bench.TARGETS, check=True) == 0
    assert capsys.readouterr().out.count("target met") == len(bench.TARGETS) == 14


@pytest.mark.parametrize(
    ("figure", "value"),
    [
        ("ordered_over_unordered_far", 0.89),
        ("hidden_worst_over_zero", 0.89),
        ("default_over_send_all_cpu", 1.31),
        ("send_all_far_over_bare_cpu", 2.51),
        ("rss_huge_over_small", 1.21),
        ("rss_mb_large_far", 251),
        ("rss_large_over_small", 1.21),
        ("pair_slower_over_faster", 1.26),
        ("app_timer_p95_ms", 100.1),
        ("rate_test_refused_share", 0.011),
        ("changes_unchanged_speedup", 2.71),  # the README's last full run
        ("changes_unchanged_requests", 1),
        ("rss_with_over_without", 1.21),
    ],
)
def test_one_missed_target_fails_the_check_and_is_named(
    bench: ModuleType, capsys: pytest.CaptureFixture[str], figure: str, value: float
) -> None:
    figures = {**figures_meeting_every_target(), figure: value}
    assert bench.report_targets(figures, bench.TARGETS, check=True) == 1
    [missed] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("target MISSED")]
    assert str(value) in missed


def test_without_the_flag_a_missed_target_is_reported_but_does_not_fail(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = {**figures_meeting_every_target(), "changes_unchanged_speedup": 2.71}
    assert bench.report_targets(figures, bench.TARGETS, check=False) == 0
    assert "target MISSED" in capsys.readouterr().out


def test_the_send_only_changed_run_checks_its_own_three_targets(bench: ModuleType) -> None:
    assert [target.figure for target in bench.CHANGES_TARGETS] == [
        "changes_unchanged_speedup",
        "changes_unchanged_requests",
        "rss_with_over_without",
    ]
