"""Choose charge flipping's origin threshold (`FlipSettings.min_cc`) on a dev split, never on the benchmark's structures.

smtbx accepts a flipped map only if its symmetry-correlation peak reaches min_cc (0.9); otherwise it restarts. In the real
group, 5 of the 18 structures that float+recycle leaves unsolved never got past that test (no candidate in 8 runs), most of
them non-centrosymmetric. This bench solves --n crystals of MOSES molecules of the 'dev' split (the 'test' split is the
benchmark's, the 'train' split the models'), packed in the common organic groups with equal weights (half of them
non-centrosymmetric), seeds from DEV_SEED (not the benchmark's), with float+recycle from 1.2 Å (600 cycles, 8 runs, as the
benchmark's fixed solver), once for each candidate threshold. The choice: most structures solved; a tie goes to the higher
threshold (the nearer to smtbx's). Paired counts and exact McNemar p against 0.9 are printed for every candidate.

    python bench/origin_cc.py                       # runs/origin_cc/{cases.jsonl, summary.json}; resumable
    python bench/origin_cc.py --update-reference    # also reference/origin_cc.json (read by bench/phasing.py --origin-cc chosen)
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import shlex, sys
from pathlib import Path
from xrdphase import benchmark as B
from xrdphase.core import derive_seed
sys.path.insert(0, str(Path(__file__).resolve().parent))   # bench/_dev.py, also when a test loads this file by path
from _dev import dev_args, dev_rows, dev_write  # noqa: E402

DEV_SEED = derive_seed(B.BENCH_SEED, 777)          # not the benchmark's seeds
CANDIDATES = (0.9, 0.8, 0.7, 0.6, 0.5)
GROUP = 'dev (origin threshold)'


def condition(x:float) -> B.Condition:
    "float+recycle from 1.2 Å to 1.0 Å with the benchmark's fixed solver and origin threshold `x`."
    return B.Condition(f'float+recycle, origin cc ≥ {x}{B.FIXED_TAG}', 1.0, 1.2, 'float+recycle', min_cc=x, **B.SOLVERS['fixed'])   # bench/phasing.py --origin-cc's row name


def choose(rows:list, candidates=CANDIDATES) -> dict:
    "Per candidate: solved k/n (95 % Wilson), paired against the first candidate (smtbx's 0.9) with exact p, mean CPU s; the chosen one (most solved, ties to the higher)."
    table = {}
    base = {r['structure']: r['solved'] for r in rows if r['condition'] == condition(candidates[0]).name}
    for x in candidates:
        mine = {r['structure']: r for r in rows if r['condition'] == condition(x).name}
        names = sorted(mine)
        k = sum(mine[s]['solved'] for s in names)
        table[x] = dict(n=len(names), solved=k, ci95=list(B.wilson_interval(k, len(names))),
                        paired=B.mcnemar([mine[s]['solved'] for s in names], [base[s] for s in names]),
                        no_candidate=sum(mine[s].get('chosen', -1) < 0 for s in names),
                        cpu_mean=round(sum(mine[s]['cpu_seconds'] for s in names) / max(len(names), 1), 2))
    best = max(candidates, key=lambda x: (table[x]['solved'], x))
    return dict(table={str(x): v for x, v in table.items()}, chosen=best)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    a = dev_args(__doc__, 'origin_cc', argv)
    rows, cases, failed, spec = dev_rows(a, DEV_SEED, GROUP, [condition(x) for x in CANDIDATES])
    out = dict(choose(rows), n=len(cases), generation_failed=len(failed), command=shlex.join(['python', 'bench/origin_cc.py'] + argv),
               split='dev', space_groups=list(spec.space_groups), seed=DEV_SEED, candidates=list(CANDIDATES),
               acentric={str(x): B.family_summary(rows, condition(x).name, 'centric') for x in CANDIDATES})
    print(f"n = {len(cases)} dev crystals ({len(failed)} draws the generator refused), float+recycle from 1.2 Å, 600 cycles, 8 runs\n")
    print('| origin cc ≥ | solved | 95 % CI | +/− vs 0.9 (p) | runs without a candidate | CPU s mean |\n|---|---|---|---|---|---|')
    for x, v in out['table'].items():
        p = v['paired']
        print(f"| {x} | {v['solved']}/{v['n']} | {v['ci95'][0]:.2f}–{v['ci95'][1]:.2f} | +{p['gained']}/−{p['lost']} ({p['p']:.2g}) | {v['no_candidate']} | {v['cpu_mean']} |")
    print(f"\nchosen: {out['chosen']} (most solved; a tie goes to the higher threshold)")
    dev_write(a, 'origin_cc', out)


if __name__ == '__main__':
    main()
