"""Refinement benchmark (issue 21): solve, assign elements, refine; beside refining the true model with the same procedure and
data, two wrong models: the true molecule turned by a random rotation and moved by a random vector (`refinement.misplaced`,
wrong in every group, P1 included, where a shift is only an origin shift; refined without H; column wrong_how says which one) and the peaks
of a random-phase map. Then how often "R1 below X" agrees with the reference's verdict (solved_80, phased), failed solves included.
Rows go to OUT/rows.jsonl as they finish (a rerun skips the cached ones); the summary to OUT/summary.json.

    python bench/refinement.py                       # thpp (measured), sucrose, four COD structures (calculated), d_min 0.8 A
    python bench/refinement.py --cod monoclinic --d-min 1.0                 # the monoclinic COD structures (and sucrose, thpp)
    python bench/refinement.py --cod all --d-low 1.5 --extend float+recycle # data cut at 1.5 A (the user's: refined against), extended
                                                     # to --d-min and solved as bench/phasing.py does (its seeds, --solver fixed|smtbx)
    python bench/refinement.py --measured            # the measured CIFs of tests/data: solved from the full data, refined; beside the
                                                     # deposited model refined the same way and the deposited R1 (OUT/measured.json)
"""
import xrdphase  # noqa: F401
import argparse, json, sys, time
from multiprocessing import Pool
from pathlib import Path
import numpy as np
from xrdphase import benchmark as B
from xrdphase.benchmark import Case, Condition, load_case, case_seed, condition_solution, wilson_interval, read_rows
from xrdphase.core import atomic_write_text, cod_dir
from xrdphase.crystal import unit_cell_content, StructureError
from xrdphase.extension import METHODS
from xrdphase.phasing import peak_search, fft_map
from cctbx.array_family import flex
from xrdphase.success import non_h_atoms, evaluate
from xrdphase.refinement import (RefinementError, asu_content, assign_elements, solution_peaks, observations, refine, solution_element_accuracy,
                                 bond_check, misplaced)

DEFAULT_COD = ('0000102.cif', '1100651.cif', '1512116.cif', '1512297.cif')
VERSION = 8                      # bump when a row's fields or how they are computed change: cached rows of other versions are not reused
THRESHOLDS = (0.10, 0.15, 0.20, 0.25, 0.30)   # every X is shown; none is chosen on these structures


def unique_sites(xs):
    "The true model with atoms that share a site (SHELX EXYZ disorder) kept once."
    keep, seen = [], []
    for i, s in enumerate(xs.sites_cart()):
        if all(np.linalg.norm(np.subtract(s, t)) > 0.1 for t in seen): keep.append(i); seen.append(s)
    return xs.select(flex.size_t(keep))


def random_phase_r1(rec, fo_sq, asu, n_peaks, seed):
    "R1 after refining the peaks of `rec`'s map with random phases, elements assigned as for a solution ('diverged' if it does not refine)."
    rng = np.random.default_rng(seed)
    f = rec.miller_array('f')
    sites, heights = peak_search(fft_map(f.phase_transfer(flex.double(rng.uniform(0, 360, f.size())), deg=True)), n_peaks)
    try: return round(refine(assign_elements(sites, heights, asu, fo_sq.crystal_symmetry()), fo_sq, asu).r1_gt, 4)
    except RefinementError as e: return failed(e)


def failed(e:RefinementError) -> str:
    "What an R1 column holds when its model does not refine: 'diverged' (a wrong model, or the true one at low resolution), else 'failed: why'."
    if 'diverged' in str(e): return 'diverged'
    return 'failed: exact fit (χ² below zero by round-off)' if 'χ² below zero' in str(e) else f'failed: {str(e)[:60]}'


def condition(d_min:float, d_low:float|None=None, extend:str|None=None, solver:str='fixed') -> Condition:
    "How a case is solved, as bench/phasing.py names it: true data at d_min, or data cut at d_low (extended to d_min by `extend`)."
    kw, tag = B.SOLVERS[solver], '' if solver == 'smtbx' else B.FIXED_TAG
    if d_low is None: return Condition(f'true {d_min:.1f} Å{tag}', d_min, **kw)
    if extend is None: return Condition(f'{d_low:.1f} Å only{tag}', d_low, **kw)
    return Condition(f'{extend} {d_low:.1f}→{d_min:.1f} Å{tag}', d_min, d_low, extend, **kw)


REF_DIR = Path(__file__).resolve().parents[1] / 'reference' / 'refinement'


def reference_name(cod:list, cond:Condition) -> str:
    "The committed summary's file name: the --cod selection and the condition, e.g. 'all_true_1.0.json'."
    import re
    which = cod[0] if cod in (['all'], ['monoclinic']) else f"{len(cod)}_files"
    return re.sub(r'[^A-Za-z0-9.+-]+', '_', f"{which} {cond.name.replace(B.FIXED_TAG, '')}").strip('_') + '.json'


def case_key(case:Case, cond:Condition, seed:int=0, max_runs:int=4) -> str:
    "What a cached row was computed from: this bench's version and the phasing benchmark's key of (case, condition)."
    return f"refine-v{VERSION}|{B.case_key(case, cond, seed, max_runs)}"


def run_case(case:Case, cond:Condition, seed:int=0, max_runs:int=4) -> dict:
    "Solve as the phasing benchmark does, judge by the reference, refine against the user's data (cut at d_low); the true, misplaced and random-phase models beside."
    t0 = time.process_time()
    xs_ref, rec = load_case(case, cond.d)
    content = rec.meta.get('content') or unit_cell_content(xs_ref)
    user = rec.cut(cond.d_low) if cond.d_low else rec.cut(max(cond.d, rec.d_min))   # the data the user gave
    fo_sq = observations(user)
    row = dict(name=case.name, condition=cond.name, n_obs=fo_sq.size(), d_min=round(float(user.d.min()), 3), r1=None)
    asu = None
    try: sol, extra = condition_solution(cond, rec, xs_ref, case_seed(case, seed), max_runs)
    except (ValueError, RuntimeError) as e:      # as the phasing benchmark counts it: a failed solve
        sol = None
        row.update(solved_80=False, phased=False, matched=0.0, error=f'solve: {type(e).__name__}: {e}'[:160])
    if sol is not None:
        ev = evaluate(sol, xs_ref)
        row.update(solved_80=bool(ev['solved']), phased=bool(ev['phased']), matched=round(ev['matched_fraction'], 3),
                   phase_error=None if ev['phase_error'] is None else round(ev['phase_error'], 1), cpu_solve=round(sol.seconds, 1))
        try:
            asu = asu_content(content, fo_sq.crystal_symmetry())
            if sol.chosen < 0: raise RefinementError('no solution to refine (no candidate passed the solver)')
            atoms = assign_elements(*solution_peaks(sol, asu), asu, fo_sq.crystal_symmetry())
            r = refine(atoms, fo_sq, asu)
            acc, bc = solution_element_accuracy(sol, r.xs, xs_ref), bond_check(r.xs)
            row.update(elements=round(acc['fraction'], 3), elements_right=acc['right'], n_ref=acc['n_ref'], r1=round(r.r1_gt, 4), wr2=round(r.wr2, 4), goof=round(r.goof, 3),
                       peak=round(r.peak, 2), hole=round(r.hole, 2), bonds_ok=f"{bc['ok']}/{bc['checked']}")
        except RefinementError as e: row.update(error=f'refine: {type(e).__name__}: {e}'[:160])
    t = unique_sites(non_h_atoms(xs_ref))
    row['partial'] = sum(sc.occupancy < 0.99 for sc in t.scatterers())    # reference sites of partial occupancy (disorder): the kit models none
    try: row['r1_true'] = round(refine(t, fo_sq).r1_gt, 4)
    except RefinementError as e: row['r1_true'] = failed(e)      # the true model, refined by the same procedure on the same data, can diverge too
    wrong, row['wrong_how'] = misplaced(t, seed=case_seed(case, seed))
    try: row['r1_wrong'] = round(refine(wrong, fo_sq, hydrogens=False).r1_gt, 4)
    except RefinementError as e: row['r1_wrong'] = failed(e)
    row['r1_random'] = None if asu is None else random_phase_r1(sol.rec, fo_sq, asu, sol.n_peaks, seed)   # the data the solver phased, random phases; None: no solve, or the formula does not fit the cell
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


def agreement(rows, truth:str='solved_80', thresholds=THRESHOLDS) -> list:
    "For each X: the 2x2 counts of (R1 < X) against the reference's `truth`, agreement k/n with its 95 % Wilson interval; a row without R1 (no candidate, refinement failed) is 'not below X'. Beside: wrong models (misplaced, random phases) that refine below X."
    ok = [bool(r[truth]) for r in rows]
    below = lambda v, x: isinstance(v, (int, float)) and not isinstance(v, bool) and v < x
    out = []
    for x in thresholds:
        acc = [below(r.get('r1'), x) for r in rows]
        c = {(a, o): sum(1 for ai, oi in zip(acc, ok) if (ai, oi) == (a, o)) for a in (True, False) for o in (True, False)}
        k, n = c[True, True] + c[False, False], len(rows)
        out.append(dict(x=x, n=n, accept_solved=c[True, True], false_accepts=c[True, False], false_rejects=c[False, True], reject_failed=c[False, False],
                        agree=k, rate=None if n == 0 else round(k / n, 4), ci95=list(wilson_interval(k, n)),
                        wrong_below=sum(below(r.get('r1_wrong'), x) for r in rows), random_below=sum(below(r.get('r1_random'), x) for r in rows)))
    return out


def agreement_table(table:list, truth:str) -> str:
    "Markdown of `agreement`."
    head = (f"| X | R1<X & {truth} | R1<X, not {truth} (false accept) | R1≥X or none, {truth} (false reject) | R1≥X or none, not {truth} | agree k/n | rate [95 % Wilson] | misplaced R1<X | random R1<X |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    pct = lambda v: '–' if v is None else f"{100 * v:.0f}"
    return head + ''.join(f"| {t['x']:.2f} | {t['accept_solved']} | {t['false_accepts']} | {t['false_rejects']} | {t['reject_failed']} | {t['agree']}/{t['n']} | "
                          f"{pct(t['rate'])} % [{pct(t['ci95'][0])}, {pct(t['ci95'][1])}] | {t['wrong_below']} | {t['random_below']} |\n" for t in table)


def select_cases(cod:list) -> tuple:
    "(cases, left out) of --cod: 'all', 'monoclinic' (a group of ../shared/cod) or file names there (the cases of 'all' from them: same names, same seeds); sucrose and thpp always; left out: {file or file:block: why} from `B.real_group`. An unknown name is a one-line error."
    if cod in (['all'], ['monoclinic']):
        cases, left = B.real_group(groups=cod[0])
        return cases, dict(left)
    folder = cod_dir()
    missing = [n for n in cod if folder is None or not (folder / n).is_file()]
    if missing: raise SystemExit(f"bench/refinement.py: --cod {missing[0]}: no such file in {folder} (give file names there, 'all' or 'monoclinic')")
    files, stems = {str(folder / n) for n in cod}, {Path(n).stem for n in cod}
    cases, left = B.real_group(groups='all')
    return ([c for c in cases if c.source[0] == 'cif' and c.source[1] in files] + list(B.BUILTIN_REAL),
            {n: why for n, why in left if Path(n.split(':')[0]).stem in stems})     # n: 'FILE.cif' or 'STEM:BLOCK


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--cod', nargs='*', default=list(DEFAULT_COD), help="COD file names in ../shared/cod, or 'all', or 'monoclinic'")
    p.add_argument('--d-min', type=float, default=0.8, help='resolution solved at (extended to, with --extend), Å')
    p.add_argument('--d-low', type=float, default=None, help="the user's data: cut here, refined against; solved from it (extended with --extend)")
    p.add_argument('--extend', default=None, help=f"an extension method of xrdphase.extension ({', '.join(METHODS)}); needs --d-low")
    p.add_argument('--solver', default='fixed', choices=sorted(B.SOLVERS), help="charge-flipping settings of xrdphase.benchmark.SOLVERS (default fixed)")
    p.add_argument('--max-runs', type=int, default=4, help="runs per case where the solver does not fix them (as bench/phasing.py)")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='runs/bench_refinement', help='folder: rows.jsonl (the cache), summary.json (measured.json with --measured)')
    p.add_argument('--measured', action='store_true', help='the measured CIFs of tests/data instead of calculated data')
    p.add_argument('--update-reference', action='store_true', help='also write the summary to reference/refinement/ (SLUG.json, or measured.json with --measured)')
    p.add_argument('--workers', type=int, default=1, help='cases solved and refined at once (processes)')
    p.add_argument('--max-atoms', type=int, default=200, help='cases whose reference has more non-H atoms in its asymmetric unit are left out: named and counted in the summary (default 200)')
    a = p.parse_args(argv)
    if a.extend is not None and a.d_low is None: raise SystemExit("bench/refinement.py: --extend needs --d-low (the resolution of the user's data)")
    if a.d_low is not None and a.d_low <= a.d_min: raise SystemExit(f"bench/refinement.py: --d-low {a.d_low} must be coarser than --d-min {a.d_min}")
    family = (a.extend or '').split(':', 1)[0]
    if a.extend is not None and a.extend not in METHODS and not (family in ('model', 'set', 'hybrid') and ':' in a.extend):
        raise SystemExit(f"bench/refinement.py: --extend {a.extend}: not a method of xrdphase.extension ({', '.join(METHODS)})")
    return a


COLS = ('name', 'n_obs', 'd_min', 'solved_80', 'phased', 'matched', 'elements', 'r1', 'r1_true', 'r1_wrong', 'r1_random', 'wr2', 'goof', 'bonds_ok',
        'peak', 'hole', 'cpu_solve', 'cpu_s', 'wrong_how')


def case_atoms(case:Case, d:float) -> int:
    "Non-H atoms in the asymmetric unit of the case's reference structure, for --max-atoms."
    return non_h_atoms(load_case(case, d)[0]).scatterers().size()


def pooled_interval(k, n, level:float=0.95, draws:int=2000, seed:int=0) -> list:
    "Bootstrap interval of Σk / Σn, resampling the structures (the atoms of one structure are not independent)."
    if len(n) == 0: return [None, None]
    i = np.random.default_rng(seed).integers(0, len(n), (draws, len(n)))
    ratio = k[i].sum(1) / np.maximum(n[i].sum(1), 1)
    return [round(float(q), 4) for q in np.quantile(ratio, [(1 - level) / 2, (1 + level) / 2])]


def headline(rows) -> dict:
    """The issue's measures over the rows that refined: elements right for >= 90 % of atoms, R1 within 0.02 of the true model's (also split by
    references with and without partly occupied sites), bonds in range (k/n with 95 % Wilson intervals); atoms with the right element over all
    refined structures (bootstrap interval over structures)."""
    num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    ref = [r for r in rows if num(r.get('r1'))]
    el = sum(r['elements'] >= 0.9 for r in ref)
    both = [r for r in ref if num(r.get('r1_true'))]
    close = sum(r['r1'] - r['r1_true'] <= 0.02 for r in both)
    ok, checked = (sum(int(r['bonds_ok'].split('/')[i]) for r in ref) for i in (0, 1))
    right, n_ref = (np.array([r[k] for r in ref], float) for k in ('elements_right', 'n_ref'))
    split = {k: [r for r in both if (r['partial'] > 0) == (k == 'partial')] for k in ('ordered', 'partial')}
    split = {k: [sum(r['r1'] - r['r1_true'] <= 0.02 for r in v), len(v)] for k, v in split.items()}
    return dict(n=len(rows), refined=len(ref), elements_90=[el, len(ref), list(wilson_interval(el, len(ref)))],
                atoms_right=[int(right.sum()), int(n_ref.sum()), pooled_interval(right, n_ref)],
                r1_within_002=[close, len(both), list(wilson_interval(close, len(both)))], bonds_ok=[ok, checked, round(ok / max(checked, 1), 4)],
                r1_within_002_by_reference={k: [c, n, list(wilson_interval(c, n))] for k, (c, n) in split.items()})   # ordered: every site full


def _job(args) -> dict:
    "run_case in a worker: (case, condition, seed, max_runs, key) -> the row with its key."
    case, cond, seed, max_runs, key = args
    return dict(run_case(case, cond, seed, max_runs), key=key)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse(argv)
    out = Path(a.out)
    if a.measured:
        rows = measured_table(out / 'measured')
        text = json.dumps(dict(command='python bench/refinement.py ' + ' '.join(argv), version=VERSION, rows=rows), indent=1)
        for path in [out / 'measured.json'] + ([REF_DIR / 'measured.json'] if a.update_reference else []): atomic_write_text(path, text)
        return
    (cases, not_read), cond = select_cases(a.cod), condition(a.d_min, a.d_low, a.extend, a.solver)
    cache = out / 'rows.jsonl'
    done = read_rows(cache)
    atomic_write_text(cache, ''.join(json.dumps(r) + '\n' for r in done.values()))   # a torn last line (a killed run) dropped before appending
    print(f"condition: {cond.name} (refined against the data to {a.d_low or a.d_min} Å)\n" + ' | '.join(COLS))
    for n, why in not_read.items(): print(f"{n}: left out ({why})", flush=True)
    keys, left_out, todo = {c.name: case_key(c, cond, a.seed, a.max_runs) for c in cases}, dict(not_read), []
    for c in cases:
        if keys[c.name] in done: continue
        if (n := case_atoms(c, cond.d)) > a.max_atoms:
            left_out[c.name] = f"{n} non-H atoms > --max-atoms {a.max_atoms}"
            print(f"{c.name}: left out ({left_out[c.name]})", flush=True)
        else: todo.append((c, cond, a.seed, a.max_runs, keys[c.name]))
    pool = Pool(a.workers) if a.workers > 1 and todo else None   # one worker: in this process
    with open(cache, 'a') as fh:
        for row in (pool.imap_unordered(_job, todo) if pool else map(_job, todo)):    # rows in the cache as they finish
            done[row['key']] = row
            fh.write(json.dumps(row) + '\n')
            fh.flush()
            print(' | '.join(str(row.get(k, '')) for k in COLS) + (f"  ({row['error']})" if 'error' in row else ''), flush=True)
    if pool: pool.close()
    rows = [done[keys[c.name]] for c in cases if c.name not in left_out]
    head = headline(rows)
    print(f"\n{head['refined']} of {head['n']} refined ({len(left_out)} left out: {left_out or 'none'}); elements right for >= 90 % of atoms: "
          f"{head['elements_90'][0]}/{head['elements_90'][1]} (atoms right over all: {head['atoms_right'][0]}/{head['atoms_right'][1]}); R1 within 0.02 of the true model's: {head['r1_within_002'][0]}/{head['r1_within_002'][1]}; "
          f"bonds in range: {head['bonds_ok'][0]}/{head['bonds_ok'][1]} ({100 * head['bonds_ok'][2]:.1f} %)")
    tables = {t: agreement(rows, t) for t in ('solved_80', 'phased')}
    print("\nDoes 'refined R1 below X' agree with the reference's verdict? Every X is shown; none is chosen on these structures.")
    for t, tab in tables.items(): print(f"\nagainst {t} (n = {len(rows)}; no candidate or failed refinement counts as 'R1 not below X'):\n" + agreement_table(tab, t), end='')
    text = json.dumps(dict(command='python bench/refinement.py ' + ' '.join(argv), version=VERSION, condition=cond.name, cod=a.cod,
                           d_min=a.d_min, d_low=a.d_low, extend=a.extend, solver=a.solver, seed=a.seed, max_runs=a.max_runs,
                           thresholds=list(THRESHOLDS), headline=head, left_out=left_out, agreement=tables, rows=rows), indent=1, ensure_ascii=False)
    atomic_write_text(out / 'summary.json', text)
    if a.update_reference: atomic_write_text(REF_DIR / reference_name(a.cod, cond), text)


if __name__ == '__main__':
    main()
