"""Phasing benchmark (issue 6): charge flipping (xrdphase.phasing.solve, cctbx/smtbx) on true, truncated and extended data.

Structures (the counts are printed):
- synthetic: --n-synthetic held-out random structures of preset --preset, seeds derive_seed(BENCH_SEED, i)
  (a seed range no data set uses by default);
- real: every monoclinic structure in ../shared/cod (calculated amplitudes, H included), sucrose (smtbx model,
  calculated), and thpp with its *measured* intensities (smtbx test data, P2_1/n, French-Wilson |F|; reference: the
  atoms of thpp.ins).
Conditions per structure (d_high = 1.0 A, d_low = 1.2 A by default, as data set D2):
- 'true d_high'    : true amplitudes to d_high (the baseline);
- 'd_low only'     : true amplitudes cut at d_low;
- 'Wilson-filled'  : d_low data with every reflection to d_high filled with its Wilson-expected |F| (phasing.wilson_fill);
- 'model NAME'     : the extension by a trained model, for each --weights NAME=PATH (needs xrdphase.models.extend);
- the resolution cliff: true data at 0.8, 1.0, 1.2, 1.5, 2.0 A (cases shared with the rows above are solved once).
Each case: solve (E normalisation with the structure's content, seed derive_seed(seed, structure)), then the success
measure (emma, >= 80 % of non-H atoms within 0.5 A) and the |F|-weighted phase error after the allowed origin shifts.

Resumable: every finished case is appended to --cache (default runs/bench_phasing/cases.jsonl) and skipped on a rerun with
the same settings. Progress by tqdm. Prints the tables, writes --summary (runs/bench_phasing/summary.json), and prints one JSON line
last: the whole table, the cliff, the timings; ratios are against 'true d_high' of the same run.
Time: about 8-10 minutes single process on 2 busy cores for the default N (20 + 48); --workers 2 halves it; --quick: 4 + 6.
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, datetime, functools, json, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np
from xrdphase.core import derive_seed, cod_dir, cctbx_test_data, atomic_write_text
from xrdphase.crystal import random_structure, read_cif_dir, read_cif, sucrose
from xrdphase.diffraction import reflections
from xrdphase import phasing as P, success as S, files as F, benchmark as B
from xrdphase.extension import extend

BENCH_SEED = 60606
VERSION = 2          # bump when solve/evaluate change, so cached cases are not reused
ROOT = Path(__file__).resolve().parent.parent


def structure_list(a):
    "[(group, name, source)] with source a JSON-able recipe the worker can rebuild the structure from."
    out = [('synthetic', f'{a.preset}#{i}', ('synthetic', a.preset, derive_seed(BENCH_SEED, i))) for i in range(a.n_synthetic)]
    cods = []
    if cod_dir():
        ok, _ = read_cif_dir(cod_dir())
        cods = [('real', c.name, ('cif', c.path)) for c in ok]          # read_cif_dir reads the first block too
    else:
        print('no ../shared/cod: the real set is thpp + sucrose only', file=sys.stderr)
    if a.n_real is not None: cods = cods[:a.n_real]
    return out + cods + [('real', 'sucrose', ('sucrose',)), ('real', 'thpp (measured)', ('thpp-measured',))]


@functools.lru_cache(maxsize=4)
def load(source, d_min):
    "(reference structure, true record to d_min or measured record cut there)."
    kind = source[0]
    if kind == 'synthetic':
        xs = random_structure(source[1], seed=source[2]); return xs, reflections(xs, d_min, e_method=None)
    if kind == 'cif':
        xs = read_cif(source[1]).xs; return xs, reflections(xs, d_min, e_method=None)
    if kind == 'sucrose':
        xs = sucrose().xs; return xs, reflections(xs, d_min, e_method=None)
    if kind == 'thpp-measured':
        from cctbx import xray
        ins = str(cctbx_test_data('thpp.ins'))
        rec = F.read_hkl(cctbx_test_data('thpp.hkl'), ins)
        return xray.structure.from_shelx(filename=ins), rec.cut(max(d_min, float(rec.d.min())))
    raise ValueError(source)


def conditions(a):
    "[(condition name, kind, d)] — kind 'true' (cut at d), 'wilson', 'model:NAME'."
    conds = {f'true {d:g}': ('true', d) for d in sorted(set(a.cliff) | {a.d_high, a.d_low})}
    conds['Wilson-filled'] = ('wilson', a.d_high)
    for w in a.weights: conds[f"model {w.split('=')[0]}"] = (f"model:{w}", a.d_high)
    return conds


def run_structure(job):
    "Solve every missing condition of one structure; returns the case rows."
    group, name, source, todo, a_dict, seed = job
    rows = []
    d_min = min(d for _, (k, d) in todo)
    xs, rec = load(tuple(source), d_min)
    for cond, (kind, d) in todo:
        if kind == 'true': data = rec.cut(d)
        elif kind == 'wilson': data = extend(rec.cut(a_dict['d_low']), a_dict['d_high'], 'wilson')
        else: data = extend(rec.cut(a_dict['d_low']), a_dict['d_high'], 'model:' + kind.split('=', 1)[1])
        t = time.perf_counter()
        try:
            r = S.solve_case(data, xs, seed=seed, max_runs=a_dict['max_runs'])
        except Exception as e:                                    # a failure is a result, recorded with its reason
            r = dict(phase_transition=False, solved=False, matched_fraction=0.0, phase_error=None, seconds=time.perf_counter() - t,
                     error=f'{type(e).__name__}: {e}'[:300])
        rows.append(dict(key=key(name, cond, seed, a_dict), group=group, structure=name, condition=cond, d=d,
                         **{**r, "n_reflections": len(data), "space_group": str(xs.space_group_info())}))
    return rows


def key(name, cond, seed, a):
    return f"v{VERSION}|{name}|{cond}|seed={seed}|runs={a['max_runs']}|dl={a['d_low']}|dh={a['d_high']}"


def summarise(rows):
    s = S.summarise(rows)
    s['phase_transition'] = round(float(np.mean([r['phase_transition'] for r in rows])), 4) if rows else None
    r1 = [r.get('r1_peaks') for r in rows if r.get('r1_peaks') is not None]
    s['r1_peaks'] = round(float(np.mean(r1)), 4) if r1 else None
    s['seconds_max'] = round(float(np.max([r['seconds'] for r in rows])), 2) if rows else None
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n-synthetic', type=int, default=20)
    ap.add_argument('--n-real', type=int, default=None, help='use only the first N COD structures (default all)')
    ap.add_argument('--preset', default='realistic', help="structure preset of the synthetic set ('realistic' or 'thesis')")
    ap.add_argument('--d-high', type=float, default=1.0); ap.add_argument('--d-low', type=float, default=1.2)
    ap.add_argument('--cliff', type=float, nargs='+', default=list(B.CLIFF_D))
    ap.add_argument('--weights', action='append', default=[], metavar='NAME=PATH', help='a trained model to extend with (repeatable)')
    ap.add_argument('--max-runs', type=int, default=4, help='seeded charge-flipping runs per case (solve max_runs)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--workers', type=int, default=1, help='processes (at most 2 on the shared machine)')
    ap.add_argument('--cache', default=str(ROOT / 'runs' / 'bench_phasing' / 'cases.jsonl'))
    ap.add_argument('--summary', default=str(ROOT / 'reference' / 'phasing_benchmark.json'), help='where to write the summary (read by nbs/08_phasing; committed)')
    ap.add_argument('--fresh', action='store_true', help='ignore the cache')
    ap.add_argument('--quick', action='store_true', help='4 synthetic + 6 real structures (a smoke test)')
    a = ap.parse_args()
    if a.quick: a.n_synthetic, a.n_real = 4, 4
    if a.workers > 2: ap.error('--workers: at most 2 on the shared machine')
    from tqdm.auto import tqdm
    structs = structure_list(a)
    conds = conditions(a)
    a_dict = dict(d_high=a.d_high, d_low=a.d_low, max_runs=a.max_runs)
    cache = Path(a.cache); cache.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if cache.exists() and not a.fresh:
        for line in cache.read_text().splitlines():
            try: r = json.loads(line); done[r['key']] = r
            except (json.JSONDecodeError, KeyError): pass          # a line cut by a crash
    jobs, rows = [], []
    for i, (group, name, source) in enumerate(structs):
        seed = derive_seed(a.seed, i)
        todo = []
        for cond, kd in conds.items():
            k = key(name, cond, seed, a_dict)
            if k in done: rows.append(done[k])
            else: todo.append((cond, kd))
        if todo: jobs.append((group, name, source, todo, a_dict, seed))
    n_cases = sum(len(j[3]) for j in jobs)
    print(f"structures: {sum(g == 'synthetic' for g, *_ in structs)} synthetic ({a.preset}), {sum(g == 'real' for g, *_ in structs)} real; "
          f"conditions {list(conds)}; {len(rows)} cases cached, {n_cases} to solve", file=sys.stderr)
    t0 = time.perf_counter()
    with open(cache, 'a') as fh, tqdm(total=n_cases, desc='phasing cases', file=sys.stderr) as bar:
        def take(new):
            for r in new:
                fh.write(json.dumps(r) + '\n'); rows.append(r)
            fh.flush(); os.fsync(fh.fileno()); bar.update(len(new))
        if a.workers > 1:
            with ProcessPoolExecutor(a.workers) as ex:
                for new in ex.map(run_structure, jobs): take(new)
        else:
            for j in jobs: take(run_structure(j))
    wall = time.perf_counter() - t0
    # tables
    groups = sorted({r['group'] for r in rows}, key=lambda g: g != 'synthetic')
    main_conds = [f'true {a.d_high:g}', f'true {a.d_low:g}', 'Wilson-filled'] + [c for c in conds if c.startswith('model ')]
    label = {f'true {a.d_high:g}': f'true d_high = {a.d_high:g} A', f'true {a.d_low:g}': f'd_low only = {a.d_low:g} A'}
    table, cliff, n = {}, {}, {}
    for g in groups:
        gr = [r for r in rows if r['group'] == g]
        n[g] = len({r['structure'] for r in gr})
        table[g] = {label.get(c, c): summarise([r for r in gr if r['condition'] == c]) for c in main_conds}
        cliff[g] = {f'{d:g}': summarise([r for r in gr if r['condition'] == f'true {d:g}']) for d in sorted(a.cliff)}
        base = table[g][label[main_conds[0]]]['success'] or None
        for v in table[g].values(): v['success_ratio_to_true'] = round(v['success'] / base, 3) if base and v['success'] is not None else None
    solved_times = [r['seconds'] for r in rows if r.get('solved')]
    timing = dict(seconds_per_solve_mean=round(float(np.mean([r['seconds'] for r in rows])), 3),
                  seconds_per_solve_median=round(float(np.median([r['seconds'] for r in rows])), 3),
                  seconds_per_solved_mean=round(float(np.mean(solved_times)), 3) if solved_times else None,
                  seconds_per_solve_max=round(float(np.max([r['seconds'] for r in rows])), 2),
                  eval_seconds_mean=round(float(np.mean([r.get('eval_seconds', 0) for r in rows])), 3),
                  wall_seconds_this_run=round(wall, 1), cases=len(rows), cases_solved_this_run=n_cases, workers=a.workers)
    errors = [f"{r['structure']} / {r['condition']}: {r['error']}" for r in rows if r.get('error')]
    summary = dict(bench='phasing', version=VERSION, date=datetime.date.today().isoformat(), command=' '.join(['python'] + sys.argv),
                   preset=a.preset, d_high=a.d_high, d_low=a.d_low, max_runs=a.max_runs, n=n, table=table, cliff=cliff, timing=timing,
                   errors=errors[:20])
    for g in groups:
        print(B.table_3_5(summary, g)); print()
        print(f"| resolution cliff ({g}) | " + " | ".join(f"{d} A" for d in cliff[g]) + " |")
        print("|---|" + "---|" * len(cliff[g]))
        print("| solved | " + " | ".join(f"{v['success']:.2f}" for v in cliff[g].values()) + " |")
        print("| mean matched | " + " | ".join(f"{v['matched']:.2f}" for v in cliff[g].values()) + " |")
        print("| phase error (deg) | " + " | ".join('–' if v['phase_error'] is None else f"{v['phase_error']:.1f}" for v in cliff[g].values()) + " |")
        print("| s / solve | " + " | ".join(f"{v['seconds']:.2f}" for v in cliff[g].values()) + " |"); print()
    if errors: print(f'{len(errors)} case(s) raised:', *errors[:5], sep='\n  ')
    atomic_write_text(a.summary, json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
