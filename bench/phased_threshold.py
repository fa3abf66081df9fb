"""Phase error of the measured reflections (|E|-weighted, allowed origins + enantiomorph) for random phases (20 draws per structure at 1.2, 1.5, 2.0 Å) and for
solutions of true 1.2 Å data (600 cycles, 8 runs): the distributions behind `success.PHASED_MAX_ERROR`.
Usage: python bench/phased_threshold.py reference/phased_threshold.json (about 3 CPU minutes)."""
import xrdphase  # noqa: F401
import json, sys
import numpy as np
from xrdphase import benchmark as B
from xrdphase.core import atomic_write_text
from xrdphase.diffraction import reflections
from xrdphase.success import phase_error, e_weights, solve_case
rng = np.random.default_rng(0)
out = {'random': {}, 'solved': [], 'unsolved': []}
for case in B.real_cases():
    xs, rec = B.load_case(case, 1.0)
    for d in (1.2, 1.5, 2.0):
        r = rec.cut(d)
        w = e_weights(r, r.f) if r.phi is not None else None
        if r.phi is None: continue          # measured thpp: no true phases in the record
        errs = [phase_error(r.indices, rng.uniform(-180, 180, len(r)), r.phi, w, r.space_group_info())['error'] for _ in range(20)]
        out['random'].setdefault(str(d), []).extend(errs)
    row = solve_case(rec.cut(1.2), xs, seed=B.case_seed(case), max_runs=8, fixed_cycles=600)
    out['solved' if row['solved'] else 'unsolved'].append(row['phase_error_measured'])
    print(case.name, row['solved'], row['phase_error_measured'], len(rec.cut(2.0)), flush=True)
q = lambda v, p: round(float(np.quantile(v, p)), 1)
s = [x for x in out['solved'] if x is not None]
out['summary'] = dict(random={k: dict(n=len(v), min=round(min(v), 1), q001=q(v, 0.001), q01=q(v, 0.01), q05=q(v, 0.05), median=q(v, 0.5)) for k, v in out['random'].items()},
                      solved=dict(n=len(s), median=q(s, 0.5), q95=q(s, 0.95), q99=q(s, 0.99), max=round(max(s), 1)),
                      command='python bench/phased_threshold.py reference/phased_threshold.json')
out['random'] = {k: [round(x, 2) for x in v] for k, v in out['random'].items()}
atomic_write_text(sys.argv[1], json.dumps(out) + '\n')
print(json.dumps(out['summary']))
