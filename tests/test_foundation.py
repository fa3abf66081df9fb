"""Kit foundation: import order, structures, CIF errors, reflections physics, figures CLI, README sync."""
import xrdphase  # noqa: F401  (first)
import sys, subprocess, configparser
from pathlib import Path
import numpy as np
import pytest
from xrdphase.core import cctbx_test_data
from xrdphase.crystal import StructureSpec, StructureError, random_structure, read_cif, read_cif_dir, thpp, sucrose, PRESETS
from xrdphase.diffraction import (reflections, structure_factors_numpy, sys_absent, complete_indices, patterson, shell_means,
                                  e_statistics, centricity_from_e2, form_factor, miller_indices, WILSON_E2_DEV)

ROOT = Path(__file__).resolve().parent.parent

def test_torch_first_without_preload_is_a_clear_error_not_a_crash(run_python):
    r = run_python('import torch, xrdphase', XRDPHASE_NO_PRELOAD='1')
    assert r.returncode == 1, (r.returncode, r.stderr[-400:])          # 139 would be the segfault
    assert 'ImportError' in r.stderr and 'before cctbx' in r.stderr

def test_any_order_works_with_the_installed_preload(run_python):
    r = run_python('import torch, matplotlib.pyplot, scipy.special; import xrdphase.diffraction, smtbx.ab_initio.charge_flipping; print("ok")')
    assert r.returncode == 0 and r.stdout.strip() == 'ok', r.stderr[-400:]

def test_random_structure_is_deterministic_across_processes(run_python):
    xs = random_structure('thesis', 123)
    r = run_python("import xrdphase.crystal as c; x = c.random_structure('thesis', 123); print(list(x.sites_frac())[-1], x.unit_cell().parameters())")
    assert r.stdout.strip() == f"{list(xs.sites_frac())[-1]} {xs.unit_cell().parameters()}"

def test_spec_validation():
    with pytest.raises(StructureError, match='not monoclinic'): StructureSpec(space_groups=('P-1',))
    with pytest.raises(StructureError, match='n_atoms'): StructureSpec(n_atoms=(5, 2))
    assert set(PRESETS['monoclinic'].space_groups) == {'P21', 'C2', 'P21/c', 'C2/c'}

@pytest.mark.parametrize('sg', ['P21', 'C2', 'P21/c', 'C2/c'])
def test_fcalc_matches_numpy_direct_sum(sg):
    xs = random_structure(StructureSpec(space_groups=(sg,)), 11)
    rec = reflections(xs, 1.0)
    F = structure_factors_numpy(xs, rec.indices)
    assert np.abs(np.abs(F) - rec.f).max() <= 1e-4 * rec.f.max()
    idx, d, absent = complete_indices(rec.cell, sg, 1.0)
    assert np.abs(structure_factors_numpy(xs, idx[absent])).max(initial=0) < 1e-8 * rec.f.max()
    assert not sys_absent(sg, rec.indices).any()

def test_cut_is_a_view_and_refuses_higher_resolution():
    rec = reflections(random_structure('thesis', 2), 0.8)
    low = rec.cut(1.2)
    assert np.shares_memory(low.f, rec.f) and low.d.min() >= 1.2 and len(low) < len(rec)
    with pytest.raises(ValueError, match='only reaches'): rec.cut(0.7)

def test_e_normalisation_per_shell():
    spec = StructureSpec(elements=('C', 'N', 'O'), n_atoms=(40, 60))
    recs = [reflections(random_structure(spec, 300 + i), 0.8) for i in range(30)]
    d = np.concatenate([r.d for r in recs])
    e2 = np.concatenate([r.e for r in recs]) ** 2
    sel = d < 2.5
    assert np.abs(shell_means(d[sel], e2[sel], 8)[1] - 1).max() < 0.06
    st = e_statistics(recs, d_max=2.5)
    assert all(centricity_from_e2(st[k], st['n_' + k]) == k and abs(st[k] - WILSON_E2_DEV[k][0]) < 0.06 for k in WILSON_E2_DEV)


def test_centricity_from_e2_tells_the_two_distributions_apart():
    rng = np.random.default_rng(0)
    acentric, centric = rng.exponential(size=4000), rng.chisquare(1, size=4000)          # E^2 of Wilson's two distributions
    assert centricity_from_e2(np.abs(acentric - 1).mean(), 4000) == 'acentric' and centricity_from_e2(np.abs(centric - 1).mean(), 4000) == 'centric'
    assert centricity_from_e2(np.abs(centric[:5] - 1).mean(), 5) is None                 # five reflections cannot tell
    assert centricity_from_e2(0.9, 20) is None and centricity_from_e2(0.9, 2000) == 'centric'   # the tolerance shrinks with n
    assert e_statistics([reflections(random_structure(StructureSpec(space_groups=('P21',)), 1), 1.0)])['acentric'] is not None


def test_form_factor_is_cctbx_gaussian_and_indices_convert():
    from cctbx.eltbx import xray_scattering
    g = xray_scattering.wk1995('Cl', True).fetch()
    s = np.linspace(0, 2, 50).reshape(5, 10)
    by_hand = (np.array(g.array_of_a()) * np.exp(-np.array(g.array_of_b()) * s[..., None] ** 2)).sum(-1) + g.c()
    assert form_factor(g, s).shape == s.shape and np.abs(form_factor(g, s) - by_hand).max() < 1e-12
    idx = np.array([[1, -2, 3], [0, 0, 7]], dtype=np.int8)
    assert list(miller_indices(idx)) == [(1, -2, 3), (0, 0, 7)]

def test_patterson_thesis_scaling():
    rec = reflections(random_structure('thesis', 3), 1.0)
    p = patterson(rec, (24, 24, 24))
    assert p.min() == 0 and p.max() == 1 and p[0, 0, 0] == 1
    pr = patterson(rec, (24, 24, 24), remove_origin=True, sharpen=True)
    assert pr[0, 0, 0] < 0.5 and np.allclose(pr, pr[(-np.arange(24)) % 24][:, (-np.arange(24)) % 24][:, :, (-np.arange(24)) % 24])

def test_cif_errors_name_file_and_reason(tmp_path):
    cases = {'missing.cif': None, 'garbage.cif': 'not a cif at all\n',
             'crash.cif': 'data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n"unterminated\n',
             'noatoms.cif': 'data_x\n_cell_length_a 5\n_cell_length_b 6\n_cell_length_c 7\n'}
    reasons = {'missing.cif': 'no such file', 'garbage.cif': 'unparseable', 'crash.cif': 'unparseable', 'noatoms.cif': 'no atom sites'}
    for name, text in cases.items():
        p = tmp_path / name
        if text is not None: p.write_text(text)
        with pytest.raises(StructureError) as e: read_cif(p)
        assert str(p) in str(e.value) and reasons[name] in str(e.value)

def test_thpp_and_sucrose_reference_setting():
    t, s = thpp(), sucrose()
    assert str(t.xs.space_group_info()) == 'P 1 21/c 1' and t.space_group_in_file == 'P 1 21/n 1'
    assert t.xs.unit_cell().parameters()[4] >= 90 and s.n_h == 22

def test_cod_structures_parse(cod):
    ok, skipped = read_cif_dir(cod)
    allg, failed = read_cif_dir(cod, groups='all')
    copies = [f for f, why in failed if why.startswith('the same bytes as ')]
    assert len(copies) == len(failed) and len({Path(c.path).name for c in allg}) + len(copies) == len(list(Path(cod).glob('*.cif')))
    assert len(ok) >= 40 and all(c.xs.unit_cell().parameters()[4] >= 90 for c in ok)
    assert all('not monoclinic' in why or why.startswith('the same bytes as ') for _, why in skipped)

def test_cif_dir_reads_a_copy_once_and_every_block(tmp_path):
    "A byte copy of a file is skipped, saying so; blocks='all' reads the second block of a two-block file too."
    import shutil
    from cctbx import crystal, xray
    from cctbx.array_family import flex
    shutil.copy(cctbx_test_data('thpp.cif'), tmp_path / 'a.cif')
    shutil.copy(cctbx_test_data('thpp.cif'), tmp_path / 'b.cif')
    with open(tmp_path / 'c.cif', 'w') as f:
        for name, x in (('one', 0.1), ('two', 0.3)):
            xray.structure(crystal_symmetry=crystal.symmetry((5, 6, 7, 90, 100, 90), 'P 1 21/c 1'),
                           scatterers=flex.xray_scatterer([xray.scatterer('C1', (x, 0.2, 0.3), u=0.03)])).as_cif_simple(out=f, data_name=name)
    first, skipped = read_cif_dir(tmp_path)
    every, _ = read_cif_dir(tmp_path, blocks='all')
    assert [c.name for c in first] == ['a:global', 'c:one'] and skipped == [('b.cif', 'the same bytes as a.cif (read once)')]
    assert [c.name for c in every] == ['a:global', 'c:one', 'c:two']
    with pytest.raises(ValueError, match="blocks='each'"): read_cif_dir(tmp_path, blocks='each')

def test_figures_cli_quick(tmp_path):
    from xrdphase.cli import main
    assert main(['figures', '--quick', '--out', str(tmp_path), '--only', '1.4', '2.3', '2.5', '1.5']) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ['fig1_4_e_distributions.csv', 'fig1_4_e_distributions.png', 'fig1_5_patterson.json', 'fig1_5_patterson.png',
                     'fig2_3_intensity_vs_amplitude.csv', 'fig2_3_intensity_vs_amplitude.png', 'fig2_5_f_vs_e.csv', 'fig2_5_f_vs_e.png']
    assert (tmp_path / 'fig1_4_e_distributions.png').read_bytes()[:4] == b'\x89PNG'
    head = (tmp_path / 'fig1_4_e_distributions.csv').read_text().splitlines()
    assert head[0].startswith('e_mid,') and len(head) == 41

def test_xrdphase_help_lists_figures():
    r = subprocess.run([str(Path(sys.executable).parent / 'xrdphase'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'figures' in r.stdout

def test_readme_is_rendered_from_index_notebook(tmp_path):
    subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'markdown', str(ROOT / 'nbs' / 'index.ipynb'),
                    '--output-dir', str(tmp_path), '--output', 'README'], check=True, capture_output=True)
    assert (tmp_path / 'README.md').read_text() == (ROOT / 'README.md').read_text(), \
        'README.md is stale: jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README'

def test_settings_pins():
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    c = cfg['DEFAULT']
    assert c['tst_flags'].split() == ['slow'] and 'nbdev==2.4.14' in c['dev_requirements']
    assert 'execnb<0.2' in c['dev_requirements'] and 'fastcore<1.13' in c['dev_requirements']
    assert 'xrdphase=xrdphase.cli:main' in c['console_scripts']

@pytest.mark.parametrize('env', [{}, {'XRDPHASE_NO_PRELOAD': '1'}])
def test_torch_threads_compute_correctly_after_cctbx(env, run_python):
    code = ('import xrdphase, torch; torch.set_num_threads(2); g = torch.Generator().manual_seed(0); '
            'q = torch.randn(4, 2, 700, 12, generator=g); k = torch.randn(4, 2, 700, 12, generator=g); '
            'print(float(((q @ k.transpose(-2, -1)) - (q.double() @ k.double().transpose(-2, -1)).float()).abs().max()))')
    r = run_python(code, **env)
    assert r.returncode == 0 and float(r.stdout) < 1e-4, (r.stdout, r.stderr[-300:])
