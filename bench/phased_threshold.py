"""Phase error of the measured reflections (|E|-weighted, allowed origins + enantiomorph) for random phases (20 draws per structure at 1.2, 1.5, 2.0 Å) and for
solutions of true 1.2 Å data (600 cycles, 8 runs): the distributions behind `success.PHASED_MAX_ERROR`.
Usage: python bench/phased_threshold.py reference/phased_threshold.json (about 3 CPU minutes; the real group, as the threshold was set).
       python bench/phased_threshold.py reference/phased_threshold_dev.json --generated-dev 100 (the check on a dev split: crystals of MOSES
       'dev' molecules in the common organic groups, bench/origin_cc.py's seeds — structures no benchmark row uses)."""
import xrdphase  # noqa: F401
import argparse, json, shlex, sys
import numpy as np
from xrdphase import benchmark as B
from xrdphase.core import atomic_write_text, derive_seed
from xrdphase.success import phase_error, e_weights, solve_case, PHASED_MAX_ERROR
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('out', help='the JSON written')
ap.add_argument('--generated-dev', type=int, default=None, metavar='N', help='N generated dev-split crystals instead of the real group')
a = ap.parse_args()
if a.generated_dev:
    from xrdphase.molecular import MolecularSpec, COMMON_ORGANIC_GROUPS
    spec = MolecularSpec(smiles='moses', split='dev', space_groups=COMMON_ORGANIC_GROUPS['space_groups'], space_group_weights=None)
    cases = B.generated_cases(a.generated_dev, derive_seed(B.BENCH_SEED, 777), spec)[0]      # bench/origin_cc.py's DEV_SEED
else: cases = B.real_cases()
rng = np.random.default_rng(0)
out = {'random': {}, 'solved': [], 'unsolved': []}
for case in cases:
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
                      command=shlex.join(['python', 'bench/phased_threshold.py'] + sys.argv[1:]), structures=len(cases),
                      unsolved=dict(n=len(out['unsolved']), below_threshold=sum(x is not None and x < PHASED_MAX_ERROR for x in out['unsolved'])))
out['random'] = {k: [round(x, 2) for x in v] for k, v in out['random'].items()}
atomic_write_text(a.out, json.dumps(out) + '\n')
print(json.dumps(out['summary']))
