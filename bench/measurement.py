"""Measured against simulated (issue 20): the statistics crystallographers read, for every measured data set of
tests/data and smtbx's thpp, beside the same model's calculated intensities measured by `xrdphase.measurement` at each
noise level. Prints one table (markdown) and one JSON line last; --out writes the JSON (atomic).

    python bench/measurement.py                 # 5 measured data sets x (measured + 3 levels), about 10 CPU s

Columns: d_min of the data (the simulation goes to the same d_min), mean I/σ(I) in the outer of 8 shells (cctbx's binner, as
in merging statistics) and overall, completeness to d_min, fraction of negative merged intensities, ΔB = B of the
data − B of the model's calculated intensities (Wilson lines through d ≤ 4 Å; measured: the refined model's non-H atoms).
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, time
from pathlib import Path
from xrdphase.core import atomic_write_text, cctbx_test_data
from xrdphase.diffraction import reflections
from xrdphase.measured import read_measured
from xrdphase.measurement import NOISE_LEVELS, simulate_intensities, intensity_statistics, wilson_b_shift

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ('d_min', 'i_sigma_outer', 'i_sigma', 'completeness', 'negative', 'delta_b')


def measured_sets() -> list:
    "(name, `Measured`) of every deposited CIF in tests/data, and thpp."
    out = [(p.name.removesuffix('.cif.gz'), read_measured(p)) for p in sorted((ROOT / 'tests' / 'data').glob('*.cif.gz'))]
    return out + [('thpp', read_measured(cctbx_test_data('thpp.hkl'), ins=str(cctbx_test_data('thpp.ins'))))]


def compare(name:str, meas, seed:int=0) -> list:
    "Rows of one data set: measured, then its model's calculated intensities at each noise level (same d_min)."
    merged, _ = meas.merged()
    calc = reflections(meas.reference, merged.d_min(), e_method=None)
    rows = [dict(data=name, kind='measured', **intensity_statistics(merged), delta_b=wilson_b_shift(merged, calc.miller_array('i')))]
    for level in NOISE_LEVELS:
        sim, _ = simulate_intensities(calc, level, seed)
        rows.append(dict(data=name, kind=level, **intensity_statistics(sim), delta_b=wilson_b_shift(sim, calc.miller_array('i'))))
    return rows


def table(rows:list) -> str:
    "Markdown: one line per row."
    head = ['data set', 'kind', 'd_min Å', 'I/σ outer', 'I/σ all', 'completeness', 'I < 0', 'ΔB Å²']
    fmt = dict(d_min='{:.2f}', i_sigma_outer='{:.1f}', i_sigma='{:.1f}', completeness='{:.3f}', negative='{:.3f}', delta_b='{:+.2f}')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join([r['data'], r['kind']] + [fmt[k].format(r[k]) for k in COLUMNS]) + ' |' for r in rows]
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', help='write the rows as JSON here')
    a = ap.parse_args(argv)
    t = time.process_time()
    rows = [r for name, meas in measured_sets() for r in compare(name, meas, a.seed)]
    print(table(rows))
    summary = dict(bench='measurement', seed=a.seed, levels={k: vars(v) for k, v in NOISE_LEVELS.items()}, rows=rows,
                   cpu_seconds=round(time.process_time() - t, 1))
    if a.out: atomic_write_text(a.out, json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
