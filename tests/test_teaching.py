"""Teaching notebook: the phase-swap experiment and the resolution series measure what they claim."""
import xrdphase  # noqa: F401
import numpy as np
import pytest
from xrdphase.diffraction import reflections
from xrdphase.teaching import phase_swap, _pair, fourier_map, map_correlation, resolution_series, _sucrose_heavy

def test_phase_swap_map_follows_the_phases():
    xa, xb = _pair(7)
    res = phase_swap(reflections(xa, 1.0), reflections(xb, 1.0), grid=(32, 32, 32))
    c = res['corr']
    assert c['ampA_phiB']['B'] > 0.5 and abs(c['ampA_phiB']['A']) < 0.25
    assert abs(c['ampA_random']['A']) < 0.25

def test_phase_swap_needs_same_reflections():
    xa, xb = _pair(7)
    with pytest.raises(ValueError, match='same reflections'): phase_swap(reflections(xa, 1.0), reflections(xb, 1.2))

def test_resolution_series_improves_with_resolution():
    suc, heavy = _sucrose_heavy()
    s = resolution_series(reflections(suc, 0.8), heavy, d_mins=(2.5, 1.5, 0.8), grid=(48, 48, 48))
    assert s['resolved'][0] < s['resolved'][-1] and s['corr'][-1] == pytest.approx(1.0)
