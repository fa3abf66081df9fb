"""Molecules (import order with RDKit, SMILES sources, the MOSES download pinned by its hashes, the molecule split),
packing geometry checked by cctbx, and the molecular structure source (determinism, refusals, CLI)."""
import xrdphase  # noqa: F401  (first)
import io, gzip, json, os, zipfile
from dataclasses import asdict
from pathlib import Path
import numpy as np
import pytest
from xrdphase import molecules as Mo, packing as P, molecular as M
from xrdphase.core import sha256_file

# --- import order: never a segmentation fault ---------------------------------------------------------------

def test_rdkit_first_without_preload_is_a_clear_import_error(run_python):
    r = run_python('import rdkit; import xrdphase', XRDPHASE_NO_PRELOAD='1')
    assert r.returncode == 1, (r.returncode, r.stderr[-400:])          # -11 would be the segfault
    assert 'ImportError' in r.stderr and 'before cctbx' in r.stderr and 'rdkit' in r.stderr

def test_rdkit_first_with_preload_works_or_explains(run_python):
    r = run_python("import rdkit; import xrdphase.molecules as m; print(m.molecule_from_smiles('CCO').formula)")
    assert r.returncode >= 0, f'killed by signal {-r.returncode}: {r.stderr[-400:]}'
    assert (r.returncode == 0 and r.stdout.strip() == 'C2H6O') or (r.returncode == 1 and Mo.RDKIT_ORDER_MESSAGE[:40] in r.stderr), r.stderr[-400:]

def test_rdkit_chem_first_with_preload_never_segfaults(run_python):
    # Fails (signal 11) while site-packages/_xrdphase_cctbx_first.py loads cctbx's libstdc++ with RTLD_LOCAL: then even
    # `from rdkit import Chem` alone crashes in the venv. Loading it with RTLD_GLOBAL (as cctbx's own boost_adaptbx does)
    # fixes it; this module then refuses the late RDKit import with a clear ImportError instead.
    r = run_python("from rdkit import Chem; import xrdphase.molecules as m; print(m.molecule_from_smiles('CCO').formula)")
    assert r.returncode >= 0, f'killed by signal {-r.returncode} (see the comment above): {r.stderr[-300:]}'
    assert (r.returncode == 0 and r.stdout.strip() == 'C2H6O') or (r.returncode == 1 and Mo.RDKIT_ORDER_MESSAGE[:40] in r.stderr), r.stderr[-400:]

def test_xrdphase_first_then_rdkit_works(run_python):
    r = run_python("import xrdphase.crystal, rdkit.Chem.AllChem as A, xrdphase.molecules as m; print(m.molecule_from_smiles('c1ccccc1').formula)")
    assert r.returncode == 0 and r.stdout.strip() == 'C6H6', r.stderr[-400:]

# --- SMILES sources -------------------------------------------------------------------------------------------

def _wheel(path, member=Mo.MOSES_MEMBER, text='SMILES,SPLIT\nCCO,train\nc1ccccc1,train\nCC(=O)O,train\n'):
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('moses/__init__.py', '')
        if member: z.writestr(member, gzip.compress(text.encode()))
    return path

def test_moses_wheel_reader(tmp_path):
    w = _wheel(tmp_path / 'molsets-0.3.1-py3-none-any.whl')
    assert Mo.moses_smiles_from_wheel(w) == ['CCO', 'c1ccccc1', 'CC(=O)O']
    out = Mo.download_moses(tmp_path, wheel_sha256=sha256_file(w), smi_sha256=None)      # the wheel is already there: no network
    assert out.name == 'moses_train.smi' and out.read_text().split() == ['CCO', 'c1ccccc1', 'CC(=O)O']
    assert not list(tmp_path.glob('.moses_train*'))        # atomic write left no temporary file
    with pytest.raises(Mo.MolecularError, match='no member'): Mo.moses_smiles_from_wheel(_wheel(tmp_path / 'x.whl', member=None))
    (tmp_path / 'bad.whl').write_bytes(b'not a zip')
    with pytest.raises(Mo.MolecularError, match='bad.whl'): Mo.moses_smiles_from_wheel(tmp_path / 'bad.whl')

def test_moses_download_is_pinned_by_sha256(tmp_path):
    w = _wheel(tmp_path / 'molsets-0.3.1-py3-none-any.whl')
    with pytest.raises(Mo.MolecularError) as e: Mo.download_moses(tmp_path)      # not the published wheel: refused, nothing written
    msg = str(e.value)
    assert str(w) in msg and sha256_file(w) in msg and Mo.MOSES_WHEEL_SHA256 in msg and 'delete it' in msg
    assert not (tmp_path / 'moses_train.smi').exists()
    Mo.download_moses(tmp_path, wheel_sha256=sha256_file(w), smi_sha256=None)
    with pytest.raises(Mo.MolecularError, match=Mo.MOSES_SMI_SHA256): Mo.download_moses(tmp_path)   # an existing file is checked too
    again = tmp_path / 'again'
    again.mkdir()
    _wheel(again / w.name)
    with pytest.raises(Mo.MolecularError, match='nothing written'): Mo.download_moses(again, wheel_sha256=None)   # the SMILES must hash right
    assert not (again / 'moses_train.smi').exists()

def test_moses_cache_is_the_published_set():
    cache = Path.home() / '.cache' / 'xrdphase' / 'moses'
    if not (cache / 'moses_train.smi').is_file(): pytest.skip(f'no MOSES cache in {cache} (xrdphase molecular moses makes it)')
    assert Mo.download_moses(cache) == cache / 'moses_train.smi' and sha256_file(cache / 'moses_train.smi') == Mo.MOSES_SMI_SHA256
    wheels = sorted(cache.glob('molsets-0.3.1-*.whl'))
    if wheels: assert sha256_file(wheels[0]) == Mo.MOSES_WHEEL_SHA256

@pytest.mark.skipif(not os.environ.get('XRDPHASE_NETWORK'), reason='real MOSES download (51.6 MB from PyPI): set XRDPHASE_NETWORK=1')
def test_moses_real_download(tmp_path):
    smi = Mo.download_moses(tmp_path).read_text().split()
    assert len(smi) == 1584663 and smi[0] == 'CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1'

def test_smiles_files_and_spec_pinning(tmp_path):
    p = tmp_path / 'm.smi'
    p.write_text('# comment\nCCO ethanol\n\nc1ccccc1\n')
    (tmp_path / 'm.csv.gz').write_bytes(gzip.compress(b'name,SMILES\na,CCN\n'))
    assert Mo.read_smiles(p) == ['CCO', 'c1ccccc1'] and Mo.read_smiles(tmp_path / 'm.csv.gz') == ['CCN']
    spec = M.MolecularSpec(smiles=str(p))
    assert spec.smiles_sha256 == sha256_file(p) and spec.smiles_list() == ['CCO', 'c1ccccc1']
    p.write_text('CCCC\n')
    with pytest.raises(Mo.MolecularError, match='changed since the spec was made'): M.MolecularSpec(**asdict(spec))
    with pytest.raises(Mo.MolecularError, match='no such SMILES file'): M.MolecularSpec(smiles=str(tmp_path / 'none.smi'))
    (tmp_path / 'empty.smi').write_text('# nothing\n')
    with pytest.raises(Mo.MolecularError, match='no SMILES'): Mo.read_smiles(tmp_path / 'empty.smi')

# --- molecules and bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize('smiles,reason', [('C1CC', 'unparsable SMILES'), ('c1cccc1', 'unparsable SMILES'), ('CCO.O', 'several fragments'),
                                           ('C[Fe]C', 'unsupported element'), ('C' * 70, 'too large')])
def test_bad_smiles_are_refused_with_reason(smiles, reason):
    with pytest.raises(Mo.MolecularError) as e: Mo.molecule_from_smiles(smiles)
    assert Mo.refusal_reason(e.value) == reason and repr(smiles)[:20] in str(e.value)

def test_check_smiles_counts_every_failure():
    res = Mo.check_smiles(['CCO', 'C1CC', 'C1CC', 'CCO.O', 'c1ccccc1'])
    assert res['n'] == 5 and res['ok'] == 2 and res['failed'] == {'unparsable SMILES': 2, 'several fragments': 1}

def test_molecule_is_seeded_and_chemical():
    a, b = Mo.molecule_from_smiles('CC(=O)Nc1ccc(O)cc1', 3), Mo.molecule_from_smiles('CC(=O)Nc1ccc(O)cc1', 3)
    assert np.array_equal(a.xyz, b.xyz) and a.formula == 'C8H9NO2' and len(a.bonds) == 20
    bl = a.bond_lengths()
    h = np.array(['H' in (a.elements[i], a.elements[j]) for i, j in a.bonds])
    assert np.all((bl[h] > 0.95) & (bl[h] < 1.12)) and np.all((bl[~h] > 1.18) & (bl[~h] < 1.52))

def test_spec_validation():
    for bad, match in [(dict(space_groups=('R-3',)), 'trigonal; the packer handles'), (dict(space_groups=('P4',)), 'tetragonal; the packer handles'),
                       (dict(u_iso=(0.06, 0.03)), 'u_iso'), (dict(contacts=(3.0, 2.5)), 'contacts'),
                       (dict(space_group_weights=(1, 1)), 'weights'), (dict(templates='/nonexistent'), 'templates')]:
        with pytest.raises(Mo.MolecularError, match=match): M.MolecularSpec(**bad)
    assert M.MolecularSpec(space_groups=('Pc', 'Cc', 'P21/m'), space_group_weights=None).space_groups == ('Pc', 'Cc', 'P21/m')

# --- packing: geometry checked by cctbx -----------------------------------------------------------------------

SPEC = M.MolecularSpec(smiles=('CC(=O)Oc1ccccc1C(=O)O', 'Cn1c(=O)c2c(ncn2C)n(C)c1=O', 'OC(=O)c1ccc(Cl)cc1', 'c1ccc2cc3ccccc3cc2c1'),
                       space_groups=('P21/c', 'P21', 'C2/c', 'C2'), space_group_weights=None)

@pytest.fixture(scope='module')
def made():
    return [M.molecular_structure_info(SPEC, s) for s in range(6)]

def test_packing_geometry(made):
    for xs, info in made:
        ct = P.intermolecular_contacts(xs)
        assert not ct['violations'], (info['source'], ct['violations'][:3])
        sh = ct['shortest']
        assert all(v is None or v >= lim - 1e-9 for v, lim in zip((sh['heavy_heavy'], sh['heavy_h'], sh['h_h']), (3.0, 2.5, 2.0)))
        assert P.bond_length_errors(xs, info['molecule']).max() < 1e-9          # the conformer is rigid in the crystal
        assert xs.scatterers().size() == info['n_atoms'] and xs.space_group().order_z() == info['z']
        assert not any(sc.multiplicity() != xs.space_group().order_z() for sc in xs.scatterers())   # Z' = 1, general positions
        assert 0.60 <= info['pc'] <= 0.80 and 0.55 < P.packing_coefficient(xs) < 0.82
        assert 1.0 < P.crystal_density(xs) < 2.0

def _fingerprint(xs) -> str:
    import hashlib
    v = np.concatenate([np.array(xs.sites_frac()).ravel(), xs.unit_cell().parameters(), xs.extract_u_iso_or_u_equiv().as_numpy_array()])
    return hashlib.sha256(np.round(v, 9).tobytes()).hexdigest()[:16]

def test_default_spec_gives_the_crystals_of_before():
    "The default spec (the committed data sets and benchmark): seeds 0 and 4 give the crystals recorded before the packer took other groups."
    assert {s: _fingerprint(M.molecular_structure(M.MolecularSpec(), s)) for s in (0, 4)} == {0: 'fe30e53f987ea3a3', 4: 'ffd5a6763ae8cd65'}

@pytest.mark.parametrize('group', ['P-1', 'P212121', 'Pbca', 'Pna21', 'P1'])
def test_packing_beyond_monoclinic(group):
    from cctbx import sgtbx, xray, crystal
    spec = M.MolecularSpec(smiles=SPEC.smiles, space_groups=(group,), space_group_weights=None)
    xs, info = M.molecular_structure_info(spec, 1)
    assert xs.space_group_info().type().number() == sgtbx.space_group_info(group).type().number()
    assert len(info['cell']) == 3 + P.CELL_ANGLES[xs.space_group().crystal_system().lower()]
    assert not P.intermolecular_contacts(xs)['violations'] and P.bond_length_errors(xs, info['molecule']).max() < 1e-9
    assert not any(sc.multiplicity() != xs.space_group().order_z() for sc in xs.scatterers()) and info['pc'] >= spec.min_packing
    cell = P.full_cell(info['cell'])                     # the same fractional sites in a 10 % smaller cell: cctbx sees clashes
    squeezed = xray.structure(crystal_symmetry=crystal.symmetry(tuple(x * 0.9 for x in cell[:3]) + cell[3:], info['space_group']), scatterers=xs.scatterers())
    assert P.intermolecular_contacts(squeezed)['violations']
    assert _fingerprint(M.molecular_structure(spec, 1)) == _fingerprint(xs)

def test_contact_check_catches_a_squeezed_cell(made):
    xs, info = made[0]
    cell = info['cell']
    from cctbx import xray, crystal                       # the same fractional sites in a 10 % smaller cell: cctbx sees clashes
    squeezed = xray.structure(crystal_symmetry=crystal.symmetry((cell[0] * 0.9, cell[1] * 0.9, cell[2] * 0.9, 90, cell[3], 90), info['space_group']),
                              scatterers=xs.scatterers())
    assert P.intermolecular_contacts(squeezed)['violations'] and not P.intermolecular_contacts(xs)['violations']

def test_displacement_parameters(made):
    for xs, info in made:
        u = np.array([sc.u_iso for sc in xs.scatterers()])
        h = ~info['molecule'].heavy
        assert 0.03 * 0.85 - 1e-12 <= u[~h].min() and u[~h].max() <= 0.06 * 1.15 + 1e-12
        for i, j in info['molecule'].bonds:                                   # riding H: 1.2 or 1.5 x the parent
            if h[i] != h[j]:
                hi, p = (i, j) if h[i] else (j, i)
                assert round(u[hi] / u[p], 9) in (1.2, 1.5)

def test_deterministic_across_processes(made, run_python):
    xs, _ = made[2]
    code = ("import xrdphase.molecular as M; xs = M.molecular_structure(M.MolecularSpec(smiles=%r, space_groups=%r, space_group_weights=None), 2); "
            "print(repr(list(xs.sites_frac())[-1]), xs.unit_cell().parameters(), xs.scatterers()[0].u_iso)") % (SPEC.smiles, SPEC.space_groups)
    r = run_python(code)
    assert r.stdout.strip() == f"{list(xs.sites_frac())[-1]!r} {xs.unit_cell().parameters()} {xs.scatterers()[0].u_iso}", r.stderr[-300:]
    assert M.molecular_structure(SPEC, 3).unit_cell().parameters() != xs.unit_cell().parameters()

def test_rejections_are_counted_and_reported():
    xs, info = M.molecular_structure_info(M.MolecularSpec(smiles=('C1CC', 'CCO.O', 'c1ccc2ccccc2c1')), 11)
    assert info['source'] == 'c1ccc2ccccc2c1' and all(r['reason'] in ('unparsable SMILES', 'several fragments') for r in info['rejected'])
    with pytest.raises(Mo.MolecularError, match=r"no crystal after 3 tries: \{'unparsable SMILES': 3\}"):
        M.molecular_structure(M.MolecularSpec(smiles=('C1CC',), max_tries=3), 0)
    with pytest.raises(Mo.MolecularError, match='too large for the cell'):
        M.molecular_structure(M.MolecularSpec(smiles=('c1ccc2cc3ccccc3cc2c1',), max_cell=9.0, max_tries=2), 0)

# --- templates from CIF, never from the evaluation set ---------------------------------------------------------

def test_cif_templates_and_evaluation_guard(tmp_path, cod):
    from xrdphase.crystal import sucrose
    mols, skipped = Mo.cif_molecules(sucrose())
    assert len(mols) == 1 and mols[0].formula == 'C12H22O11' and not skipped
    with pytest.raises(Mo.MolecularError, match='is the evaluation set'): Mo.cif_templates(cod)
    src = sorted(cod.glob('*.cif'))[0]
    (tmp_path / 'copy.cif').write_bytes(src.read_bytes())
    with pytest.raises(Mo.MolecularError, match='copy.cif'): Mo.cif_templates(tmp_path)
    (tmp_path / 'copy.cif').unlink()
    with open(tmp_path / 'sucrose.cif', 'w') as f: sucrose().xs.as_cif_simple(out=f, data_name='sucrose')
    m2, _ = Mo.cif_templates(tmp_path)
    assert [m.formula for m in m2] == ['C12H22O11']

# --- CLI -------------------------------------------------------------------------------------------------------

def test_cli_pack_and_check(tmp_path):
    import argparse, contextlib
    ap = argparse.ArgumentParser(prog='xrdphase')
    M.add_cli(ap.add_subparsers(dest='cmd'))
    (tmp_path / 's.smi').write_text('CC(=O)Nc1ccc(O)cc1\nC1CC\n')
    buf = io.StringIO()
    a = ap.parse_args(['molecular', 'pack', '--smiles', str(tmp_path / 's.smi'), '--n', '2', '--out', str(tmp_path / 'cif')])
    with contextlib.redirect_stdout(buf): assert a.func(a) == 0
    res = json.loads(buf.getvalue())
    assert res['made'] == 2 and res['total_violations'] == 0 and res['molecules_per_s'] > 0
    assert len(list((tmp_path / 'cif').glob('*.cif'))) == 2
    buf = io.StringIO()
    a = ap.parse_args(['molecular', 'check', '--smiles', str(tmp_path / 's.smi')])
    with contextlib.redirect_stdout(buf): assert a.func(a) == 0
    assert json.loads(buf.getvalue())['failed'] == {'unparsable SMILES': 1}

# --- evaluation molecules are never generated ---------------------------------------------------------------

def test_evaluation_molecules_are_never_drawn(cod):
    names = dict(Mo.BUILTIN_SMILES)
    for n in ('paracetamol', 'sucrose'):                     # COD 7105573 and an evaluation structure
        assert Mo.molecule_split(names[n]) == 'evaluation', n
    ev = Mo.evaluation_keys()
    bad = [s for _, s in Mo.BUILTIN_SMILES if Mo.skeleton_key(s) in ev['keys']]
    assert len(bad) >= 2
    permitted = [names[n] for n in ('aspirin', 'naphthalene', 'caffeine', 'benzamide')]
    for split in Mo.MOLECULE_SPLITS:
        spec = M.MolecularSpec(smiles=tuple(bad + permitted), split=split)
        mine = {s for s in permitted if Mo.molecule_split(s) == split}
        if not mine:                                         # nothing of this split to draw: every draw is refused, naming the split
            with pytest.raises(Mo.MolecularError, match='no molecule of split'): M.molecular_structure_info(spec, 100)
            continue
        sources = [M.molecular_structure_info(spec, 100 + i)[1]['source'] for i in range(4)]
        assert set(sources) <= mine, (split, sources)        # only permitted molecules of the split, never an evaluation one
    with pytest.raises(Mo.MolecularError, match='split'): M.MolecularSpec(split='evaluation')

def test_skeleton_key_is_form_independent():
    assert Mo.skeleton_key('CC(=O)Nc1ccc(O)cc1') == Mo.skeleton_key('CC(O)=Nc1ccc(O)cc1')
    assert Mo.skeleton_key('OC(=O)c1ccccc1') == Mo.skeleton_key('[O-]C(=O)c1ccccc1') != Mo.skeleton_key('OC(=O)c1ccccn1')


def test_without_cod_the_split_and_the_figures_say_so(tmp_path, run_python):
    "Where $XRDPHASE_COD names a folder without CIFs (as a clone without ../shared): drawing by split stops with core's one line, "
    "and fig_mol_density says on stdout and on the figure that its COD series is absent."
    code = ("import xrdphase, matplotlib; matplotlib.use('Agg')\n"
            "import xrdphase.molecular as M\n"
            "from xrdphase.core import MissingData\n"
            "try: M.molecular_structure(M.MolecularSpec(split='test'), 0)\n"
            "except MissingData as e: print('error:', e)\n"
            "f, d = M.fig_mol_density(quick=True)\n"
            "print('on the figure:', f.texts[-1].get_text(), d['summary']['n_cod'])")
    r = run_python(code, XRDPHASE_COD=str(tmp_path))
    assert r.returncode == 0, r.stderr[-600:]
    lines = r.stdout.splitlines()
    why = f'skipped without COD ($XRDPHASE_COD={tmp_path} holds no .cif file)'
    assert lines[0].startswith(f'error: {why}: evaluation_keys') and 'place the shared folder' in lines[0], lines
    assert f'{why}: the COD monoclinic series of figure fig_mol_density;' in r.stdout, r.stdout
    assert lines[-1] == f'on the figure: the COD monoclinic series absent: no COD structures here ($XRDPHASE_COD={tmp_path} holds no .cif file) 0', lines
