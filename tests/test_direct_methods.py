"""Direct methods (10a): triplet invariants, Cochran's distribution checked statistically, the tangent formula solving a P2_1/c structure, plotly figures built."""
import xrdphase  # noqa: F401
import math
import numpy as np
import pytest
from xrdphase.crystal import random_structure, StructureSpec
from xrdphase.diffraction import reflections
from xrdphase.direct_methods import (strong_reflections, triplets, cochran_kappa, cochran_bins, pooled_ratio, random_atom_triplets,
                                     multisolution, consistency, iso_mesh, cochran_figure_data, cochran_plotly, tangent_plotly)

SPEC48 = StructureSpec(space_groups=('P21',), elements=('C',), n_atoms=(24, 24), u_iso=(0.03, 0.03))
SPEC_C = StructureSpec(space_groups=('P21/c',), elements=('C', 'N', 'O'), n_atoms=(6, 6), u_iso=(0.03, 0.04))

@pytest.fixture(scope='module')
def t48():
    xs = random_structure(SPEC48, 0)
    st = strong_reflections(reflections(xs, 1.0), e_min=1.5)
    return xs, st, triplets(st)

@pytest.fixture(scope='module')
def ms_c():
    return multisolution(random_structure(SPEC_C, 0), d_min=0.8, n_trials=20)

def test_strong_reflections_bad_input(t48):
    xs, st, _ = t48
    with pytest.raises(ValueError, match='exactly one'): strong_reflections(st)
    with pytest.raises(ValueError, match='has 122 reflections|reflections'): strong_reflections(st, n=10 ** 6)
    with pytest.raises(ValueError, match='no \\|E\\|'): strong_reflections(reflections(xs, 2.0, e_method=None), n=5)

def test_triplet_sums_are_invariant_under_origin_shifts(t48):
    xs, st, t = t48
    moved = xs.deep_copy_scatterers()
    moved.set_sites_frac(moved.sites_frac() + (0.5, 0.27, 0.0))           # allowed origin shift of P2_1
    rec_m = reflections(moved, 1.0)
    phi_m = np.deg2rad(rec_m.phi[rec_m.e > 1.5])
    d = np.angle(np.exp(1j * (t.phase_sums(phi_m) - t.phase_sums(np.deg2rad(st.phi)))))
    assert np.abs(d).max() < 1e-6
    bad = np.angle(np.exp(1j * (t.phase_sums(phi_m * -1) - t.phase_sums(np.deg2rad(st.phi)))))   # inverted phases: not the same invariants
    assert np.abs(bad).max() > 1

def test_cochran_statistical_check(t48):
    "Per κ bin the measured <cos Φ> of a 48-atom structure is within 3 SE of I1/I0 and statistically equal to the random-atom model at N = 48."
    xs, st, t = t48
    u = t.unique()
    k, c = cochran_kappa(t, xs)[u], np.cos(t.phase_sums(np.deg2rad(st.phi)))[u]
    assert u.sum() > 400 and xs.expand_to_p1().scatterers().size() >= 40
    b = cochran_bins(k, c, n_bins=6)
    assert np.all(np.abs(b['z']) < 3)
    k_mc, c_mc = random_atom_triplets(48, n_structures=20)
    mc = cochran_bins(k_mc, c_mc, edges=b['edges'])
    z = (b['ratio'] - mc['ratio']) / np.hypot(b['ratio_se'], mc['ratio_se'])
    assert np.all(np.abs(z) < 3) and np.sum(z ** 2) < 16.8
    r, se = pooled_ratio(k, c)
    assert 1.0 < r < 1.2 and se < 0.05
    rand = np.cos(t.phase_sums(np.random.default_rng(3).uniform(-np.pi, np.pi, len(st))))[u]   # no signal: the check fails
    assert pooled_ratio(k, rand)[0] < 0.3

def test_cochran_excess_shrinks_with_n():
    r48 = pooled_ratio(*random_atom_triplets(48, n_structures=20))
    r192 = pooled_ratio(*random_atom_triplets(192, n_structures=4))
    assert r48[0] - r192[0] > 2 * math.hypot(r48[1], r192[1]) and r192[0] < 1.06

def test_tangent_formula_solves_centrosymmetric_structure(ms_c):
    tr = ms_c['trials']
    assert len(tr) == 20 and sum(r['solved'] for r in tr) >= 1
    assert tr[ms_c['best']]['solved']                                       # the FOM picks a correct trial
    assert all(abs(abs(np.cos(r['phases'])) - 1).max() < 1e-9 for r in tr)  # P2_1/c phases are 0 or pi after restriction
    solved = [r for r in tr if r['solved']]
    assert min(r['phase_error'] for r in solved) < 30

def test_tangent_consistency_true_vs_random(t48):
    _, st, t = t48
    assert consistency(t, np.deg2rad(st.phi)) > 2 * consistency(t, np.random.default_rng(0).uniform(0, 2 * np.pi, len(st)))

def test_iso_mesh_of_a_gaussian_is_a_sphere():
    cell = (9.0, 10.0, 11.0, 90, 105, 90)
    from cctbx import uctbx
    o = np.array(uctbx.unit_cell(cell).orthogonalization_matrix()).reshape(3, 3)
    g = np.stack(np.meshgrid(*[np.arange(n) / n for n in (36, 40, 44)], indexing='ij'), -1)
    r = np.linalg.norm((g - 0.5) @ o.T, axis=-1)
    v, f = iso_mesh(np.exp(-r ** 2 / 2), math.exp(-0.5), cell)           # the surface r = 1 Å
    assert len(f) > 50 and np.allclose(np.linalg.norm(v - o @ [0.5, 0.5, 0.5], axis=1), 1.0, atol=0.05)

def test_plotly_figures_have_the_expected_traces(ms_c):
    cfig = cochran_plotly(cochran_figure_data(mc_structures=4))
    assert [t.type for t in cfig.data] == ['histogram', 'scatter'] * 3 + ['scatter'] * 3
    assert cfig.data[-2].name.startswith('this structure (N = 48)')
    tfig = tangent_plotly(ms_c)
    assert [t.type for t in tfig.data] == ['bar', 'mesh3d', 'scatter3d', 'scatter3d']
    assert len(tfig.data[0].x) == 20 and len(tfig.data[1].i) > 100 and len(tfig.data[2].x) == 24

def test_crop_mesh_keeps_only_the_near_part():
    from xrdphase.direct_methods import crop_mesh
    cell = (10.0, 10.0, 10.0, 90, 90, 90)
    g = np.stack(np.meshgrid(*[np.arange(40) / 40] * 3, indexing='ij'), -1)
    r1 = np.linalg.norm((g - 0.25) * 10, axis=-1); r2 = np.linalg.norm((g - 0.75) * 10, axis=-1)
    v, f = iso_mesh(np.exp(-r1 ** 2 / 2) + np.exp(-r2 ** 2 / 2), math.exp(-0.5), cell)        # two spheres of 1 Å
    vc, fc = crop_mesh(v, f, [[2.5, 2.5, 2.5]], radius=1.5)
    assert 0.3 * len(f) < len(fc) < 0.7 * len(f) and fc.max() == len(vc) - 1
    assert np.allclose(np.linalg.norm(vc - 2.5, axis=1), 1.0, atol=0.05)
