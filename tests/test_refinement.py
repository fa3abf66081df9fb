"""Refinement (08e): elements, least squares, files — on sucrose (calculated, 0.8 A); each check also seen to fail on broken input."""
import xrdphase  # noqa: F401
from pathlib import Path
import re
import numpy as np
import pytest
import iotbx.cif
from cctbx import xray
from xrdphase.crystal import sucrose
from xrdphase.diffraction import reflections
from xrdphase.phasing import solve
from xrdphase.success import non_h_atoms
from xrdphase.refinement import (RefinementError, asu_content, assign_elements, solution_element_accuracy, observations, refine,
                                 bond_check, refine_and_write, peaks_structure, check_res, misplaced, projected_ellipse)


@pytest.fixture(scope='module')
def case():
    xs = sucrose().xs
    rec = reflections(xs, 0.8, e_method=None)
    return xs, rec, solve(rec, content=xs)


def test_elements_follow_the_heights(case):
    xs, rec, sol = case
    h = sol.candidates[sol.chosen]['heights']
    content = asu_content('C12H22O11', rec.crystal_symmetry())
    assert solution_element_accuracy(sol, assign_elements(sol.peaks, h, content, rec.crystal_symmetry()), xs)['fraction'] >= 0.8
    upside_down = assign_elements(sol.peaks, h.max() + h.min() - h, content, rec.crystal_symmetry())
    assert solution_element_accuracy(sol, upside_down, xs)['fraction'] < 0.8


def test_formula_must_fit_the_cell(case):
    _, rec, _ = case
    assert asu_content('C12H22O11', rec.crystal_symmetry())['C'] == 12
    with pytest.raises(RefinementError, match='per non-H atom'): asu_content('C48H88O44', rec.crystal_symmetry())
    with pytest.raises(RefinementError, match='not an element'): asu_content('C12Qq', rec.crystal_symmetry())


def test_refined_solution_fits_like_the_true_model_and_a_shifted_one_does_not(case):
    xs, rec, sol = case
    fo_sq = observations(rec)
    content = asu_content('C12H22O11', rec.crystal_symmetry())
    r = refine(assign_elements(sol.peaks, sol.candidates[sol.chosen]['heights'], content, rec.crystal_symmetry()), fo_sq, content)
    true = refine(non_h_atoms(xs), fo_sq)
    assert r.r1_gt < true.r1_gt + 0.02 and r.max_shift_su < 0.1 and r.goof > 0     # GooF < 1 here: calculated data, σ of export_hkl
    assert bond_check(r.xs)['fraction'] >= 0.95
    shifted = non_h_atoms(xs).deep_copy_scatterers()
    shifted.set_sites_frac(shifted.sites_frac() + (0.13, 0.0, 0.27))
    assert refine(shifted, fo_sq, hydrogens=False).r1_gt > true.r1_gt + 0.2
    wrong = refine(shifted, fo_sq)
    assert wrong.r1_gt > true.r1_gt + 0.2 and wrong.max_shift_su > 0.1      # far worse, and not even converged


def test_divergence_is_one_line(case):
    xs, rec, _ = case
    nh = non_h_atoms(xs)
    bad = peaks_structure(nh.sites_frac(), nh.crystal_symmetry(), list(nh.scattering_types()), u_iso=-3.0)   # negative U overflows
    with pytest.raises(RefinementError, match='diverged'): refine(bad, observations(rec))


def test_files_read_back_and_nothing_half_written(case, tmp_path):
    xs, rec, sol = case
    out = refine_and_write(sol, rec, 'C12H22O11', tmp_path, 'suc', reference=xs)
    assert sorted(Path(f).name for f in out['files'].values()) == ['suc.cif', 'suc.fcf', 'suc.res', 'suc_molecule.png']
    back = list(iotbx.cif.reader(file_path=out['files']['cif']).build_crystal_structures().values())[0]
    assert back.scatterers().size() == out['refinement'].xs.scatterers().size()
    blk = list(iotbx.cif.reader(file_path=out['files']['cif']).model().values())[0]
    assert sum(1 for l in blk['_shelx_hkl_file'].splitlines() if l.strip() and l[:12].split() != ['0', '0', '0']) == out['refinement'].n_all
    assert xray.structure.from_shelx(filename=out['files']['res']).scatterers().size() == out['refinement'].xs.scatterers().size()
    back_res = check_res(out['files']['res'], out['refinement'])               # atoms, AFIX groups, U(H), WGHT as refined
    assert back_res['afix_groups'] == {13: 8, 23: 3, 147: 8} and back_res['riding_u'] == 22    # sucrose: 8 CH, 3 CH2, 8 OH
    fcf = list(iotbx.cif.reader(file_path=out['files']['fcf']).model().values())[0]
    assert len(fcf['_refln_F_squared_calc']) == out['refinement'].n_all
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(RefinementError, match='per non-H atom'): refine_and_write(sol, rec, 'C60H40', empty, 'x')
    assert not list(empty.iterdir())


def test_res_is_shelxl_input_and_a_broken_one_is_caught(case, tmp_path):
    "The .res continues in SHELXL: L.S./FMAP/PLAN/ACTA/WGHT in order, every H in its AFIX block; each break is one line naming it."
    xs, rec, sol = case
    out = refine_and_write(sol, rec, 'C12H22O11', tmp_path, 'suc')
    path, ref = Path(out['files']['res']), out['refinement']
    text = path.read_text()
    heads = [l.split()[0] for l in text.splitlines() if l[:1].strip()]
    assert heads[-2:] == ['HKLF', 'END'] and 'DISP' not in heads and heads.count('AFIX') == 2 * len(ref.riding)
    assert f"WGHT {ref.weighting[0]:.6f} {ref.weighting[1]:.6f}" in text
    bad = tmp_path / 'bad.res'
    i = text.index('AFIX 147')
    bad.write_text(text[:i] + text[i:].replace('AFIX 147\n', '', 1).replace('AFIX 0\n', '', 1))           # an OH hydrogen outside AFIX
    with pytest.raises(RefinementError, match='should ride on'): check_res(bad, ref)
    bad.write_text(text.replace('AFIX 147', 'AFIX 137', 1))                                               # 1 H where AFIX 137 needs 3
    with pytest.raises(RefinementError, match='wrong number of afixed atoms'): check_res(bad, ref)
    bad.write_text(text.replace('PLAN 20\n', ''))
    with pytest.raises(RefinementError, match='SHELXL needs'): check_res(bad, ref)


def gemmi_read_back(path, ref, res_text:str):
    "The written CIF as gemmi (a second, independent reader) sees it: cell, space group, atoms, the embedded hkl and res; AssertionError on a difference."
    import gemmi
    from xrdphase.refinement import _hklf
    block = gemmi.cif.read(str(path)).sole_block()
    ss = gemmi.make_small_structure_from_block(block)
    assert ss.cell.parameters == pytest.approx(ref.xs.unit_cell().parameters(), abs=1e-4), (ss.cell, ref.xs.unit_cell())
    ops = {gemmi.Op(str(op)).wrap().triplet() for op in ref.xs.space_group().all_ops()}
    assert ss.spacegroup is not None and {op.wrap().triplet() for op in ss.spacegroup.operations()} == ops, ss.spacegroup
    assert [s.label for s in ss.sites] == [sc.label for sc in ref.xs.scatterers()]
    assert np.allclose([s.fract.tolist() for s in ss.sites], ref.xs.sites_frac(), atol=1e-5)
    assert gemmi.cif.as_string(block.find_value('_shelx_hkl_file')).strip() == _hklf(ref.fo_sq).strip()
    assert gemmi.cif.as_string(block.find_value('_shelx_res_file')).strip() == res_text.strip()
    assert float(block.find_value('_refine_ls_R_factor_gt')) == pytest.approx(ref.r1_gt, abs=5e-5)
    return dict(cell=ss.cell.parameters, space_group=ss.spacegroup.hm, atoms=len(ss.sites))


def test_gemmi_reads_the_cif_as_written_and_catches_a_corrupted_one(case, tmp_path):
    xs, rec, sol = case
    out = refine_and_write(sol, rec, 'C12H22O11', tmp_path, 'suc')
    ref, cif, res = out['refinement'], Path(out['files']['cif']), Path(out['files']['res']).read_text()
    assert gemmi_read_back(cif, ref, res)['space_group'] == 'P 1 21 1'
    text = cif.read_text()
    bad = tmp_path / 'bad.cif'
    a = f"{ref.xs.unit_cell().parameters()[0]:.4f}"
    for broken in (text.replace(f'_cell_length_a                    {a}', '_cell_length_a 7.0000'),     # another cell
                   text.replace('-x,y+1/2,-z', '-x,y,-z', 1),                                           # another group (P2 for P21)
                   re.sub(r'\n(\s+-?\d+\s+-?\d+\s+-?\d+\s+\S+\s+\S+)\n', '\n', text, count=1),            # a reflection lost
                   text.replace('AFIX 13\n', '', 1)):                                                     # the res edited
        bad.write_text(broken)
        assert broken != text
        with pytest.raises(AssertionError): gemmi_read_back(bad, ref, res)


def test_a_misplaced_model_is_wrong_in_p1_where_a_shift_is_not(case):
    "In P1 every shift is an origin shift (the shifted model refines to the true R1); a turned and moved molecule is wrong there too."
    p1 = case[0].expand_to_p1()
    fo_sq = observations(reflections(p1, 0.8, e_method=None))
    true = refine(non_h_atoms(p1), fo_sq, hydrogens=False).r1_gt
    shifted = non_h_atoms(p1).deep_copy_scatterers()
    shifted.set_sites_frac(shifted.sites_frac() + (0.13, 0.0, 0.27))
    assert refine(shifted, fo_sq, hydrogens=False).r1_gt == pytest.approx(true, abs=1e-3)
    for seed in range(3):
        wrong, how = misplaced(p1, seed)
        try: assert refine(wrong, fo_sq, hydrogens=False).r1_gt > true + 0.2, how
        except RefinementError as e: assert 'diverged' in str(e)


def test_ellipse_of_an_isotropic_u_is_the_50_percent_circle_and_npd_is_refused(case):
    from scipy.stats import chi2
    xs = peaks_structure([(0.1, 0.2, 0.3)], case[0].crystal_symmetry(), ['C'], u_iso=0.02)
    xs.scatterers()[0].convert_to_anisotropic(xs.unit_cell())
    a, b, _ = projected_ellipse(xs, 0, np.eye(3)[:2])
    assert a == pytest.approx(b, rel=1e-6) and a == pytest.approx(np.sqrt(chi2.ppf(0.5, 3) * 0.02), rel=1e-6)
    xs.scatterers()[0].u_star = tuple(-u for u in xs.scatterers()[0].u_star)
    with pytest.raises(RefinementError, match='not positive definite'): projected_ellipse(xs, 0, np.eye(3)[:2])


def test_true_model_labels_give_unique_h_labels_and_a_valid_res(case, tmp_path):
    "A model with its own labels (sucrose's C3 and O3) gets unique riding H labels (SHELX refuses duplicates) and a .res that reads back."
    xs, rec, _ = case
    ref = refine(non_h_atoms(xs), observations(rec))
    labels = [sc.label for sc in ref.xs.scatterers()]
    assert len(set(labels)) == len(labels) and all(len(l) <= 4 for l in labels)
    out = refine_and_write(non_h_atoms(xs), rec, 'C12H22O11', tmp_path, 'true')
    assert check_res(out['files']['res'], out['refinement'])['riding_u'] == 22
