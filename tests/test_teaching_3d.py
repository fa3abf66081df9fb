"""Teaching in 3-D (10b): reciprocal-space kinds agree with the grid module, the committed COD counts and cliff, density panels and the extension hook, plotly figures built (not displayed)."""
import xrdphase  # noqa: F401
import numpy as np
import pytest
from xrdphase.crystal import sucrose, random_structure, StructureSpec, read_cif
from xrdphase.diffraction import reflections
from xrdphase.grid import make_sample
from xrdphase.teaching import fourier_map, map_correlation
from xrdphase.teaching_3d import (KINDS, reciprocal_points, reciprocal_plotly, load_cod_box_drops, density_panels, density_plotly,
                                  EXTENSIONS, load_cliff, cliff_summary, cliff_plotly)

@pytest.fixture(scope='module')
def suc(): return sucrose().xs

def test_reciprocal_kinds_agree_with_the_grid_module(suc):
    big = random_structure(StructureSpec(space_groups=('P21',), elements=('C', 'O'), n_atoms=(60, 60), u_iso=(0.03, 0.03), random_cell=True), 5)
    for xs in (suc, big):
        pts = reciprocal_points(xs)
        rec = reflections(xs, 1.0)
        assert pts['dropped'] == make_sample(rec, 'd2', 1.2, 1.0, drop=True)['dropped']
        assert sum(pts['counts'].values()) == len(pts['indices'])
        assert np.allclose(np.linalg.norm(pts['s'], axis=1), 1 / pts['d'])
        assert np.all(pts['f'][pts['kind'] == 'absent'] == 0) and np.all(pts['f'][pts['kind'] == 'known'] > 0)
    assert reciprocal_points(big)['dropped'] > 0 and reciprocal_points(suc)['dropped'] == 0
    with pytest.raises(ValueError, match='d_low > d_high'): reciprocal_points(suc, d_low=1.0, d_high=1.2)

def test_committed_cod_counts(cod):
    drops = load_cod_box_drops()
    rows = drops['rows']
    assert drops['n_monoclinic'] == len(rows) > 0
    worst = max(rows, key=lambda r: r['dropped_d2'])
    xs = read_cif(cod / worst['file']).xs
    assert reciprocal_points(xs)['dropped'] == worst['dropped_d2'] > 0
    assert reciprocal_points(xs, d_low=1.5, d_high=0.8, grid='d1')['dropped'] == worst['dropped_d1']

def test_density_panels_and_the_extension_hook(suc):
    d = density_panels(suc)
    c = d['corr']
    assert list(c) == ['true 1.0 Å', 'data to 1.2 Å'] + [f'{k} to 1.0 Å' for k in EXTENSIONS]
    assert abs(c['true 1.0 Å'] - 1) < 1e-9 and c['data to 1.2 Å'] < c['Wilson fill to 1.0 Å'] < c['dual-space (float+recycle) to 1.0 Å'] < 1
    def zero(rec_low, d_high):                                         # any function is a panel too
        from xrdphase.extension import extend
        ext = extend(rec_low, d_high, 'wilson')
        ext.f = np.where(ext.d < rec_low.d.min() - 1e-6, 0.0, ext.f)
        return ext
    d2 = density_panels(suc, methods={'zero fill (test)': zero})
    assert abs(d2['corr']['zero fill (test) to 1.0 Å'] - c['data to 1.2 Å']) < 1e-6     # zero-filled = truncated
    with pytest.raises(ValueError, match='method'): density_panels(suc, methods={'nope': 'nope'})

def test_committed_cliff(suc):
    res, maps = load_cliff()
    s = cliff_summary(res)
    assert list(s['d_min']) == res['d_mins'] and all(n == res['n_seeds'] for n in s['n'])
    assert s['rate'][0] >= 0.8 and s['rate'][-1] <= 0.2 and s['hi'][-1] < s['lo'][0]
    rec = reflections(suc, 0.8, e_method=None)
    solved = [j for j, ch in enumerate(res['chosen']) if ch.get('solved')]
    assert solved
    for j in solved:                                                   # the stored map sits on the true structure
        assert map_correlation(maps[j], fourier_map(rec, grid=tuple(res['grid']), d_min=res['d_mins'][j])) > 0.8

def test_plotly_figures_have_the_expected_traces(suc):
    pts = reciprocal_points(suc)
    f = reciprocal_plotly(pts)
    assert [t.type for t in f.data] == ['scatter3d'] * 4 + ['surface'] * 2 + ['scatter3d']
    assert [len(t.x) for t in f.data[:4]] == [pts['counts'][k] for k in KINDS]
    d = density_panels(suc, methods={'Wilson fill': 'wilson'})
    f = density_plotly(d, suc)
    assert [t.type for t in f.data] == ['mesh3d', 'scatter3d', 'scatter3d'] * 3 and all(len(t.i) > 100 for t in f.data[::3])
    res, maps = load_cliff()
    f = cliff_plotly(res, maps, suc)
    n = len(res['d_mins'])
    assert [t.type for t in f.data] == ['mesh3d'] * n + ['scatter3d', 'scatter3d', 'scatter', 'scatter'] + ['scatter'] * n
    assert len(f.layout.sliders[0].steps) == n
    for step in f.layout.sliders[0].steps:                              # each step shows exactly one map and one marker
        vis = step.args[0]['visible']
        assert sum(vis[:n]) == 1 and sum(vis[-n:]) == 1
