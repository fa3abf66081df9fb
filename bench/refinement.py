"""Refinement benchmark (issue 21): solve, assign elements, refine; beside refining the true model with the same procedure and
data, two wrong models: the true molecule turned by a random rotation and moved by a random vector (`refinement.misplaced`,
wrong in every group, P1 included, where a shift is only an origin shift; refined without H; column wrong_how says which one) and the peaks
of a random-phase map. Prints a table; writes JSON under runs/.

    python bench/refinement.py                       # thpp (measured), sucrose, four COD structures (calculated), d_min 0.8 A
    python bench/refinement.py --cod all --d-min 1.0 # every monoclinic COD structure of ../shared/cod
    python bench/refinement.py --measured            # the measured CIFs of tests/data: solved from the full data, refined; beside the
                                                     # deposited model refined the same way and the deposited R1 (runs/refinement_measured.json)
"""
import xrdphase  # noqa: F401
import argparse, json, time
from pathlib import Path
import numpy as np
from xrdphase.benchmark import Case, load_case, case_seed, real_cases
from xrdphase.crystal import unit_cell_content
from xrdphase.phasing import solve, peak_search, fft_map
from cctbx.array_family import flex
from xrdphase.success import non_h_atoms, evaluate
from xrdphase.refinement import (RefinementError, asu_content, assign_elements, observations, refine, solution_element_accuracy,
                                 bond_check, misplaced)

DEFAULT_COD = ('0000102.cif', '1100651.cif', '1512116.cif', '1512297.cif')


def unique_sites(xs):
    "The true model with atoms that share a site (SHELX EXYZ disorder) kept once."
    keep, seen = [], []
    for i, s in enumerate(xs.sites_cart()):
        if all(np.linalg.norm(np.subtract(s, t)) > 0.1 for t in seen): keep.append(i); seen.append(s)
    from cctbx.array_family import flex
    return xs.select(flex.size_t(keep))


def random_phase_r1(rec, fo_sq, asu, n_peaks, seed):
    "R1 after refining the peaks of a map with random phases, elements assigned as for a solution ('diverged' if it does not refine)."
    rng = np.random.default_rng(seed)
    f = rec.miller_array('f')
    sites, heights = peak_search(fft_map(f.phase_transfer(flex.double(rng.uniform(0, 360, f.size())), deg=True)), n_peaks)
    try: return round(refine(assign_elements(sites, heights, asu, fo_sq.crystal_symmetry()), fo_sq, asu).r1_gt, 4)
    except RefinementError: return 'diverged'


def run_case(case, d_min, seed=0):
    t0 = time.process_time()
    xs_ref, rec = load_case(case, d_min)
    content = rec.meta.get('content') or unit_cell_content(xs_ref)
    fo_sq = observations(rec)
    sol = solve(rec, content=content, seed=case_seed(case, seed))
    row = dict(name=case.name, n_obs=fo_sq.size(), d_min=round(float(rec.d.min()), 3), solved_80=bool(evaluate(sol, xs_ref)['solved']))
    asu = None
    try:
        asu = asu_content(content, fo_sq.crystal_symmetry())
        if sol.chosen < 0: raise RefinementError('no solution to refine (no candidate passed the solver)')
        atoms = assign_elements(sol.peaks, sol.candidates[sol.chosen]['heights'], asu, fo_sq.crystal_symmetry())
        r = refine(atoms, fo_sq, asu)
        acc = solution_element_accuracy(sol, r.xs, xs_ref)
        bc = bond_check(r.xs)
        row.update(elements=round(acc['fraction'], 3), r1=round(r.r1_gt, 4), wr2=round(r.wr2, 4), goof=round(r.goof, 3),
                   peak=round(r.peak, 2), hole=round(r.hole, 2), bonds_ok=f"{bc['ok']}/{bc['checked']}")
    except RefinementError as e: row.update(r1=None, error=str(e)[:120])
    t = unique_sites(non_h_atoms(xs_ref))
    row['r1_true'] = round(refine(t, fo_sq).r1_gt, 4)
    wrong, row['wrong_how'] = misplaced(t, seed=case_seed(case, seed))
    try: row['r1_wrong'] = round(refine(wrong, fo_sq, hydrogens=False).r1_gt, 4)
    except RefinementError: row['r1_wrong'] = 'diverged'
    row['r1_random'] = random_phase_r1(rec, fo_sq, asu, sol.n_peaks, seed) if asu is not None else None   # the formula does not fit the cell
    row['cpu_s'] = round(time.process_time() - t0, 1)
    return row


MEASURED = sorted((Path(__file__).resolve().parents[1] / 'tests' / 'data').glob('*.cif.gz'))


def deposited(path, tag:str) -> float:
    "A number the CIF was deposited with, e.g. `_refine_ls_R_factor_gt`."
    import gzip, re
    return float(re.search(rf'^{re.escape(tag)}\s+([\d.]+)', gzip.open(path, 'rt').read(), re.M).group(1))


def run_measured(path, out_dir):
    "One measured data set: `xrdphase solve --data PATH --refine` (full data), then the deposited model (major part, non-H) refined by `refine` on the same merged data."
    import contextlib, io
    from xrdphase.cli import main as cli
    from xrdphase.measured import read_measured
    name = Path(path).name.split('.')[0]
    t0 = time.process_time()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): rc = cli(['solve', '--data', str(path), '--refine', '--out', str(Path(out_dir) / name), '--json'])
    r = json.loads(buf.getvalue()) if rc == 0 else {}
    ref = r.get('refinement') or {}
    row = dict(name=name, group=r.get('space_group'), n_obs=ref.get('n_all'), solved_80=r.get('solved'), cpu_solve_refine=round(time.process_time() - t0, 1))
    if ref: row.update(elements=round(ref['element_accuracy']['fraction'], 3), r1=ref['r1_gt'], wr2=ref['wr2'], goof=ref['goof'], max_shift=ref['max_shift_su'],
                       bonds_ok=f"{ref['bonds']['ok']}/{ref['bonds']['checked']}")
    else: row.update(r1=None, error=f'solve exited {rc}' if rc else 'no candidate to refine')
    m, t1 = read_measured(path), time.process_time()
    try:
        dep = refine(unique_sites(m.reference), m.merged()[0])
        row.update(r1_deposited_model=round(dep.r1_gt, 4), wr2_deposited_model=round(dep.wr2, 4))
    except RefinementError as e: row.update(r1_deposited_model=None, error_deposited_model=str(e)[:120])
    row.update(cpu_deposited_model=round(time.process_time() - t1, 1), r1_deposited=deposited(path, '_refine_ls_R_factor_gt'),
               wr2_deposited=deposited(path, '_refine_ls_wR_factor_ref'), goof_deposited=deposited(path, '_refine_ls_goodness_of_fit_ref'))
    return row


def measured_table(out):
    cols = ('name', 'group', 'n_obs', 'solved_80', 'elements', 'r1', 'wr2', 'goof', 'max_shift', 'bonds_ok', 'r1_deposited_model', 'r1_deposited',
            'wr2_deposited', 'goof_deposited', 'cpu_solve_refine', 'cpu_deposited_model')
    print(' | '.join(cols))
    rows = []
    for path in MEASURED:
        rows.append(run_measured(path, Path(out).with_suffix('')))
        print(' | '.join(str(rows[-1].get(k, '')) for k in cols) + ''.join(f"  ({rows[-1][k]})" for k in ('error', 'error_deposited_model') if k in rows[-1]), flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--cod', nargs='*', default=list(DEFAULT_COD), help="COD file names in ../shared/cod, or 'all'")
    p.add_argument('--d-min', type=float, default=0.8)
    p.add_argument('--out', default=None, help='JSON of the rows (default runs/refinement.json, with --measured runs/refinement_measured.json)')
    p.add_argument('--measured', action='store_true', help='the measured CIFs of tests/data instead of calculated data')
    a = p.parse_args(argv)
    if a.measured:
        out = Path(a.out or 'runs/refinement_measured.json')
        rows = measured_table(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(dict(command='python bench/refinement.py ' + ' '.join(argv or []), rows=rows), indent=1))
        return
    a.out = a.out or 'runs/refinement.json'
    if a.cod == ['all']: cases = [c for c in real_cases() if c.source[0] == 'cif']
    else:
        from xrdphase.core import cod_dir
        cases = [Case('real', n, ('cif', str(cod_dir() / n))) for n in a.cod]
    cases += [Case('real', 'sucrose', ('sucrose',)), Case('real', 'thpp (measured)', ('thpp-measured',))]
    rows = []
    cols = ('name', 'n_obs', 'd_min', 'solved_80', 'elements', 'r1', 'r1_true', 'r1_wrong', 'r1_random', 'wr2', 'goof', 'bonds_ok', 'peak', 'hole', 'cpu_s', 'wrong_how')
    print(' | '.join(cols))
    for c in cases:
        rows.append(run_case(c, a.d_min))
        print(' | '.join(str(rows[-1].get(k, '')) for k in cols) + (f"  ({rows[-1]['error']})" if 'error' in rows[-1] else ''), flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(dict(command='python bench/refinement.py ' + ' '.join(argv or []), d_min=a.d_min, rows=rows), indent=1))


if __name__ == '__main__':
    import sys
    main(sys.argv[1:])
