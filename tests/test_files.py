"""Files like any other program's: a solution written by `xrdphase solve --out` opens in cctbx's own readers; every writer
gives its files the mode the umask allows (not mkstemp's 0600); a store leaves no lock file behind."""
import xrdphase  # noqa: F401
import contextlib, io, json, os, stat
from pathlib import Path
import numpy as np
import pytest
from xrdphase.cli import main
from xrdphase.core import cctbx_test_data

THPP_CIF, THPP_INS, THPP_HKL = (str(cctbx_test_data(f'thpp.{x}')) for x in ('cif', 'ins', 'hkl'))


def cli(*argv) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in argv])
    return rc, (json.loads(out.getvalue().strip().splitlines()[-1]) if out.getvalue().strip() else None), err.getvalue()


def test_solve_speaks_to_people_and_json_on_request(tmp_path):
    "Without --json: a few lines (data, method, result and its test, CPU time, files); with it: one JSON line with the CPU seconds."
    out = io.StringIO()
    with contextlib.redirect_stdout(out): rc = main(['solve', '--hkl', THPP_HKL, '--ins', THPP_INS, '--d-min', '0.9', '--out', str(tmp_path)])
    text = out.getvalue()
    assert rc == 0 and [l.split()[0] for l in text.splitlines()] == ['data', 'method', 'result', 'time', 'files'], text
    assert 'thpp.hkl + thpp.ins' in text and 'P 1 21/n 1' in text and 'success measure' in text and 'thpp.res' in text
    with pytest.raises(json.JSONDecodeError): json.loads(text)
    rc, res, err = cli('solve', '--hkl', THPP_HKL, '--ins', THPP_INS, '--d-min', '0.9', '--json')
    assert rc == 0 and res['cpu_seconds'] > 0 and 'files' not in res


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try: yield
    finally: os.umask(old)


def modes(folder) -> dict:
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in sorted(Path(folder).rglob('*')) if p.is_file()}


def test_solve_out_writes_files_cctbx_reads_back(tmp_path):
    from cctbx import xray
    from iotbx import ccp4_map
    import iotbx.cif
    import matplotlib.image as mpimg
    rc, res, err = cli('solve', '--cif', THPP_CIF, '--out', tmp_path / 'sol', '--json')
    assert rc == 0 and res['solved'], err
    f = res['files']
    assert sorted(f) == ['cif', 'map', 'png', 'res'] and all(Path(p).parent == tmp_path / 'sol' and Path(p).stem == 'thpp' for p in f.values())
    assert res['reference_match']['within_0_5A'] == res['reference_match']['reference_atoms'] == res['n_ref'] == 16
    from_res = xray.structure.from_shelx(filename=f['res'])
    from_cif = list(iotbx.cif.reader(file_path=f['cif']).build_crystal_structures().values())[0]
    for xs in (from_res, from_cif):
        assert str(xs.space_group_info()) == 'P 1 21/c 1' and xs.scatterers().size() == 16
        assert xs.unit_cell().is_similar_to(from_res.unit_cell(), relative_length_tolerance=1e-4, absolute_angle_tolerance=1e-3)
    assert np.abs(np.array(from_res.sites_frac()) - np.array(from_cif.sites_frac())).max() < 1e-5
    m = ccp4_map.map_reader(file_name=f['map'])
    assert m.space_group_number == 14 and np.allclose(m.unit_cell().parameters(), from_res.unit_cell().parameters(), atol=1e-3)
    rho = m.map_data().as_numpy_array()
    assert rho.max() > 5 * rho.std() and abs(rho.mean()) < 0.05 * rho.max()          # atoms stand out of a zero-mean map (F000 omitted)
    png = mpimg.imread(f['png'])
    assert png.ndim == 3 and png.shape[1] > 800 and png[..., :3].std() > 0.05
    res_text = Path(f['res']).read_text()
    assert res_text.startswith('TITL thpp') and 'LATT 1' in res_text and res_text.rstrip().endswith('END')


def test_solve_out_with_measured_data_and_ins_atoms(tmp_path):
    rc, res, err = cli('solve', '--hkl', THPP_HKL, '--ins', THPP_INS, '--d-min', '0.9', '--out', tmp_path, '--json')
    assert rc == 0 and res['phase_transition'], err
    assert Path(res['files']['res']).name == 'thpp.res' and res['reference_match']['within_0_5A'] >= 0.8 * res['reference_match']['reference_atoms']


@pytest.mark.parametrize('mask,mode', [(0o022, '0o644'), (0o077, '0o600'), (0o002, '0o664')])
def test_every_writer_respects_the_umask(tmp_path, mask, mode):
    with umask(mask):
        assert cli('export-hkl', '--cif', THPP_CIF, '--out', tmp_path / 'hkl' / 'thpp', '--mtz')[0] == 0
        assert cli('simulate', '--n', '6', '--out', tmp_path / 'store', '--chunk-size', '3', '--workers', '1', '--quiet')[0] == 0
        assert cli('figures', '--quick', '--only', '2.3', '--out', tmp_path / 'fig')[0] == 0
        assert cli('solve', '--cif', THPP_CIF, '--out', tmp_path / 'sol', '--json')[0] == 0
        from xrdphase.models import build_model, model_config, save_weights
        save_weights(build_model(model_config('unet', 'tiny', 'd1')), tmp_path / 'w' / 'tiny.pt')
    got = modes(tmp_path)
    assert set(got) >= {'thpp.hkl', 'thpp.ins', 'thpp.mtz', 'manifest.json', 'chunk-00000.npz', 'fig2_3_intensity_vs_amplitude.png',
                        'thpp.res', 'thpp.cif', 'thpp.ccp4', 'thpp.png', 'tiny.pt'}
    assert set(got.values()) == {mode}, got
    assert not (tmp_path / 'store' / '.lock').exists() and not [p for p in tmp_path.rglob('.*') if p.is_file()]     # no lock, no debris
