"""adamcourse.bench: the traffic count against the bytes an Adam step must move, and the timing helpers."""

import pytest
import torch

from adamcourse import bench


def test_traffic_of_torch_adam_paths():
    """Fused: one pass, 28 bytes per parameter (36 with AMSGrad's v_max); for-loop and foreach: 7 passes."""
    fused = bench.traffic(lambda p: torch.optim.Adam(p, fused=True))
    assert fused["passes"] == 1 and (fused["read"], fused["written"]) == (16, 12) and fused["total"] == 28
    assert bench.traffic(lambda p: torch.optim.Adam(p, fused=True, amsgrad=True))["total"] == 36
    for kind in ("forloop", "foreach"):
        t = bench.traffic(bench.IMPLS[f"torch_{kind}"], n=500, steps=2)
        assert t["passes"] == 7 and t["total"] == 76 and t["written"] == 28


def test_traffic_of_readable_path_is_several_passes():
    t = bench.traffic(bench.IMPLS["adamcourse"])
    assert t["passes"] >= 10 and t["total"] > 2 * bench.BYTES_PER_PARAM and t["ops"][-1] == "copy_"


def test_measure_steps_rows():
    rows = bench.measure_steps([1000, 3000], ["adamcourse", "torch_fused"], repeats=3)
    assert [(r["n_params"], r["impl"]) for r in rows] == [(n, i) for n in (1000, 3000)
                                                        for i in ("adamcourse", "torch_fused")]
    for r in rows:
        assert len(r["times_ms"]) == 3 and r["min_ms"] <= r["median_ms"] <= r["max_ms"]
        assert r["GBps"] == pytest.approx(28 * r["n_params"] / (r["median_ms"] * 1e-3) / 1e9)


def test_copy_bandwidth_and_bad_input():
    assert bench.copy_bandwidth_GBps("cpu", 2**20, repeats=3) > 0
    with pytest.raises(ValueError, match="sizes"):
        bench.measure_steps([0])
    with pytest.raises(ValueError, match="impls"):
        bench.measure_steps([10], ["sgd"])
    with pytest.raises(ValueError, match="repeats"):
        bench.step_times(lambda: None, "cpu", 0)
    with pytest.raises(ValueError, match="n must be"):
        bench.traffic(bench.IMPLS["torch_fused"], n=1)
