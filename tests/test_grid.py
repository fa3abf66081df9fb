"Fast tests of xrdphase.grid: presets, hkl -> voxel, errors naming the structure and the limit, sample masks, fit."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json
import numpy as np
import pytest
from xrdphase.grid import (ReciprocalGrid, GRIDS, TASKS, Task, make_sample, sample_arrays, task_sample, voxel_tables,
                           voxel_d, GridError, get_grid, add_cli)
from xrdphase.crystal import random_structure, StructureSpec
from xrdphase.diffraction import reflections, complete_indices


@pytest.fixture(scope='module')
def recs():
    return {'P21': reflections(random_structure(StructureSpec(space_groups=('P21',)), 21), 0.8),
            'C2': reflections(random_structure(StructureSpec(space_groups=('C2',)), 22), 0.8)}


def test_presets_contract():
    assert GRIDS['d1'].shape == (26, 18, 23) and (GRIDS['d1'].h, GRIDS['d1'].k, GRIDS['d1'].l) == ((-13, 12), (0, 17), (0, 22))
    for k in ('d2', 'd3'):
        assert GRIDS[k].shape == (23, 16, 21) and (GRIDS[k].h, GRIDS[k].k, GRIDS[k].l) == ((-11, 11), (0, 15), (0, 20))
    assert TASKS['d1'] == Task(d_low=1.5, d_high=0.8, value='f', grid='d1')
    assert TASKS['d2'] == Task(1.2, 1.0, 'f', 'd2') and TASKS['d3'] == Task(1.2, 1.0, 'e', 'd3')
    with pytest.raises(Exception): TASKS['d1'].d_low = 2.0          # frozen
    assert ReciprocalGrid(h=(-13, 12), k=(0, 17), l=(0, 22)) == GRIDS['d1']


def test_voxels_vectorised_roundtrip_and_errors():
    g = ReciprocalGrid(h=(-3, 4), k=(0, 5), l=(1, 6))
    rng = np.random.default_rng(1)
    idx = np.stack([rng.integers(-3, 5, 300), rng.integers(0, 6, 300), rng.integers(1, 7, 300)], 1)
    c = g.voxels(idx)
    assert c.shape == (300, 3) and np.array_equal(g.hkl()[tuple(c.T)], idx)
    bad = np.vstack([idx, [[5, 0, 1], [0, 0, 0]]])
    with pytest.raises(GridError) as e: g.voxels(bad, name='my structure X')
    msg = str(e.value)
    assert 'my structure X' in msg and 'h_max = 4' in msg and 'l = 0 < l_min = 1' in msg and '2 of 302' in msg
    vm = g.voxels(bad, drop=True)
    assert vm.dropped == 2 and vm.keep.sum() == 300 and np.array_equal(vm.coords, c)
    with pytest.raises(GridError): g.voxels(np.zeros((4, 2), int))
    with pytest.raises(GridError): g.voxels(np.zeros((4, 3)))      # floats are not indices


@pytest.mark.parametrize('sg', ['P21', 'C2'])
def test_sample_masks_partition_and_counts(recs, sg):
    rec = recs[sg]
    for name, t in TASKS.items():
        s = task_sample(rec, name)
        g = GRIDS[t.grid]
        assert all(s[k].shape == g.shape for k in ('input', 'target', 'known', 'new', 'absent', 'outside', 'd', 'centric', 'epsilon'))
        assert s['input'].dtype == s['target'].dtype == np.float32 and s['scale'].shape == ()
        total = sum(s[k].astype(int) for k in ('known', 'new', 'absent', 'outside'))
        assert np.all(total == 1)
        assert s['known'].sum() == len(rec.cut(t.d_low)) and s['new'].sum() == len(rec.cut(t.d_high)) - len(rec.cut(t.d_low))
        idx, d, absent = complete_indices(rec.cell, rec.space_group_info(), t.d_high)
        assert s['absent'].sum() == absent.sum() and (~s['outside']).sum() == len(idx)
        vals = rec.f if t.value == 'f' else rec.e
        r = rec.cut(t.d_high)
        c = tuple(g.voxels(r.indices).T)
        np.testing.assert_allclose(s['target'][c] * s['scale'], vals[:len(r)], rtol=1e-6)
        assert s['input'].max() == pytest.approx(1.0) and not s['input'][s['new']].any() and not s['target'][s['outside'] | s['absent']].any()
        np.testing.assert_allclose(s['d'][c], r.d, rtol=1e-6)
        assert np.array_equal(s['centric'][c], r.centric) and np.array_equal(s['epsilon'][c], r.epsilon)
        assert s['d'][tuple(-g.lo)] == 0 if g.contains(np.zeros((1, 3), int))[0] else True


def test_absences_follow_the_group(recs):
    g = GRIDS['d1']
    H, K, L = g.hkl().reshape(-1, 3).T
    s = make_sample(recs['C2'], g, 1.5, 0.8)
    a = s['absent'].reshape(-1)
    assert a.sum() > 100 and np.all((H[a] + K[a]) % 2 == 1)
    s = make_sample(recs['P21'], g, 1.5, 0.8)
    a = s['absent'].reshape(-1)
    assert np.all((H[a] == 0) & (L[a] == 0) & (K[a] % 2 == 1))
    t = voxel_tables(g, 'P21')
    assert not t['in_asu'][(L == 0) & (H < 0)].any() and not t['in_asu'][(H == 0) & (K == 0) & (L == 0)].any()


def test_normalisations(recs):
    rec = recs['P21']
    a = make_sample(rec, 'd1', 1.5, 0.8)
    n = make_sample(rec, 'd1', 1.5, 0.8, norm='none')
    g = make_sample(rec, 'd1', 1.5, 0.8, norm='global', global_scale=123.0)
    e = make_sample(rec, 'd1', 1.5, 0.8, norm='e')
    assert float(n['scale']) == 1 and float(a['scale']) == pytest.approx(rec.cut(1.5).f.max(), rel=1e-6)
    np.testing.assert_allclose(a['target'] * a['scale'], n['target'], rtol=1e-6)
    np.testing.assert_allclose(g['target'] * 123.0, n['target'], rtol=1e-6)
    assert float(e['scale']) == 1 and np.isclose(e['target'][e['known'] | e['new']].max(), rec.e.max(), rtol=1e-6)
    with pytest.raises(GridError, match='global_scale'): make_sample(rec, 'd1', 1.5, 0.8, norm='global')
    with pytest.raises(GridError, match='norm'): make_sample(rec, 'd1', 1.5, 0.8, norm='max')
    with pytest.raises(GridError, match='d_high = 0.5'): make_sample(rec, 'd1', 1.5, 0.5)


def test_out_of_box_is_error_or_counted_drop(recs):
    rec = recs['P21']
    small = ReciprocalGrid(h=(-6, 6), k=(0, 8), l=(0, 9))
    with pytest.raises(GridError) as e: make_sample(rec, small, 1.5, 0.8, name='structure #17')
    assert 'structure #17' in str(e.value) and '_max' in str(e.value)
    s = make_sample(rec, small, 1.5, 0.8, drop=True)
    n_in = small.contains(rec.indices).sum()
    assert int(s['dropped']) == len(rec) - n_in and s['known'].sum() + s['new'].sum() == n_in
    # reflections beyond d_high never count: at 1.2 A the same structure may fit
    ext = ReciprocalGrid.extent(rec.cut(1.2).indices)
    if small.fits(ext): assert int(make_sample(rec, small, 1.5, 1.2)['dropped']) == 0


def test_sample_arrays_from_raw_int8_store_rows(recs):
    rec = recs['C2']
    s1 = make_sample(rec, 'd1', 1.5, 0.8)
    s2 = sample_arrays('d1', rec.indices.astype(np.int8), rec.f.astype(np.float32), rec.cell, f'Hall: {rec.space_group}', 1.5, 0.8)
    for k in ('known', 'new', 'absent', 'outside', 'centric'): assert np.array_equal(s1[k], s2[k])
    np.testing.assert_allclose(s1['target'], s2['target'], rtol=1e-6)


def test_fit_matches_brute_force_and_fraction():
    import itertools
    rng = np.random.default_rng(3)
    n = 30
    ex = np.stack([-rng.integers(0, 5, n), rng.integers(0, 5, n), np.zeros(n, int), rng.integers(0, 4, n), np.zeros(n, int), rng.integers(0, 4, n)], 1)
    for q in (0.3, 0.7, 1.0):
        fg = ReciprocalGrid.fit(ex, q)
        assert sum(fg.fits(e) for e in ex) >= q * n
        best = min((A + B + 1) * (C + 1) * (D + 1) for A, B, C, D in itertools.product(range(5), range(5), range(4), range(4))
                   if sum(ReciprocalGrid((-A, B), (0, C), (0, D)).fits(e) for e in ex) >= np.ceil(q * n))
        assert fg.size == best
    with pytest.raises(GridError): ReciprocalGrid.fit(ex, 0)


def test_voxel_d_matches_cctbx(recs):
    rec = recs['P21']
    g = GRIDS['d2']
    d = voxel_d(g, rec.cell).reshape(g.shape)
    c = tuple(g.voxels(rec.cut(1.0).indices).T)
    np.testing.assert_array_equal(d[c], rec.cut(1.0).d)      # the same cctbx function on the same cell


def test_cli_grid_presets(capsys):
    ap = argparse.ArgumentParser()
    add_cli(ap.add_subparsers(dest='cmd'))
    a = ap.parse_args(['grid'])
    assert a.func(a) == 0
    out = json.loads(capsys.readouterr().out)
    assert out['grids']['d2']['shape'] == [23, 16, 21] and out['tasks']['d3']['value'] == 'e'
    assert get_grid(out['grids']['d1']) == GRIDS['d1']
