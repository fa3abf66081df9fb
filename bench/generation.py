"""Data-set generation speed: one pass (xrdphase.datasets) vs the thesis appendix style vs bare cctbx f_calc.

All three include making the random structure (thesis preset, the same seeds), single process, interleaved rounds:
- structures_per_s: xrdphase's one pass = the content of D1 + D2 + D3 (|F| and |E| to 0.8 A, packed, written as a chunk);
- seed_style_per_s: thesis appendices 1-3 — each data set generated on its own (structure made again), f_calc at
  d_high and d_low (twice at d_high for D3, with normalised_amplitudes), np.array(list(indices)), results as
  pickled dicts in np.savez_compressed; per structure of D1 + D2 + D3 content;
- bare_fcalc_per_s: the structure + cctbx f_calc at 0.8 A alone (algorithm 'direct', as the store uses;
  bare_fcalc_default_per_s: cctbx's default algorithm choice).
speedup_vs_seed = structures_per_s / seed_style_per_s (target >= 8); fraction_of_fcalc = structures_per_s / bare_fcalc_per_s
(target >= 0.8).

--scale N1 [N2]: also run `simulate` for N1 structures (and extend to N2) with --workers processes in a fresh process,
reporting wall time, store size and peak RSS (main process and largest worker).

Prints one JSON line last.
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from xrdphase.core import derive_seed
from xrdphase.crystal import random_structure, get_spec
from xrdphase import datasets as D

SPEC = get_spec('thesis')


def ours(n, seed, tmp):
    arrays, failed = D.simulate_chunk(SPEC, seed, 0, n, 0.8, 'model')
    D.write_npz(Path(tmp) / 'chunk.npz', arrays)
    return len(arrays['offsets']) - 1


def _report_params(xs):
    return dict(sg=str(xs.space_group_info()), cell=xs.unit_cell().parameters(), atoms=[s.label for s in xs.scatterers()])


def runner_f(xs, d_high, d_low):
    "Thesis appendix 2."
    a_high = xs.structure_factors(d_min=d_high).f_calc().sort()
    I_high = a_high.as_intensity_array().data().as_numpy_array()
    ind_high = np.array(list(a_high.indices()))
    a_low = xs.structure_factors(d_min=d_low).f_calc().sort()
    ind_low = np.array(list(a_low.indices()))
    return {'structure_params': _report_params(xs), 'ind_low': ind_low, 'I_high': I_high, 'ind_high': ind_high}


def runner_e(xs, d_high, d_low):
    "Thesis appendix 3."
    a_high = xs.structure_factors(d_min=d_high).f_calc().sort()
    asu_content = {}
    for sc in xs.scatterers():
        for elem in ['N', 'O', 'C', 'Cl', 'Br']:
            if sc.label == elem or sc.label.startswith(elem): asu_content[elem] = asu_content.get(elem, 0) + 1
    I_high = xs.structure_factors(d_min=d_high).f_calc().sort().as_intensity_array()
    e_high = a_high.as_amplitude_array().normalised_amplitudes(asu_content).array().data().as_numpy_array()
    ind_high = np.array(list(a_high.indices()))
    a_low = xs.structure_factors(d_min=d_low).f_calc().sort()
    e_low = a_low.as_amplitude_array().normalised_amplitudes(asu_content).array().data().as_numpy_array()
    ind_low = np.array(list(a_low.indices()))
    return {'structure_params': _report_params(xs), 'ind_low': ind_low, 'I_high': I_high, 'ind_high': ind_high,
            'e_high': e_high, 'e_low': e_low}


def seed_style(n, seed, tmp):
    for name, (d_high, d_low, runner) in {'D1': (0.8, 1.5, runner_f), 'D2': (1.0, 1.2, runner_f), 'D3': (1.0, 1.2, runner_e)}.items():
        results = [runner(random_structure(SPEC, derive_seed(seed, i)), d_high, d_low) for i in range(n)]
        np.savez_compressed(Path(tmp) / f'{name}.npz', db=np.array(results))        # object array: pickled, as the seed did
    return n


def bare(n, seed, tmp, algorithm='direct'):
    for i in range(n):
        random_structure(SPEC, derive_seed(seed, i)).structure_factors(d_min=0.8, algorithm=algorithm).f_calc()
    return n


def timed(f, *a):
    t = time.perf_counter()
    f(*a)
    return time.perf_counter() - t


SCALE_CHILD = r'''
import xrdphase, json, sys, time, resource
from xrdphase.datasets import simulate, info
out, ns, workers = sys.argv[1], [int(x) for x in sys.argv[2].split(',')], int(sys.argv[3])
walls = []
for n in ns:
    t = time.time(); simulate(out, n, 'thesis', seed=2025, workers=workers, progress=False); walls.append(time.time() - t)
i = info(out, scan=False)
print(json.dumps(dict(walls=walls, bytes=i['bytes'], bytes_per_1000=i['bytes_per_1000'], n_structures=i['n_structures'],
      main_peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      worker_peak_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=30, help='structures per round (default 30)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds; the fastest round of each method counts (default 3)')
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--scale', type=int, nargs='*', default=[], help='also generate N1 [N2 ...] structures (extending) with --workers')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--keep', default=None, help='store directory for --scale (default: a temporary one, removed)')
    a = ap.parse_args()
    t = {k: [] for k in ('ours', 'seed', 'bare', 'bare_default')}
    with tempfile.TemporaryDirectory() as tmp:
        ours(3, a.seed + 99, tmp)
        seed_style(2, a.seed + 99, tmp)
        bare(3, a.seed + 99, tmp)  # warm-up
        for r in range(a.rounds):
            s = a.seed + 1000 * r
            t['ours'].append(timed(ours, a.n, s, tmp))
            t['seed'].append(timed(seed_style, a.n, s, tmp))
            t['bare'].append(timed(bare, a.n, s, tmp))
            t['bare_default'].append(timed(bare, a.n, s, tmp, None))
            print(f'round {r}: ' + ', '.join(f'{k} {a.n / v[-1]:.1f}/s' for k, v in t.items()), file=sys.stderr)
    rate = {k: a.n / min(v) for k, v in t.items()}
    res = dict(n_per_round=a.n, rounds=a.rounds, structures_per_s=round(rate['ours'], 2), seed_style_per_s=round(rate['seed'], 2),
               bare_fcalc_per_s=round(rate['bare'], 2), bare_fcalc_default_per_s=round(rate['bare_default'], 2),
               speedup_vs_seed=round(rate['ours'] / rate['seed'], 2), fraction_of_fcalc=round(rate['ours'] / rate['bare'], 3),
               fraction_of_fcalc_default=round(rate['ours'] / rate['bare_default'], 3), cores=os.cpu_count())
    if a.scale:
        out = a.keep or tempfile.mkdtemp(prefix='xrdphase-scale-')
        r = subprocess.run([sys.executable, '-c', SCALE_CHILD, out, ','.join(map(str, a.scale)), str(a.workers)],
                           capture_output=True, text=True)
        if r.returncode:
            print(r.stderr[-3000:], file=sys.stderr)
            raise SystemExit(r.returncode)
        s = json.loads(r.stdout.strip().splitlines()[-1])
        res.update(scale_n=a.scale, scale_workers=a.workers, scale_wall_s=[round(w, 1) for w in s['walls']],
                   scale_store_bytes=s['bytes'], store_bytes_per_1000=s['bytes_per_1000'],
                   gen_peak_rss_main_mb=round(s['main_peak_rss_mb'], 1), gen_peak_rss_worker_mb=round(s['worker_peak_rss_mb'], 1),
                   scale_store=out if a.keep else None)
        if not a.keep:
            import shutil
            shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(res))


if __name__ == '__main__':
    main()
