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


# ---- measured data (issue 20): tests/data holds four deposited CIFs with their .hkl and .res (tests/data/PROVENANCE.md)
DATA = Path(__file__).resolve().parent / 'data'
MEASURED = {  # name: (space group, HKLF 4 lines, left out (reason: count), non-H atoms of the model, reference atoms, batch column)
    'cod_1550236': ('P -1', 11831, {'I < -5 sigma': 11}, 23, 23, False),
    'finalcif_SH2185_Cu': ('P 21 21 21', 17407, {}, 29, 24, True),
    'finalcif_p21c': ('P 1 21/c 1', 42975, {'I < -5 sigma': 2}, 104, 76, False),
    'finalcif_p31c': ('P 3 1 c', 35969, {}, 39, 31, True)}


def cif_block(name):
    import gzip, iotbx.cif
    return list(iotbx.cif.reader(input_string=gzip.open(DATA / f'{name}.cif.gz', 'rt').read()).model().values())[0]


@pytest.mark.parametrize('name', sorted(MEASURED))
def test_measured_cif_is_one_complete_input(name):
    "Each deposited CIF gives its data (nothing refused), its cell and wavelength, and the reference atoms of its .res."
    import re
    from xrdphase.measured import read_measured
    from xrdphase.success import non_h_atoms
    group, n_lines, left_out, model_non_h, n_ref, _ = MEASURED[name]
    m = read_measured(DATA / f'{name}.cif.gz')
    assert str(m.data.space_group_info()) == group and m.read.n_lines == n_lines and m.read.counts == left_out
    assert m.read.n_used == n_lines - sum(left_out.values())
    blk = cif_block(name)
    assert m.ins['wavelength'] == pytest.approx(float(blk['_diffrn_radiation_wavelength']))
    merged, stats = m.merged()
    n_shelxl = int(blk['_reflns_number_total'])          # SHELXL keeps Friedel pairs apart in acentric groups (merged here) and OMITs a few
    assert abs(merged.size() - n_shelxl) <= 2 if m.data.space_group().is_centric() else n_shelxl / 2 <= merged.size() < n_shelxl
    assert 0.01 < stats.overall['r_int'] < 0.1 and stats.shells[0]['i_over_sigma'] > stats.shells[-1]['i_over_sigma']
    # the reference: every non-H atom of the model counted, one conformation kept, which fills the cell with Z formula units
    assert m.counts['model_non_h'] == model_non_h and m.counts['reference'] == n_ref == non_h_atoms(m.reference, min_occupancy=0).scatterers().size()
    non_h_formula = sum(float(n or 1) for e, n in re.findall(r'([A-Z][a-z]?)([\d.]*)', blk['_chemical_formula_sum']) if e not in ('H', 'D'))
    assert m.counts['in_cell'] == non_h_formula * float(blk['_cell_formula_units_Z'])
    assert len(m.record(1.2)) > 0


def test_batch_column_and_terminator():
    from xrdphase.files import parse_hklf4
    text = '   1   0   0  323.11   10.61   1\n  -1   0   0  315.79   10.22   2\n   0   0   0    0.00    0.00   0\n   5   5   5  999.00    1.00   1\n'
    hkl, i, s, batch, rep = parse_hklf4(text, 'b.hkl')
    assert hkl.tolist() == [[1, 0, 0], [-1, 0, 0]] and list(batch) == [1, 2] and rep.n_lines == 2 and rep.last_line == 3
    assert parse_hklf4(text.replace('   1\n', '\n').replace('   2\n', '\n'), 'b.hkl')[3] is None         # no batch column
    cosines = text.replace('   1\n', '   1 0.12345-0.54321 0.11111 0.22222-0.33333 0.44444\n', 1)            # SADABS: 3I4,2F8,I4,6F8
    assert parse_hklf4(cosines, 'c.hkl')[0].tolist() == hkl.tolist()


def test_broken_file_lines_verbatim(tmp_path):
    "Every bad line is reported with its number and its exact text (tabs, runs of spaces); a mostly broken file is refused in one line."
    from xrdphase.files import read_hkl, HKLError
    lines = cif_block('finalcif_p21c')['_shelx_hkl_file'].lstrip('\n').splitlines()
    (tmp_path / 'p21c.res').write_text(cif_block('finalcif_p21c')['_shelx_res_file'])
    bad = ['  1  0  0\t 12.5   1.0', '   1   0   0   12.50', '   1   0   0    12.5    0.00', '   1   0   0      nan    1.00']
    (tmp_path / 'b.hkl').write_text('\n'.join(lines[:5] + bad + lines[5:]) + '\n')
    r = read_hkl(tmp_path / 'b.hkl', tmp_path / 'p21c.res')
    got = sorted(row for rows in r.meta['read'].left_out.values() for row in rows)
    assert got[:4] == [(6, bad[0]), (7, bad[1]), (8, bad[2]), (9, bad[3])] and r.meta['n_left_out'] == 4 + 2
    assert "line 6: '  1  0  0\\t 12.5   1.0'" in str(r.meta['read'])
    (tmp_path / 'w.hkl').write_text('\n'.join(' '.join(l.split()) for l in lines) + '\n')      # spaces collapsed: not HKLF 4 at all
    with pytest.raises(HKLError) as e: read_hkl(tmp_path / 'w.hkl', tmp_path / 'p21c.res')
    assert str(e.value).startswith(f"{tmp_path / 'w.hkl'}:1: ") and str(e.value).endswith(f"{' '.join(lines[0].split())!r}") and '\n' not in str(e.value)


def test_resi_file_reads_where_iotbx_raises():
    from cctbx import xray
    from xrdphase.files import reference_from_ins, HKLError
    res = cif_block('finalcif_p21c')['_shelx_res_file']
    with pytest.raises(TypeError, match='residue_class'): xray.structure.from_shelx(file=io.StringIO(res))
    ref, counts = reference_from_ins('p21c.res', text=res)
    assert counts == dict(model_non_h=104, in_parts=56, minor_parts=28, special_positions=0, reference=76, in_cell=304)
    assert reference_from_ins('all.res', text=res, parts='all')[1]['reference'] == 104
    with pytest.raises(HKLError, match=r"^x.res: iotbx cannot read the atoms: .*illegal argument"): reference_from_ins('x.res', text=res.replace('AL1   5    0.064281', 'AL1   5    0.06x281'))


def test_refln_cif_and_mtz_intensities_or_amplitudes(tmp_path):
    from cctbx.array_family import flex
    from xrdphase.crystal import sucrose
    from xrdphase.diffraction import reflections
    from xrdphase.measured import read_measured
    from xrdphase.files import HKLError
    rec = reflections(sucrose().xs, 1.0, e_method=None)
    i = rec.miller_array('i')
    i = i.customized_copy(sigmas=flex.sqrt(i.data() + 1.0))
    f = i.f_sq_as_f()
    for arr, kind in ((i, 'intensity'), (f, 'amplitude')):
        buf = io.StringIO()
        arr.as_cif_simple(array_type='meas', out=buf, data_name='s')
        (tmp_path / f'{kind}.cif').write_text(buf.getvalue())
        ds = arr.as_mtz_dataset(column_root_label='I' if kind == 'intensity' else 'F')
        ds.mtz_object().write(str(tmp_path / f'{kind}.mtz'))
        for suffix in ('cif', 'mtz'):
            m = read_measured(tmp_path / f'{kind}.{suffix}')
            assert m.data.size() == len(rec) and m.data.sigmas() is not None
            assert (m.data.is_xray_intensity_array() if kind == 'intensity' else m.data.is_xray_amplitude_array()), (kind, suffix)
            assert np.corrcoef(np.sort(m.record().f), np.sort(rec.f))[0, 1] > 0.999
    with pytest.raises(HKLError, match='no such file'): read_measured(tmp_path / 'none.mtz')


def test_half_half_disorder_keeps_part_1(tmp_path):
    "A 50:50 disorder (sof 10.5 in both parts) keeps PART 1 once, not both parts and not neither."
    from xrdphase.crystal import sucrose
    from xrdphase.files import export_res, reference_from_ins
    export_res(sucrose().xs, tmp_path / 's.res')
    text = (tmp_path / 's.res').read_text()
    o1 = next(l for l in text.splitlines() if l.startswith('O1 '))
    lab, sfac, x, y, z = o1.split()[:5]
    disorder = f'PART 1\n{lab} {sfac} {x} {y} {z} 10.5 0.03\nPART 2\nO1B {sfac} {float(x) + 0.03:.5f} {y} {z} 10.5 0.03\nPART 0\n'
    text = text.replace(o1 + '\n', disorder + 'REM ', 1)
    ref, counts = reference_from_ins(tmp_path / 's.res', text=text)
    assert counts['model_non_h'] == 24 and counts['minor_parts'] == 1 and counts['reference'] == 23
    assert 'O1' in [sc.label for sc in ref.scatterers()] and 'O1B' not in [sc.label for sc in ref.scatterers()]
