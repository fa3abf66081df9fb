"""Choose whether and how much `auto` completes its model by least squares below 1.25 Å (`extension.CompletionSettings`), on a dev split.

From 1.5 Å many benchmark rows are phased (measured phase error < 50°) but their map does not place 80 % of the atoms.
`extension.complete_model` takes the final solution's peaks as carbon atoms, refines their sites and U_iso against the
measured |F| (cctbx least squares) and lets the refined model fill and phase the reflections, `n_cycles` times. This bench
solves --n crystals of MOSES molecules of the 'dev' split (the 'test' split is the benchmark's, the 'train' split the
models'), packed in the common organic groups with equal weights, seeds from DEV_SEED (neither the benchmark's nor another
dev bench's), cut at 1.5 Å and extended to 1.0 Å by `auto` as the benchmark runs it (600 cycles per attempt). Each crystal
is solved once without completion; every candidate then completes that same solution and applies the same trust rule, which
is what `extend_solve` does with that `CompletionSettings` (the completion acts after the runs, so the runs are shared;
tests/test_bench_completion.py checks the equality on one crystal). A candidate's CPU seconds are the solve's plus its own
completion's. The choice: most crystals solved (atoms); a tie goes to fewer cycles. Paired counts and exact McNemar p
against no completion are printed, by family as well.

    python bench/completion.py                       # runs/completion/{rows.jsonl, summary.json}; resumable
    python bench/completion.py --update-reference    # also reference/completion.json (08c checks AutoSettings against it)
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import json, shlex, sys, time
from multiprocessing import Pool
from pathlib import Path
from xrdphase import benchmark as B
from xrdphase.core import derive_seed
from xrdphase.extension import AutoSettings, CompletionSettings, complete_model, extend_solve, extension_frame, trusted
from xrdphase.molecular import MolecularSpec, COMMON_ORGANIC_GROUPS
from xrdphase.success import case_row
sys.path.insert(0, str(Path(__file__).resolve().parent))   # bench/_dev.py, also when a test loads this file by path
from _dev import dev_args, dev_write  # noqa: E402

DEV_SEED = derive_seed(B.BENCH_SEED, 780)          # not the benchmark's seeds, nor 777 (origin_cc), 778 (element_rules), 779 (auto_runs)
CANDIDATES = (0, 1, 3, 6)                          # completion cycles
D_LOW, D_HIGH, TRUST_R1 = 1.5, 1.0, 0.30           # the benchmark's 'auto from 1.5 Å' row and `extend_solve`'s trust rule
FAMILIES = {'centrosymmetric': True, 'non-centrosymmetric': False}


def candidate_rows(case:B.Case, candidates=CANDIDATES) -> list:
    "One row per candidate of one dev crystal: solved once by `auto` from D_LOW without completion, then completed by each."
    xs, rec = B.load_case(case, D_HIGH)
    low, family = rec.cut(D_LOW), B.structure_family(xs)
    t = time.process_time()
    base = extend_solve(low, D_HIGH, 'auto', content=xs, seed=B.case_seed(case, 0), max_runs=8, fixed_cycles=600, trust_r1=None,
                        auto=AutoSettings(completion=CompletionSettings()))
    solve_cpu, frame, rows = time.process_time() - t, extension_frame(low, D_HIGH), []
    for n in candidates:
        t = time.process_time()
        sol = trusted(complete_model(base, frame, CompletionSettings(n_cycles=n)), frame, TRUST_R1)
        cpu = solve_cpu + time.process_time() - t
        row = case_row(sol, xs)
        rows.append(dict(key=f'{case.name}|{n}', structure=case.name, cycles=n, **family, space_group=row['space_group'], solved=row['solved'],
                         phased=row['phased'], matched_fraction=row['matched_fraction'], phase_error_measured=row['phase_error_measured'],
                         r1=row['r1_peaks'], runs=row['runs'], cpu_seconds=round(cpu, 3)))
    return rows


def choose(rows:list, centric:bool|None=None, candidates=CANDIDATES) -> dict:
    "Per candidate: solved and phased k/n (95 % Wilson), paired against no completion with exact p, CPU s; the choice (most solved, ties to fewer cycles)."
    rows = [r for r in rows if centric is None or r['centric'] == centric]
    by = {n: {r['structure']: r for r in rows if r['cycles'] == n} for n in candidates}
    names = sorted(by[candidates[0]])
    table = {}
    for n in candidates:
        ok, cpu = [by[n][s]['solved'] for s in names], sorted(by[n][s]['cpu_seconds'] for s in names)
        table[n] = dict(n=len(names), solved=sum(ok), ci95=list(B.wilson_interval(sum(ok), len(names))),
                        phased=sum(by[n][s]['phased'] for s in names),
                        paired=B.mcnemar(ok, [by[candidates[0]][s]['solved'] for s in names]),
                        cpu_mean=round(sum(cpu) / max(len(cpu), 1), 2), cpu_median=cpu[len(cpu) // 2] if cpu else None)
    best = max(candidates, key=lambda n: (table[n]['solved'], -n))
    return dict(table={str(n): v for n, v in table.items()}, chosen=best)


def _job(case): return candidate_rows(case)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    a = dev_args(__doc__, 'completion', argv)
    spec = MolecularSpec(smiles='moses', split='dev', space_groups=COMMON_ORGANIC_GROUPS['space_groups'], space_group_weights=None)
    cases, failed = B.generated_cases(a.n, DEV_SEED, spec)
    cache = Path(a.out) / 'rows.jsonl'
    done = {r['structure'] for r in B.read_rows(cache).values()}
    todo = [c for c in cases if c.name not in done]
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, 'a') as fh, Pool(a.workers) as pool:
        for rows in pool.imap_unordered(_job, todo):
            fh.write(''.join(json.dumps(r) + '\n' for r in rows))
            fh.flush()
    rows = [r for r in B.read_rows(cache).values() if r['structure'] in {c.name for c in cases}]
    out = dict(all=choose(rows), families={f: choose(rows, c) for f, c in FAMILIES.items()}, n=len(cases), generation_failed=len(failed),
               command=shlex.join(['python', 'bench/completion.py'] + argv), split='dev', space_groups=list(spec.space_groups),
               seed=DEV_SEED, candidates=list(CANDIDATES), d_low=D_LOW, d_high=D_HIGH)
    print(f"n = {len(cases)} dev crystals ({len(failed)} draws the generator refused), auto from {D_LOW} Å to {D_HIGH} Å, 600 cycles per attempt")
    for f, v in [('all', out['all'])] + list(out['families'].items()):
        print(f"\n{f}\n| completion cycles | solved | 95 % CI | phased | +/− vs none (p) | CPU s mean | CPU s median |\n|---|---|---|---|---|---|---|")
        for n, t in v['table'].items():
            p = t['paired']
            print(f"| {n} | {t['solved']}/{t['n']} | {t['ci95'][0]:.2f}–{t['ci95'][1]:.2f} | {t['phased']}/{t['n']} | +{p['gained']}/−{p['lost']} ({p['p']:.2g}) | {t['cpu_mean']} | {t['cpu_median']} |")
    print(f"\nchosen: {out['all']['chosen']} cycles (most solved over all crystals; a tie goes to fewer cycles)")
    dev_write(a, 'completion', out)


if __name__ == '__main__':
    main()
