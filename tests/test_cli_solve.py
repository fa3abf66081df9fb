"""`xrdphase solve` from data to a refined structure: `--refine` refines against the data as given (not the extended
data), `--data` reads a deposited CIF (data, formula and model in one file) and says what it left out and how the data
merged; the summary for people and the JSON fields (`--json`) say the same. `python tests/test_cli_solve.py` prints
the table of measured-data results (R1 refined vs deposited)."""
import xrdphase  # noqa: F401
import contextlib, gzip, io, json, re
from pathlib import Path
import pytest
from xrdphase.cli import main
from xrdphase.core import cctbx_test_data

THPP_INS, THPP_HKL = (str(cctbx_test_data(f'thpp.{x}')) for x in ('ins', 'hkl'))
COD = Path(__file__).resolve().parent / 'data' / 'cod_1550236.cif.gz'
REFINED = ['space_group', 'elements', 'r1_gt', 'n_gt', 'r1_all', 'n_all', 'wr2', 'goof', 'max_shift_su', 'npd', 'n_params', 'cycles', 'peak',
           'hole', 'weighting', 'element_accuracy', 'bonds', 'cpu_seconds', 'files', 'summary']


def cli(*argv) -> tuple:
    "(exit status, stdout, stderr) of `xrdphase argv` run in this process."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def deposited_r1(path) -> float:
    "The deposited R1 (F > 4σ) of a CIF: `_refine_ls_R_factor_gt`."
    return float(re.search(r'^_refine_ls_R_factor_gt\s+([\d.]+)', gzip.open(path, 'rt').read(), re.M).group(1))


def test_refine_fits_the_data_as_given_and_writes_the_files(tmp_path):
    "thpp from 1.2 Å, extended to 1.0 Å and solved; refined against the 590 measured reflections to 1.2 Å (not the 1020 extended)."
    import iotbx.cif
    rc, out, err = cli('solve', '--hkl', THPP_HKL, '--ins', THPP_INS, '--d-min', 1.2, '--extend', 'float+recycle', '--d-high', 1.0,
                       '--refine', '--out', tmp_path, '--json')
    assert rc == 0, err
    r = json.loads(out)
    ref = r['refinement']
    assert sorted(ref) == sorted(REFINED) and r['extension']['n_measured'] == ref['n_all'] == 590 < r['n_reflections']
    assert ref['r1_gt'] < 0.08 and ref['r1_gt'] <= ref['r1_all'] < ref['wr2'] and 0.8 < ref['goof'] < 1.5, ref['summary']
    assert ref['element_accuracy']['right'] >= 0.9 * ref['element_accuracy']['n_ref'] and ref['bonds']['ok'] >= 0.95 * ref['bonds']['checked']
    files = ref['files']
    assert sorted(files) == ['cif', 'fcf', 'png', 'res'] and all(Path(p).parent == tmp_path and Path(p).name.startswith('thpp_refined') for p in files.values())
    block = list(iotbx.cif.reader(file_path=files['cif']).model().values())[0]
    assert float(block['_refine_ls_R_factor_gt']) == pytest.approx(ref['r1_gt'], abs=1e-4) and '_shelx_hkl_file' in block
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([Path(p).name for p in files.values()] + [Path(p).name for p in r['files'].values()])


def test_summary_for_people_has_the_refinement(tmp_path):
    rc, out, err = cli('solve', '--hkl', THPP_HKL, '--ins', THPP_INS, '--d-min', 0.9, '--refine', '--out', tmp_path)
    heads = [l.split()[0] for l in out.splitlines() if not l.startswith(' ')]
    assert rc == 0 and heads == ['data', 'method', 'result', 'refined', 'time', 'files'], out
    assert 'R1 = ' in out and 'GooF = ' in out and 'difference map: largest peak' in out and 'thpp_refined.cif' in out


def test_refine_without_a_formula_stops_before_anything_is_written(tmp_path):
    from xrdphase.measured import read_measured
    mtz = tmp_path / 'thpp.mtz'
    read_measured(THPP_HKL, THPP_INS).merged()[0].as_mtz_dataset('I').mtz_object().write(str(mtz))
    rc, out, err = cli('solve', '--data', mtz, '--refine', '--out', tmp_path / 'out')
    assert rc == 4 and err.count('\n') == 1 and '--refine needs the formula' in err and not out
    assert not (tmp_path / 'out').exists()                                         # refused before solving: nothing written
    rc, out, err = cli('solve', '--data', mtz, '--refine', '--out', tmp_path / 'out', '--formula', 'C10H10F2N4', '--json')
    assert rc == 0 and json.loads(out)['refinement']['r1_gt'] < 0.1, err


def test_deposited_cif_is_one_complete_input(tmp_path):
    "cod_1550236 (P-1, measured): data, formula (UNIT of the embedded .res) and reference model from one file; R1 within 0.03 of the deposited one."
    rc, out, err = cli('solve', '--data', COD, '--d-min', 1.2, '--extend', 'float+recycle', '--d-high', 1.0, '--refine', '--out', tmp_path, '--json')
    assert rc == 0, err
    r = json.loads(out)
    read, ref = r['read'], r['refinement']
    assert read['left_out'] == {'I < -5 sigma': 11} and read['n_used'] == read['n_lines'] - 11 == 11820
    assert 0 < read['r_int'] < 0.1 and 0.8 < read['completeness'] <= 1 and read['laue_class'] == 'P -1'
    assert r['solved'] and ref['elements'] == {'C': 22, 'H': 23, 'N': 1} and ref['element_accuracy']['right'] == ref['element_accuracy']['n_ref'] == 23
    assert abs(ref['r1_gt'] - deposited_r1(COD)) < 0.03, (ref['r1_gt'], deposited_r1(COD))
    assert ref['max_shift_su'] < 0.05 and ref['n_params'] < ref['n_all'] / 8, ref['summary']   # 1.2 Å: isotropic (< 5 reflections per anisotropic parameter) and converged (was 20.9 after 60 cycles)
    rc, text, err = cli('solve', '--data', COD, '--d-min', 1.2, '--refine', '--out', tmp_path / 'plain')
    heads = [l.split()[0] for l in text.splitlines() if not l.startswith(' ')]
    assert rc == 0 and heads == ['data', 'read', 'merged', 'method', 'result', 'refined', 'time', 'files'], text
    assert 'left out: I < -5 sigma: 11' in text and 'R_int 0.040' in text and 'cod_1550236.cif.gz: P -1' in text


if __name__ == '__main__':
    import tempfile
    print('| data | command | elements | R1 (F>4σ) refined | R1 deposited | wR2 | GooF | max shift/esd | CPU s |\n|---|---|---|---|---|---|---|---|---|')
    for label, argv, dep in [('thpp (cctbx test data)', ['--hkl', THPP_HKL, '--ins', THPP_INS], None),
                             ('cod_1550236 (P-1)', ['--data', COD], deposited_r1(COD))]:
        for d_min in (1.2, None):
            extra = ['--d-min', d_min, '--extend', 'float+recycle', '--d-high', 1.0] if d_min else []
            rc, out, err = cli('solve', *argv, *extra, '--refine', '--out', tempfile.mkdtemp(), '--json')
            r = json.loads(out)
            ref = r['refinement']
            els = ' '.join(f'{e}{n}' for e, n in sorted(ref['elements'].items()))
            print(f"| {label}, to {r['extension']['d_low'] if d_min else r['d_min']:.2f} Å | `{' '.join(['solve', *map(str, extra), '--refine'])}` | {els} | "
                  f"{ref['r1_gt']:.4f} ({ref['n_gt']} refl.) | {dep or '-'} | {ref['wr2']:.4f} | {ref['goof']:.3f} | {ref['max_shift_su']:.3f} | "
                  f"{r['cpu_seconds']:.1f} |")
