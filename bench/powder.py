"""Benchmark of the powder simulator on the thesis grid (3-90 deg, 4351 points).

Same structures and pattern parameters for both methods: `render_peaks` (each profile evaluated in a window of
20 FWHMs, vectorised) against `render_peaks_naive` (a Python loop over lines, each over the whole grid).
Times cover lines -> counts (profiles, background, noise); structure generation and structure factors are
measured separately (`end_to_end_patterns_per_s`). Last line of output: one JSON object.
Usage: python bench/powder.py [--n 12] [--seed 0]
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, os, platform, time
import numpy as np
from xrdphase import powder as P
from xrdphase.core import derive_seed
from xrdphase.crystal import random_structure
from xrdphase.diffraction import Reflections


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=12, help='structures (default 12)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--min-seconds', type=float, default=3.0, help='repeat the windowed run for at least this long')
    a = ap.parse_args(argv)
    pre = P.get_powder_preset('thesis'); g = np.linspace(*pre.grid)

    t0 = time.perf_counter()
    cases = []
    for i in range(a.n):
        s = derive_seed(a.seed, i)
        xs = random_structure(pre.structure_spec(), s)
        rng = np.random.default_rng([s, 1]); par = P.random_params(rng, pre)
        d_min = min(l for l, _ in par.radiation) / (2 * np.sin(np.radians(g[-1]) / 2)) * (1 - 1e-9)
        r = Reflections.from_structure(xs, d_min=d_min, e_method=None)
        lines = P.powder_lines(r.d, r.multiplicity, r.intensities, par.radiation, (g[0], g[-1]), par.mono_two_theta, pre.merge_tol)
        cases.append((lines, par, s))
    t_struct = time.perf_counter() - t0

    def run(naive):
        return [P.simulate_pattern(lines, g, par, np.random.default_rng([s, 2]), naive=naive) for lines, par, s in cases]

    run(False)                                   # warm-up
    reps, t0 = 0, time.perf_counter()
    while True:
        fast = run(False); reps += 1
        if time.perf_counter() - t0 >= a.min_seconds: break
    t_fast = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter(); slow = run(True); t_naive = time.perf_counter() - t0

    diff = max(np.abs(f['clean'] - s_['clean']).max() / s_['peaks'].max() for f, s_ in zip(fast, slow))
    n_lines = [c[0][0].size for c in cases]
    out = dict(bench='powder', grid_points=int(g.size), n_patterns=a.n, mean_lines=round(float(np.mean(n_lines)), 1),
               patterns_per_s=round(a.n / t_fast, 2), naive_patterns_per_s=round(a.n / t_naive, 2),
               speedup=round(t_naive / t_fast, 2), end_to_end_patterns_per_s=round(a.n / (t_fast + t_struct), 2),
               max_abs_diff_rel_to_peak_max=float(f'{diff:.2e}'), window_fwhm=20, windowed_reps=reps,
               cpu=platform.processor() or platform.machine(), cpus=os.cpu_count())
    print(json.dumps(out))


if __name__ == '__main__':
    main()
