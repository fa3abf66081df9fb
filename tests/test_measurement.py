"""The measurement model (xrdphase.measurement): seeded, the outer-shell I/σ, completeness and outliers as requested.
Each check is a function, and each test also shows it failing on a deliberately broken input."""
from dataclasses import replace
import numpy as np
import pytest
from xrdphase.crystal import sucrose
from xrdphase.diffraction import reflections
from xrdphase.measurement import NOISE_LEVELS, MeasurementModel, measure, simulate_intensities, intensity_statistics


@pytest.fixture(scope='module')
def rec():
    return reflections(sucrose().xs, 0.8, e_method=None)


def check_identical(a, b):
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.f, b.f) and np.array_equal(a.sigma, b.sigma), 'records differ'


def test_same_seed_bit_identical(rec):
    a = measure(rec, 'middle', seed=3)
    check_identical(a, measure(rec, 'middle', seed=3))
    with pytest.raises(AssertionError): check_identical(a, measure(rec, 'middle', seed=4))


def check_outer(obs, wanted, rtol=0.15):
    got = intensity_statistics(obs)['i_sigma_outer']
    assert abs(got / wanted - 1) < rtol, f'outer-shell I/sigma {got:.2f}, wanted {wanted}'


@pytest.mark.parametrize('level', list(NOISE_LEVELS))
def test_outer_shell_i_over_sigma(rec, level):
    check_outer(simulate_intensities(rec, level, seed=0)[0], NOISE_LEVELS[level].i_sigma_outer)
    with pytest.raises(AssertionError):           # data made for another I/sigma are seen
        check_outer(simulate_intensities(rec, replace(NOISE_LEVELS[level], i_sigma_outer=2 * NOISE_LEVELS[level].i_sigma_outer), 0)[0],
                    NOISE_LEVELS[level].i_sigma_outer)


def check_incompleteness(rec, obs, counts, model):
    behind = int((rec.d > model.beam_stop_d).sum())
    assert counts['n_beam_stop'] == behind and not (obs.d_spacings().data().as_numpy_array() > model.beam_stop_d).any(), 'beam stop'
    n = len(rec) - behind                       # a binomial draw: within 4 standard deviations of the requested fraction
    assert abs(counts['n_missing'] - model.missing * n) < 4 * np.sqrt(n * model.missing * (1 - model.missing)) + 1, \
        f"{counts['n_missing']} of {n} missing, requested {model.missing}"
    assert obs.size() == len(rec) - counts['n_beam_stop'] - counts['n_missing']


def test_completeness_as_requested(rec):
    model = MeasurementModel(missing=0.2, beam_stop_d=5.0)
    obs, counts = simulate_intensities(rec, model, seed=1)
    check_incompleteness(rec, obs, counts, model)
    with pytest.raises(AssertionError): check_incompleteness(rec, obs, counts, replace(model, missing=0.1))
    f = measure(rec, model, seed=1)            # the missing reflections are absent from the amplitudes too
    assert len(f) == obs.size() - f.meta['n_rejected'] and (f.f >= 0).all() and np.isfinite(f.sigma).all()


def check_outliers(obs, clean, counts, model):
    "The zingers of `obs` are exactly where it differs from `clean` (the same seed without zingers), as many as `model` asks, by its amounts."
    jump = (obs.data() - clean.data()).as_numpy_array() / obs.sigmas().as_numpy_array()
    hit = np.flatnonzero(jump != 0)
    assert counts['n_outliers'] == round(model.outliers * obs.size()) == len(hit), (counts['n_outliers'], len(hit))
    idx = np.array(obs.indices()).reshape(-1, 3)[hit]
    assert sorted(map(tuple, idx)) == sorted(counts['outliers']) and ((jump[hit] >= model.zinger[0]) & (jump[hit] <= model.zinger[1])).all()


def test_outliers_counted(rec):
    model = MeasurementModel(outliers=0.01)
    obs, counts = simulate_intensities(rec, model, 2)
    clean, _ = simulate_intensities(rec, replace(model, outliers=0.0), 2)
    check_outliers(obs, clean, counts, model)
    assert counts['n_outliers'] == round(0.01 * obs.size()) > 10
    with pytest.raises(AssertionError): check_outliers(obs, clean, counts, replace(model, outliers=0.02))       # another fraction
    with pytest.raises(AssertionError): check_outliers(obs, clean, counts, replace(model, zinger=(60.0, 80.0)))  # other amounts


def test_settings_checked():
    with pytest.raises(ValueError, match=r'MeasurementModel\.missing=1\.5'): MeasurementModel(missing=1.5)
    with pytest.raises(ValueError, match='choose one of'): measure(None, 'medium')


def test_bench_measurement_thpp(bench_module):
    "bench/measurement.py on thpp: the measured row as merging gives it, the simulated rows at the requested outer-shell I/σ."
    from xrdphase.core import cctbx_test_data
    from xrdphase.measured import read_measured
    mod = bench_module('measurement')
    meas = read_measured(cctbx_test_data('thpp.hkl'), ins=str(cctbx_test_data('thpp.ins')))
    rows = {r['kind']: r for r in mod.compare('thpp', meas)}
    assert rows['measured']['i_sigma'] == pytest.approx(meas.merged()[1].overall['i_over_sigma'], rel=1e-9)
    for level, m in NOISE_LEVELS.items(): assert abs(rows[level]['i_sigma_outer'] / m.i_sigma_outer - 1) < 0.15
    assert '| thpp | middle |' in mod.table(list(rows.values()))
