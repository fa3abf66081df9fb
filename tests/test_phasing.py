"Tests of xrdphase.phasing (smtbx charge flipping, success measure, Wilson fill, SHELX/MTZ I/O, CLI) and xrdphase.teaching_cf."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import contextlib, io, json
from dataclasses import replace
import numpy as np
import pytest
from cctbx.array_family import flex
from xrdphase.core import cctbx_test_data
from xrdphase.crystal import random_structure, StructureSpec, sucrose, thpp
from xrdphase.diffraction import reflections
from xrdphase import phasing as P, success as S, files as F, extension as X
from xrdphase.teaching_cf import charge_flip, fig1_7_charge_flipping

LIGHT = StructureSpec(space_groups=('P21/c',), elements=('C', 'N', 'O'), n_atoms=(12, 12), u_iso=(0.02, 0.04))


@pytest.fixture(scope='module')
def light():
    xs = random_structure(LIGHT, seed=1)
    return xs, reflections(xs, 1.0, e_method=None)


def moved(xs, sign, t):
    x = xs.deep_copy_scatterers()
    x.set_sites_frac(flex.vec3_double([tuple(sign * np.array(s) + np.array(t)) for s in xs.sites_frac()]))
    return x


def fake_solution(rec, phases):
    return P.Solution(rec=replace(rec, phi=phases), phase_transition=True, seconds=0, cycles=0, runs=0, seed=0, normalisation='E',
                      n_peaks=0, candidates=[dict(phases=phases, cc=1, shift=(0, 0, 0), peaks=None, heights=None, r1_peaks=0)], chosen=0)


def test_solve_is_deterministic_and_solves(light):
    xs, rec = light
    a, b = P.solve(rec, content=xs, seed=3), P.solve(rec, content=xs, seed=3)
    assert a.phase_transition and np.array_equal(a.solved_phases, b.solved_phases) and a.cycles == b.cycles
    ev = S.evaluate(a, xs)
    assert ev['solved'] and ev['matched_fraction'] == 1.0 and ev['phase_error'] < 15
    assert a.density().shape == a.fft_map().n_real() and a.peaks.shape == (a.n_peaks, 3)
    # a miller array of intensities with sigmas (French-Wilson) gives a solution too
    ma = rec.miller_array('i'); ma = ma.customized_copy(sigmas=ma.data() * 0.02 + 0.1)
    ev2 = S.evaluate(P.solve(ma, content=xs), xs)
    assert ev2['solved']


def test_solve_rejects_bad_input(light):
    xs, rec = light
    with pytest.raises(ValueError, match='NaN'): P.solve(replace(rec, f=np.where(np.arange(len(rec)) == 5, np.nan, rec.f)))
    with pytest.raises(ValueError, match='normalisation'): P.solve(rec, normalisation='X')
    with pytest.raises(TypeError): P.solve(rec.f)


def test_phase_error_and_matching_respect_allowed_origins(light):
    xs, rec = light
    for sign, t, ok in ((1, (0.5, 0.5, 0.5), True), (-1, (0, 0.5, 0), True), (1, (0.25, 0, 0), False)):
        ev = S.evaluate(fake_solution(rec, reflections(moved(xs, sign, t), 1.0, e_method=None).phi), xs)
        assert (ev['phase_error'] < 0.1 and ev['matched_fraction'] == 1) if ok else (ev['phase_error'] > 45 and not ev['solved'])
    # polar group: any shift along b, and the enantiomorph
    xp = random_structure(StructureSpec(space_groups=('P21',), u_iso=(0.02, 0.05)), seed=3)
    rp = reflections(xp, 1.0, e_method=None)
    ev = S.evaluate(fake_solution(rp, reflections(moved(xp, -1, (0.5, 0.123, 0)), 1.0, e_method=None).phi), xp)
    assert ev['phase_error'] < 0.1 and ev['inverted'] and ev['matched_fraction'] == 1
    ev = S.evaluate(fake_solution(rp, np.random.default_rng(1).uniform(-180, 180, len(rp))), xp)
    assert 75 < ev['phase_error'] < 105 and not ev['solved']


def test_allowed_origin_ops():
    from cctbx import sgtbx
    ops, cont = S.allowed_origin_ops(sgtbx.space_group_info('P21/c'))
    assert not cont and {tuple(t) for s, t in ops if s == 1} == {(a, b, c) for a in (0, .5) for b in (0, .5) for c in (0, .5)}
    ops, cont = S.allowed_origin_ops(sgtbx.space_group_info('P21'))
    assert [list(v) for v in cont] == [[0, 1, 0]] and {s for s, _ in ops} == {1, -1}
    ops, cont = S.allowed_origin_ops(sgtbx.space_group_info('P 1 21/n 1'))       # non-reference setting
    assert not cont and len([1 for s, _ in ops if s == 1]) == 8


def test_wilson_extend():
    xs = sucrose().xs
    rec = reflections(xs, 1.0, e_method=None)
    f = X.wilson_extend(rec.cut(1.2), 1.0)
    new = rec.d < 1.2
    assert np.array_equal(f.f[~new], rec.f[~new]) and np.array_equal(f.indices, rec.indices) and (f.f[new] > 0).all()
    assert f.meta['n_new'] == f.meta['n_wilson'] == new.sum() and f.meta['n_measured'] == (~new).sum()
    # within a thin shell the fill is the Wilson mean: centric / acentric = sqrt(2/pi) / sqrt(pi/4) at equal <I>
    s2 = (0.5 / rec.d) ** 2; ei = f.f ** 2 / rec.epsilon
    expect = np.exp(f.meta['wilson_ln_scale'] - 2 * f.meta['wilson_b'] * s2)
    assert np.allclose(ei[new & ~rec.centric], np.pi / 4 * expect[new & ~rec.centric])
    assert np.allclose(ei[new & rec.centric], 2 / np.pi * expect[new & rec.centric])
    with pytest.raises(ValueError, match='already reaches'): X.wilson_extend(rec.cut(1.2), 1.5)
    with pytest.raises(ValueError, match='method'): X.extend(rec.cut(1.2), 1.0, 'magic')


def test_phased_uses_the_measured_reflections(light):
    xs, rec = light
    ev = S.evaluate(fake_solution(rec, reflections(moved(xs, -1, (0, 0.5, 0)), 1.0, e_method=None).phi), xs)
    assert ev['phased'] and ev['phase_error_measured'] < 0.1
    # random phases beyond d_low = 1.2 Å only: phased (the measured rows are right), their all-row error is not small
    sol = fake_solution(rec, np.where(rec.d >= 1.2, rec.phi, np.random.default_rng(0).uniform(-180, 180, len(rec))))
    sol.rec.meta = {'d_low': 1.2}
    ev = S.evaluate(sol, xs)
    assert ev['phased'] and ev['phase_error_measured'] < 0.1 and ev['phase_error'] > 20
    ev = S.evaluate(fake_solution(rec, np.random.default_rng(1).uniform(-180, 180, len(rec))), xs)
    assert not ev['phased'] and ev['phase_error_measured'] > S.PHASED_MAX_ERROR
    row = S.case_row(P.Solution(rec=rec, phase_transition=False, seconds=0, cycles=0, runs=1, seed=0, normalisation='E', n_peaks=1), xs)
    assert row['phased'] is False and row['phase_error_measured'] is None and row['solved'] is False


def test_extension_from_2_0_A_to_1_0_A():
    xs = sucrose().xs
    rec2 = reflections(xs, 0.9, e_method=None).cut(2.0)
    assert rec2.d.min() > 2.0                                 # a cut keeps d_min a hair above 2.0 Å
    fr = X.extension_frame(rec2, 1.0)
    assert fr.n_new > 0 and fr.measured.sum() == len(rec2)
    with pytest.raises(ValueError, match='beyond what extension supports'): X.extension_frame(rec2, 0.95)


def test_auto_choice():
    rec = reflections(sucrose().xs, 1.0, e_method=None)
    high = X.auto_choice(rec.cut(1.2), 8)                    # sucrose: P2_1, not centrosymmetric
    assert high == dict(method='float+recycle', max_runs=X.AutoSettings().float_runs_acentric, completion=X.CompletionSettings(), reason=high['reason'])
    assert 'non-centro' in high['reason']                    # from 1.2 Å: float+recycle without completion
    centric = X.auto_choice(reflections(thpp().xs, 1.2, e_method=None), 8)   # thpp: P2_1/c
    assert centric['max_runs'] == max(8, X.AutoSettings().float_runs_centric) and ', centrosymmetric:' in centric['reason']
    low = X.auto_choice(rec.cut(1.5), 8)
    assert low['method'].startswith('hybrid:set:') and low['max_runs'] == X.AutoSettings().runs_acentric
    assert low['completion'] == X.AutoSettings().completion and low['completion'].n_cycles > 0 and 'completion cycles' in low['reason']
    assert X.auto_choice(rec.cut(1.5), 8, X.AutoSettings(d_float=1.6))['method'] == 'float+recycle'
    assert 'auto' in X.METHODS


def test_hkl_ins_mtz_round_trip(tmp_path):
    from iotbx.reflection_file_reader import any_reflection_file
    from iotbx import mtz
    xs = sucrose().xs; rec = reflections(xs, 0.9, e_method=None)
    info = F.export_hkl(rec, tmp_path / 's.hkl'); F.export_ins(rec, tmp_path / 's.ins', xs)
    lines = (tmp_path / 's.hkl').read_text().splitlines()
    assert lines[-1] == '   0   0   0    0.00    0.00' and all(len(l) == 28 for l in lines)
    back = any_reflection_file(str(tmp_path / 's.hkl') + '=hklf4').as_miller_arrays(crystal_symmetry=rec.crystal_symmetry())[0]
    assert back.size() == info['n'] == len(rec) and abs(back.data().as_numpy_array().max() - 99999) < 0.01
    assert np.allclose(back.data().as_numpy_array() / info['scale'], rec.intensities, atol=0.006 / info['scale'])
    ins = F.read_ins(tmp_path / 's.ins')
    assert ins['content'] == {'C': 24, 'H': 44, 'O': 22} and str(ins['symmetry'].space_group_info()) == 'P 1 21 1'
    r2 = F.read_hkl(tmp_path / 's.hkl', ins)
    assert np.array_equal(r2.indices, rec.indices) and np.corrcoef(r2.f, rec.f)[0, 1] > 0.999
    F.export_mtz(rec, tmp_path / 's.mtz')
    cols = {a.info().labels[0]: a for a in mtz.object(str(tmp_path / 's.mtz')).as_miller_arrays()}
    assert cols['F'].size() == len(rec) and np.isclose(cols['I'].data().as_numpy_array().max(), rec.intensities.max(), rtol=1e-5)
    # absences and reflections beyond the sphere are dropped on export
    from xrdphase.diffraction import complete_indices
    idx, d, absent = complete_indices(rec.cell, rec.sg_symbol, 0.9)
    n_absent = int(absent.sum())
    extra = replace(rec, indices=np.vstack([rec.indices, idx[absent]]), f=np.concatenate([rec.f, np.full(n_absent, 5.0)]),
                    d=np.concatenate([rec.d, d[absent]]), centric=np.concatenate([rec.centric, np.zeros(n_absent, bool)]),
                    epsilon=np.concatenate([rec.epsilon, np.ones(n_absent, int)]), multiplicity=np.concatenate([rec.multiplicity, np.ones(n_absent, int)]),
                    phi=None, d_min=1.0)
    assert n_absent > 0 and F.export_hkl(extra, tmp_path / 'x.hkl')['n'] == int((rec.d >= 1.0).sum())


@pytest.mark.parametrize('bad_line, what', [
    ('1 2 3 12.5 1.0', 'not HKLF 4'), ('   1   2   3     nan    1.00', 'NaN'),
    ('   1   2   3 -500.00    1.00', 'I < -5 sigma'), ('   1   2   3   10.00   -1.00', 'sigma <= 0')])
def test_read_hkl_leaves_out_bad_lines(tmp_path, bad_line, what):
    "A bad line costs that line, not the data set: left out, counted under its reason, its number and text kept verbatim."
    xs = sucrose().xs; rec = reflections(xs, 1.0, e_method=None)
    F.export_hkl(rec, tmp_path / 's.hkl'); F.export_ins(rec, tmp_path / 's.ins', xs)
    lines = (tmp_path / 's.hkl').read_text().splitlines()
    (tmp_path / 'b.hkl').write_text('\n'.join(lines[:2] + [bad_line] + lines[2:]) + '\n')
    r = F.read_hkl(tmp_path / 'b.hkl', tmp_path / 's.ins')
    (why, rows), = r.meta['read'].left_out.items()
    assert what in why and rows == [(3, bad_line)] and len(r) == len(rec) and r.meta['n_left_out'] == 1
    (tmp_path / 'm.hkl').write_text('\n'.join([bad_line] * len(lines) + lines) + '\n')
    if what == 'not HKLF 4':
        with pytest.raises(F.HKLError, match=f"m.hkl:1: {len(lines)} of .* lines are not HKLF 4.*: '1 2 3 12.5 1.0'$"): F.read_hkl(tmp_path / 'm.hkl', tmp_path / 's.ins')


def test_read_hkl_mismatches(tmp_path):
    xs = sucrose().xs; rec = reflections(xs, 1.0, e_method=None)
    F.export_hkl(rec, tmp_path / 's.hkl'); F.export_ins(rec, tmp_path / 's.ins', xs)
    (tmp_path / 'e.hkl').write_text('   0   0   0    0.00    0.00\n')
    with pytest.raises(F.HKLError, match='no usable reflections'): F.read_hkl(tmp_path / 'e.hkl', tmp_path / 's.ins')
    (tmp_path / 'c.ins').write_text("TITL x\nCELL 0.71073 7.783 8.7364 10.9002 90 102.984 90\nLATT 1\nSYMM -X,0.5+Y,0.5-Z\nSFAC C H O\nUNIT 24 44 22\n")
    with pytest.raises(F.HKLError, match='forbids'): F.read_hkl(tmp_path / 's.hkl', tmp_path / 'c.ins')
    (tmp_path / 'u.ins').write_text("TITL x\nCELL 0.71073 1.5 8.7364 10.9002 90 102.984 90\nLATT -1\nSYMM -X,0.5+Y,-Z\nSFAC C H O\nUNIT 24 44\n")
    with pytest.raises(F.HKLError, match=r'u.ins:6: UNIT has 2'): F.read_ins(tmp_path / 'u.ins')
    (tmp_path / 'u.ins').write_text("TITL x\nCELL 0.71073 1.5 8.7364 10.9002 90 102.984 90\nLATT -1\nSYMM -X,0.5+Y,-Z\nSFAC C H O\nUNIT 24 44 22\n")
    with pytest.raises(F.HKLError, match='lambda/2'): F.read_hkl(tmp_path / 's.hkl', tmp_path / 'u.ins')
    with pytest.raises(F.HKLError, match='needs|give the matching'): F.read_hkl(tmp_path / 's.hkl')


def test_measured_thpp():
    rec = F.read_hkl(cctbx_test_data('thpp.hkl'), cctbx_test_data('thpp.ins'))
    assert rec.sg_symbol == 'P 1 21/n 1' and rec.meta['n_measured'] == 14205 and rec.meta['r_int'] < 0.1 and (rec.f > 0).all()


def cli(*argv):
    "(exit status, result) of the `xrdphase` command: `solve`/`extend` with --json, whose last line is the result."
    from xrdphase.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): rc = main(list(argv) + (['--json'] if argv[0] in ('solve', 'extend') else []))
    return rc, json.loads(buf.getvalue().strip().splitlines()[-1])


def test_cli(tmp_path):
    rc, out = cli('export-hkl', '--cif', str(cctbx_test_data('thpp.cif')), '--d-min', '1.0', '--out', str(tmp_path / 't'), '--mtz')
    assert rc == 0 and out['hkl']['n'] > 500 and (tmp_path / 't.mtz').exists()
    rc, out = cli('solve', '--cif', str(cctbx_test_data('thpp.cif')), '--d-min', '1.0')
    assert rc == 0 and out['phase_transition'] and out['solved'] and out['phase_error'] < 20 and out['seconds'] > 0
    rc, out = cli('solve', '--hkl', str(tmp_path / 't.hkl'), '--ins', str(tmp_path / 't.ins'), '--ref', str(cctbx_test_data('thpp.cif')))
    assert rc == 0 and out['solved']
    rc, out = cli('solve', '--hkl', str(tmp_path / 't.hkl'), '--ins', str(tmp_path / 't.ins'), '--d-min', '1.2', '--extend', 'wilson',
                  '--d-high', '1.0')
    assert rc == 0 and out['n_reflections'] > 900 and out['d_min'] < 1.01 and 'matched_fraction' not in out
    assert out['extension']['n_wilson'] == out['extension']['n_new'] == out['n_reflections'] - out['extension']['n_measured']


def test_teaching_cycle_and_figure(light):
    xs, rec = light
    res = charge_flip(rec, n_cycles=150, seed=0)
    assert res.transition is not None and res.r[-10:].mean() < res.r[:10].mean() - 0.1
    assert np.array_equal(charge_flip(rec, n_cycles=20, seed=4).r, charge_flip(rec, n_cycles=20, seed=4).r)
    ev = S.evaluate(P.solution_from_p1(rec, res.f_p1, content=xs), xs)
    assert ev['solved']
    fig, data = fig1_7_charge_flipping(quick=True)
    assert set(data) == {'cycle', 'r_basic', 'r_weak'} and len(data['cycle']) == 150
