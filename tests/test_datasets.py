"Fast tests of xrdphase.datasets: pickle-free deterministic chunks, resume/identity, verify, ingest, loaders, CLI, figure."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import json, os, shutil, signal, subprocess, sys, time, zipfile
from pathlib import Path
import numpy as np
import pytest
from xrdphase import datasets as D
from xrdphase.core import derive_seed, sha256_file
from xrdphase.crystal import random_structure
from xrdphase.diffraction import reflections
from xrdphase.grid import TASKS, make_sample, GridError


def digest(path):
    return {p.name: sha256_file(p) for p in sorted(Path(path).iterdir()) if p.is_file()}


@pytest.fixture(scope='module')
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp('ref') / 'store'
    D.simulate(out, 20, 'thesis', seed=3, chunk_size=6, workers=1, progress=False)
    return out


def test_npz_is_deterministic_pickle_free_and_mappable(tmp_path):
    a = dict(x=np.arange(12, dtype=np.int8).reshape(4, 3), y=np.array(['ab', 'c']), z=np.zeros(0, np.float32))
    D.write_npz(tmp_path / 'a.npz', a); b1 = (tmp_path / 'a.npz').read_bytes()
    D.write_npz(tmp_path / 'b.npz', a); assert (tmp_path / 'b.npz').read_bytes() == b1
    with zipfile.ZipFile(tmp_path / 'a.npz') as zf:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    with np.load(tmp_path / 'a.npz', allow_pickle=False) as z: assert np.array_equal(z['x'], a['x'])
    m = D.map_npz(tmp_path / 'a.npz')
    assert all(np.array_equal(m[k], v) for k, v in a.items()) and not m['x'].flags.writeable
    with pytest.raises(D.StoreError, match='object'): D.write_npz(tmp_path / 'c.npz', dict(o=np.array([None, 1], dtype=object)))


def test_store_rows_are_the_reflections_record(ref):
    st = D.open_store(ref)
    assert len(st) == 20 and [c['start'] for c in st.chunks] == [0, 6, 12, 18]
    i = 13; r = st.rows(i)
    assert r['number'] == 13 and r['seed'] == derive_seed(3, 13)
    rec = reflections(random_structure('thesis', derive_seed(3, 13)), 0.8)
    assert r['indices'].dtype == np.int8 and r['f'].dtype == np.float32
    assert np.array_equal(r['indices'], rec.indices) and np.array_equal(r['f'], rec.f.astype(np.float32)) and np.array_equal(r['e'], rec.e.astype(np.float32))
    back = st.record(i)
    assert np.array_equal(back.d, rec.d) and np.array_equal(back.centric, rec.centric) and np.array_equal(back.multiplicity, rec.multiplicity)
    for name, t in TASKS.items():                           # D1/D2/D3: views of the same rows
        a, b = st.sample(i, name), make_sample(rec, t.grid, t.d_low, t.d_high, value=t.value)
        for k in ('known', 'new', 'absent', 'outside', 'centric', 'epsilon'): assert np.array_equal(a[k], b[k]), (name, k)
        np.testing.assert_allclose(a['target'], b['target'], rtol=1e-6)


def test_workers_and_extension_give_identical_stores(ref, tmp_path):
    D.simulate(tmp_path / 'p', 20, 'thesis', seed=3, chunk_size=6, workers=2, progress=False)
    assert digest(tmp_path / 'p') == digest(ref)
    D.simulate(tmp_path / 'e', 7, 'thesis', seed=3, chunk_size=6, workers=1, progress=False)
    D.simulate(tmp_path / 'e', 20, 'thesis', seed=3, chunk_size=6, workers=1, progress=False)
    assert digest(tmp_path / 'e') == digest(ref)
    with pytest.raises(D.StoreError, match='d_min'): D.simulate(tmp_path / 'e', 20, 'thesis', seed=3, d_min=1.0, chunk_size=6, workers=1, progress=False)


def test_resume_after_exception_is_identical(ref, tmp_path):
    calls = []
    def flaky(*args):
        calls.append(args[2])
        if len(calls) == 3: raise KeyboardInterrupt          # interrupted during the third chunk
        return D.simulate_chunk(*args)
    spec = D.get_spec('thesis')
    plan = [(a, min(a + 6, 20), (spec, 3, a, min(a + 6, 20), 0.8, 'model')) for a in range(0, 20, 6)]
    params = dict(spec=D.asdict(spec), preset='thesis', seed=3, d_min=0.8, e_method='model', chunk_size=6)
    with pytest.raises(KeyboardInterrupt): D.run_store(tmp_path / 's', 'simulate', params, plan, flaky, executor=D.InlineExecutor(), progress=False)
    m = D.read_manifest(tmp_path / 's')
    assert not m['complete'] and len(m['chunks']) == 2 and not D.verify(tmp_path / 's')['ok']
    with pytest.raises(D.StoreError, match='incomplete'): D.open_store(tmp_path / 's')
    D.simulate(tmp_path / 's', 20, 'thesis', seed=3, chunk_size=6, workers=1, progress=False)
    assert digest(tmp_path / 's') == digest(ref)


def test_resume_after_kill_9_is_identical(ref, tmp_path):
    out = tmp_path / 'k'
    cmd = [sys.executable, '-c', 'import sys; from xrdphase.datasets import main; sys.exit(main(sys.argv[1:]))',
           'simulate', '--n', '20', '--out', str(out), '--seed', '3', '--chunk-size', '6', '--workers', '1', '--quiet']
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 60:
        if (out / D.MANIFEST).exists() and json.loads((out / D.MANIFEST).read_text())['chunks']: break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait()
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert digest(out) == digest(ref)


def test_second_writer_is_refused(tmp_path):
    out = tmp_path / 'w'; out.mkdir()
    with D._lock(out):
        with pytest.raises(D.StoreError, match='another writer in this process'): D.simulate(out, 3, 'thesis', seed=1, workers=1, progress=False)
    holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); '
                               'fcntl.lockf(fd, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)', str(out / '.lock')],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(D.StoreError, match='another process'): D.simulate(out, 3, 'thesis', seed=1, workers=1, progress=False)
    finally: holder.kill(); holder.wait()
    D.simulate(out, 3, 'thesis', seed=1, workers=1, progress=False)
    assert D.verify(out)['ok']


def test_verify_names_bad_chunks(ref, tmp_path):
    bad = tmp_path / 'bad'; shutil.copytree(ref, bad)
    assert D.verify(bad)['ok']
    b = (bad / 'chunk-00001.npz').read_bytes(); (bad / 'chunk-00001.npz').write_bytes(b[:-100])
    b = bytearray((bad / 'chunk-00002.npz').read_bytes()); b[-500] ^= 0x40; (bad / 'chunk-00002.npz').write_bytes(bytes(b))
    (bad / 'chunk-00003.npz').unlink()
    shutil.copy(ref / 'chunk-00000.npz', bad / 'chunk-00099.npz')
    v = D.verify(bad)
    got = {p['file']: p['problem'] for p in v['problems']}
    assert not v['ok'] and set(got) == {'chunk-00001.npz', 'chunk-00002.npz', 'chunk-00003.npz', 'chunk-00099.npz'}
    assert 'truncated' in got['chunk-00001.npz'] and 'altered' in got['chunk-00002.npz'] and got['chunk-00003.npz'] == 'missing'
    assert 'not listed' in got['chunk-00099.npz']


def test_dask_executor_gives_identical_store(ref, tmp_path):
    distributed = pytest.importorskip('distributed')
    import logging; logging.getLogger('distributed').setLevel(logging.ERROR)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, distributed.Client(lc) as c:
        D.simulate(tmp_path / 'dask', 20, 'thesis', seed=3, chunk_size=6, executor=c.get_executor(), progress=False)
    assert digest(tmp_path / 'dask') == digest(ref)


def test_thread_executor_is_safe(ref, tmp_path):
    import concurrent.futures as cf
    sw = sys.getswitchinterval(); sys.setswitchinterval(1e-5)
    try:
        with cf.ThreadPoolExecutor(3) as ex: D.simulate(tmp_path / 't', 20, 'thesis', seed=3, chunk_size=6, executor=ex, progress=False)
    finally: sys.setswitchinterval(sw)
    assert digest(tmp_path / 't') == digest(ref)


def test_splits_deterministic_and_thesis_proportions():
    s = D.split_indices(600_000, 'thesis', seed=1)
    assert [len(s[k]) for k in ('train', 'val', 'test')] == [400_000, 100_000, 100_000]
    assert len(np.unique(np.concatenate(list(s.values())))) == 600_000
    s2 = D.split_indices(600_000, 'thesis', seed=1); s3 = D.split_indices(600_000, 'thesis', seed=2)
    assert all(np.array_equal(s[k], s2[k]) for k in s) and not np.array_equal(s['test'], s3['test'])
    s = D.split_indices(10, (0.8, 0.1, 0.1), seed=0); assert [len(s[k]) for k in ('train', 'val', 'test')] == [8, 1, 1]
    with pytest.raises(D.StoreError): D.split_indices(10, (1, -1, 0))


def test_loader_batches(ref):
    import torch
    dl = D.loader(ref, 'd2', 'train', batch_size=5, seed=4)
    batches = list(dl)
    assert batches[0]['input'].shape == (5, 23, 16, 21) and batches[0]['known'].dtype == torch.bool
    pos = torch.cat([b['position'] for b in batches]).tolist()
    assert sorted(pos) == D.split_indices(20, 'thesis', 4)['train'].tolist()
    assert pos == torch.cat([b['position'] for b in D.loader(ref, 'd2', 'train', batch_size=5, seed=4)]).tolist()   # deterministic
    ds = D.StoreDataset(ref, 'd2', 'train', seed=4)
    j = int(np.searchsorted(ds.positions, pos[0]))
    assert all(torch.equal(batches[0][k][0], ds[j][k]) for k in ds[j])
    assert len(D.StoreDataset(ref, 'd1', 'test', seed=4)) == len(D.split_indices(20, 'thesis', 4)['test'])


def test_ingest_lists_every_skip(tmp_path):
    from cctbx import xray, crystal
    from cctbx.array_family import flex
    from xrdphase.crystal import sucrose
    cif = tmp_path / 'cifs'; cif.mkdir()
    with open(cif / 'a_sucrose.cif', 'w') as f: sucrose().xs.as_cif_simple(out=f, data_name='suc')
    tri = xray.structure(crystal_symmetry=crystal.symmetry((5, 6, 7, 80, 85, 95), 'P-1'),
                         scatterers=flex.xray_scatterer([xray.scatterer('C1', (0.1, 0.2, 0.3), u=0.03)]))
    with open(cif / 'b_triclinic.cif', 'w') as f: tri.as_cif_simple(out=f, data_name='tri')
    (cif / 'c_garbage.cif').write_text('not a cif at all\n')
    (cif / 'd_noatoms.cif').write_text('data_x\n_cell_length_a 5\n_cell_length_b 6\n_cell_length_c 7\n_cell_angle_alpha 90\n'
                                       '_cell_angle_beta 100\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M "P 1 21 1"\n')
    man = D.ingest_cif(cif, tmp_path / 'st', cctbx_extras=True, grid='d1', workers=1, progress=False)
    sk = {s['file']: s['category'] for s in D.skipped(man)}
    assert sk == {'b_triclinic.cif': 'non-monoclinic', 'c_garbage.cif': 'unparseable', 'd_noatoms.cif': 'no atoms', 'cctbx:thpp': 'grid'}, sk
    st = D.open_store(tmp_path / 'st')
    assert len(st) == 2 and sorted(st.column('name').tolist()) == ['a_sucrose:suc', 'cctbx:sucrose']
    assert all(r['reason'] for r in D.skipped(man))
    assert D.info(tmp_path / 'st')['grid_fit']['d1']['fit'] == 2


def test_cli_wiring_and_info(ref, capsys):
    import argparse
    ap = argparse.ArgumentParser(); sub = ap.add_subparsers(dest='cmd'); D.add_cli(sub)
    a = ap.parse_args(['simulate', '--n', '5', '--out', 'x', '--seed', '2', '--preset', 'monoclinic', '--workers', '2'])
    assert (a.n, a.seed, a.preset, a.workers, a.d_min, a.func) == (5, 2, 'monoclinic', 2, 0.8, D._cli_simulate)
    assert ap.parse_args(['ingest-cif', 'dir', '--out', 'o', '--cctbx-extras']).cctbx_extras
    assert D.main(['info', str(ref)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out['n_structures'] == 20 and out['grid_fit']['d1']['fit'] == 20 and out['reflections_per_structure']['0.8']['mean'] > 500
    assert D.main(['verify', str(ref)]) == 0 and json.loads(capsys.readouterr().out)['ok']


def test_figure_2_4_quick():
    from xrdphase.core import FIGURES
    import matplotlib; matplotlib.use('Agg')
    assert FIGURES['fig2_4_reflection_counts']['thesis'] == '2.4'
    fig, data = FIGURES['fig2_4_reflection_counts']['func'](quick=True)
    d = data['d']; i = lambda x: int(np.argmin(np.abs(d - x)))
    for k in ('mean_P1211', 'mean_C121'):
        assert data[k][i(0.8)] / data[k][i(1.5)] > 5 and np.all(np.diff(data[k]) >= 0)

def test_molecular_source_store_is_deterministic_and_resumes(tmp_path):
    "--source molecular: same store format; an interrupted (shorter) run extended to n equals a direct run."
    from xrdphase.datasets import simulate, verify
    from xrdphase.molecular import MolecularSpec
    from xrdphase.core import sha256_file
    spec = MolecularSpec()
    simulate(tmp_path / 'a', 4, spec, seed=11, chunk_size=2, workers=1, progress=False)
    simulate(tmp_path / 'b', 2, spec, seed=11, chunk_size=2, workers=1, progress=False)
    simulate(tmp_path / 'b', 4, spec, seed=11, chunk_size=2, workers=1, progress=False)
    digest = lambda d: {p.name: sha256_file(p) for p in sorted(d.iterdir()) if p.is_file() and not p.name.startswith('.')}
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert verify(tmp_path / 'a')['ok']
