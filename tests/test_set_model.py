"""The set model (issue 11): bad input, nothing dropped, Wilson identity, invariances, weights, deterministic resumable training."""
import xrdphase  # noqa: F401
import json
from dataclasses import replace
from pathlib import Path
import numpy as np
import pytest
import torch
from xrdphase.crystal import random_structure
from xrdphase.diffraction import reflections
from xrdphase import set_model as sm

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / 'reference' / 'set_model'


@pytest.fixture(scope='module')
def rec():
    return reflections(random_structure('realistic', 5), 1.0, e_method=None)


def _p1_record(rec):
    "The same amplitudes in a triclinic group (P-1)."
    from cctbx import miller, crystal
    from cctbx.array_family import flex
    cs = crystal.symmetry(unit_cell=(9, 10, 11, 80, 95, 100), space_group_symbol='P-1')
    ms = miller.build_set(cs, anomalous_flag=False, d_min=1.0)
    return sm.Reflections.from_miller_array(ms.array(data=flex.double(np.ones(ms.size()))).set_observation_type_xray_amplitude())


def test_any_space_group_tokenises(rec):
    "A triclinic record gets its tokens (the set model is no longer monoclinic-only): every new reflection of the asu."
    p1 = _p1_record(rec)
    it = sm.tokenise(p1.cut(1.2), 1.2, 1.0)
    assert int(it['is_new'].sum()) == int((p1.d < 1.2).sum()) and it['centric'].all()        # P-1: every reflection centric


def test_grid_carries_the_centring_of_any_group():
    "R-3 (hexagonal axes): the grid is a multiple of 3 with n1 = n2; without the group it cannot carry the R centring."
    from cctbx import sgtbx
    g, cell = sgtbx.space_group_info('R -3 :H').group(), (14.1, 14.1, 9.3, 90, 90, 120)
    shape = sm.grid_shape(cell, 1.2, 1.0, g)
    assert all(n % 3 == 0 for n in shape) and shape[0] == shape[1]
    uniq, inv = sm.patterson_orbits(g, shape)
    assert len(uniq) * 6 < np.prod(shape)
    with pytest.raises(sm.SetModelError, match='does not carry'):
        sm.patterson_orbits(g, sm.grid_shape(cell, 1.2, 1.0))


def test_record_without_d_low_refused(rec):
    with pytest.raises(sm.SetModelError, match='reaches only'):
        sm.extend(rec.cut(1.5), 1.0, sm.build_set_model(), d_low=1.2)


def test_bad_resolution_and_nan_refused(rec):
    with pytest.raises(sm.SetModelError, match='d_low > d_high'):
        sm.tokenise(rec.cut(1.2), 1.0, 1.2)
    bad = replace(rec, f=np.where(np.arange(len(rec)) == 3, np.nan, rec.f))
    with pytest.raises(sm.SetModelError, match='NaN'):
        sm.tokenise(bad.cut(1.2), 1.2, 1.0)


def test_weights_of_another_task_refused(tmp_path):
    grid = ROOT / 'reference' / 'weights' / 'd2_unet_pre.pt'
    with pytest.raises(sm.SetModelError, match="grid model's weights"):
        sm.load_set_model(grid)
    junk = tmp_path / 'junk.pt'; junk.write_bytes(b'not a weights file')
    with pytest.raises(sm.SetModelError, match='not a readable'):
        sm.load_set_model(junk)
    with pytest.raises(sm.SetModelError, match='no such'):
        sm.load_set_model(tmp_path / 'missing.pt')


def test_extend_fills_every_new_reflection(rec):
    out = sm.extend(rec.cut(1.2), 1.0, sm.build_set_model())
    assert {tuple(h) for h in out.indices.tolist()} == {tuple(h) for h in rec.indices.tolist()}
    assert out.meta['dropped'] == 0 and out.meta['n_new'] == int((rec.d < 1.2).sum()) and out.d_min == 1.0
    pos = {tuple(h): i for i, h in enumerate(out.indices.tolist())}
    known = rec.d >= 1.2
    assert np.allclose(out.f[[pos[tuple(h)] for h in rec.indices[known].tolist()]], rec.f[known])   # known |F| copied
    assert np.all(out.f > 0)


def test_untrained_model_is_the_wilson_fill(rec):
    from xrdphase.extension import wilson_extend
    out = sm.extend(rec.cut(1.2), 1.0, sm.build_set_model())
    ref = wilson_extend(rec.cut(1.2), 1.0)
    pos = {tuple(h): i for i, h in enumerate(out.indices.tolist())}
    assert len(out.f) == len(ref.f)
    assert np.allclose(out.f[[pos[tuple(h)] for h in ref.indices.tolist()]], ref.f, rtol=1e-5)


def test_invariant_to_order_and_equivalents(rec):
    torch.manual_seed(3)
    m = sm.build_set_model(sm.set_model_config(layers=1)).eval()
    torch.nn.init.normal_(m.head.weight, std=0.3)
    it = sm.record_item(rec, 1.2, 1.0)
    perm = np.random.default_rng(0).permutation(len(it['hkl']))
    tokens = ('hkl', 'q', 'tok', 'is_new', 'e', 'w', 'd', 'centric', 'epsilon', 'gidx')
    it2 = {k: (v[perm] if k in tokens else v) for k, v in it.items()}
    p0, p1 = sm.predict(m, [it])[0], sm.predict(m, [it2])[0]
    new0 = {tuple(h): p for h, p in zip(it['hkl'][it['is_new']].tolist(), p0)}
    assert np.std(p0) > 0.01
    assert all(abs(new0[tuple(h)] - p) < 1e-4 for h, p in zip(it2['hkl'][it2['is_new']].tolist(), p1))


def _tiny_store(path):
    from xrdphase.datasets import simulate
    simulate(path, 12, 'realistic', seed=3, d_min=0.9, e_method=None, chunk_size=6, workers=1, progress=False)
    return str(path)


def test_training_deterministic_and_resumable(tmp_path):
    from xrdphase import set_training as st
    data = _tiny_store(tmp_path / 'store')
    base = dict(data=[data], val_data=data, max_val=2, epochs=2, batch_size=3, warmup=2, ckpt_every=1, log_every=1,
                main=(1.3, 1.0), model=sm.set_model_config(d_model=16, heads=2, layers=1, channels=4, hidden=8, n_fourier=8), progress=False)
    a = st.train(st.SetTrainConfig.from_dict({**base, 'out': str(tmp_path / 'a')}))
    b = st.train(st.SetTrainConfig.from_dict({**base, 'out': str(tmp_path / 'b'), 'max_steps': 3}))
    assert b['steps'] == 3
    with pytest.raises(sm.SetModelError, match='exists'):
        st.train(st.SetTrainConfig.from_dict({**base, 'out': str(tmp_path / 'b')}))
    c = st.train(st.SetTrainConfig.from_dict({**base, 'out': str(tmp_path / 'b')}), resume=True)
    assert a['steps'] == c['steps'] == 8
    la = [json.loads(l) for l in (tmp_path / 'a' / 'log.jsonl').read_text().splitlines()]
    lc = [json.loads(l) for l in (tmp_path / 'b' / 'log.jsonl').read_text().splitlines()]
    key = lambda l: {k: v for k, v in l.items() if k != 'seconds'}
    assert [key(l) for l in la] == [key(l) for l in lc]
    wa, wc = sm.read_set_weights(tmp_path / 'a' / 'model.pt'), sm.read_set_weights(tmp_path / 'b' / 'model.pt')
    assert all(torch.equal(wa['state_dict'][k], wc['state_dict'][k]) for k in wa['state_dict'])
    with pytest.raises(sm.SetModelError, match='differs'):
        st.train(st.SetTrainConfig.from_dict({**base, 'out': str(tmp_path / 'b'), 'lr': 0.5}), resume=True)


def test_reference_weights_extend_a_cod_structure(cod):
    w = REF / 'model.pt'
    assert w.stat().st_size < 30e6
    m = sm.load_set_model(w)
    from xrdphase.crystal import read_cif_dir
    ok, _ = read_cif_dir(cod)
    big = max(ok, key=lambda c: c.xs.unit_cell().volume())                 # the largest monoclinic cell: nothing dropped
    full = reflections(big.xs, 1.0, e_method=None)
    out = sm.extend(full.cut(1.2), 1.0, m)
    assert len(out) == len(full) and out.meta['dropped'] == 0


def test_patterson_orbits_and_centred_distance():
    "In a C-centred cell the map and |u| (centring vectors are lattice vectors) are constant on the Patterson orbits."
    from xrdphase.crystal import StructureSpec
    xs = random_structure(StructureSpec(space_groups=('C2/c',), u_iso=(0.02, 0.05), random_cell=True), 4)
    rec = reflections(xs, 1.0, e_method=None)
    low = rec.cut(1.3)
    shape = sm.grid_shape(low.cell, 1.3, 1.0)
    P = sm.patterson_map(low.indices, low.f ** 2, sm.laue_rotations(low.space_group), shape).ravel()
    uniq, inv = sm.patterson_orbits(low.space_group, shape)
    assert 7 * len(uniq) < P.size and np.allclose(P[uniq][inv], P, atol=1e-9 * np.abs(P).max())
    cen = [(0, 0, 0), (0.5, 0.5, 0)]
    r = sm.origin_distance(low.cell, shape, centring=cen).ravel()
    assert np.allclose(sm.origin_distance(low.cell, shape, uniq, cen)[inv], r)
    assert r[np.ravel_multi_index((shape[0] // 2, shape[1] // 2, 0), shape)] < 1e-9      # (1/2, 1/2, 0) is an origin


def test_ddp_two_processes_on_cpu(tmp_path):
    "torchrun with two gloo processes: each trains on its shard, rank 0 writes; world_size recorded."
    import subprocess, sys, shutil
    if shutil.which('torchrun') is None: pytest.skip('torchrun not on PATH')
    data = _tiny_store(tmp_path / 'store')
    cfg = dict(data=[data], val_data=data, max_val=2, epochs=1, batch_size=2, warmup=2, ckpt_every=2, log_every=1, main=[1.3, 1.0],
               model=sm.set_model_config(d_model=16, heads=2, layers=1, channels=4, hidden=8, n_fourier=8), progress=False)
    (tmp_path / 'cfg.json').write_text(json.dumps(cfg))
    r = subprocess.run(['torchrun', '--nproc_per_node', '2', '-m', 'xrdphase.set_training', 'set-train', '--config', str(tmp_path / 'cfg.json'),
                        '--out', str(tmp_path / 'run')], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert s['world_size'] == 2 and s['steps'] == 3                    # 12 structures / (2 processes x 2) per step


@pytest.mark.parametrize('name', ['2211061.cif', '2004198.cif', '2006992-example-of-R3.cif'])
def test_reference_weights_on_other_groups(cod, name):
    "The reference weights (monoclinic training) on P-1, P2₁2₁2₁ and R3 COD structures: every reflection, R_new finite and below 1."
    from xrdphase.crystal import read_cif
    xs = read_cif(cod / name, allow_any_group=True).xs
    full = reflections(xs, 1.0, e_method=None)
    m = sm.load_set_model(REF / 'model.pt')
    out = sm.extend(full.cut(1.2), 1.0, m)
    assert len(out) == len(full) and out.meta['dropped'] == 0
    it = sm.record_item(full, 1.2, 1.0)
    nw = it['is_new']
    e, w, p = it['e'][nw], it['w'][nw], sm.predict(m, [it])[0]
    assert 0 < (w * np.abs(e - p)).sum() / (w * e).sum() < 1
