"""Teaching notebooks: the phase-swap experiment and the resolution series measure what they claim; the numpy charge-flipping cycle."""
import xrdphase  # noqa: F401
import numpy as np
import pytest
from xrdphase.crystal import sucrose, random_structure, StructureSpec
from xrdphase.diffraction import reflections
from xrdphase.teaching import phase_swap, structure_pair, fourier_map, map_correlation, resolution_series
from xrdphase.teaching_cf import charge_flip


def test_phase_swap_map_follows_the_phases():
    xa, xb = structure_pair(7)
    res = phase_swap(reflections(xa, 1.0), reflections(xb, 1.0), grid=(32, 32, 32))
    c = res['corr']
    assert c['ampA_phiB']['B'] > 0.5 and abs(c['ampA_phiB']['A']) < 0.25
    assert abs(c['ampA_random']['A']) < 0.25


def test_phase_swap_needs_same_reflections():
    xa, xb = structure_pair(7)
    with pytest.raises(ValueError, match='same reflections'): phase_swap(reflections(xa, 1.0), reflections(xb, 1.2))


def test_resolution_series_improves_with_resolution():
    suc = sucrose().xs
    s = resolution_series(reflections(suc, 0.8), suc, d_mins=(2.5, 1.5, 0.8), grid=(48, 48, 48))
    assert s['resolved'][0] < 0.5 < s['resolved'][-1] == 1.0 and s['corr'][-1] == pytest.approx(1.0)


def test_fourier_map_of_true_phases_peaks_at_the_atoms():
    xs = random_structure(StructureSpec(space_groups=('P21',), elements=('C', 'N', 'O'), n_atoms=(12, 12), u_iso=(0.03, 0.03)), 4)
    rho = fourier_map(reflections(xs, 0.8), grid=(48, 48, 48))
    sites = np.array(xs.expand_to_p1(sites_mod_positive=True).sites_frac())
    at_atoms = np.array([rho[tuple(np.round(s * 48).astype(int) % 48)] for s in sites])
    assert at_atoms.min() > 3 * rho.std() and map_correlation(rho, rho) == pytest.approx(1.0)


def test_charge_flip_is_seeded_and_finds_a_transition():
    xs = random_structure(StructureSpec(space_groups=('P21/c',), elements=('C', 'N', 'O'), n_atoms=(12, 12), u_iso=(0.02, 0.04)), seed=1)
    rec = reflections(xs, 1.0, e_method=None)
    a, b = charge_flip(rec, n_cycles=150, seed=0), charge_flip(rec, n_cycles=150, seed=0)
    assert np.array_equal(a.r, b.r) and a.transition is not None and a.r[-10:].mean() < a.r[:10].mean() - 0.1
    assert all(set(_factors(n)) <= {2, 3, 5} for n in a.grid)                  # 5-smooth FFT grid


def _factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out
