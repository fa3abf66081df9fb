"Fast tests of xrdphase.powder: input errors, worker-count independence, pickle-free files, CLI wiring."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json
import numpy as np
import pytest
from xrdphase import powder as P


@pytest.mark.parametrize('call, words', [
    (lambda: P.Profile(W=-2.0), ('Profile.W', '-2.0')),
    (lambda: P.Profile(X=-0.1), ('Profile.X', '-0.1')),
    (lambda: P.Profile(U=1, V=-50, W=1).fwhm_eta(60.0), ('Profile.V', '-50')),
    (lambda: P.as_waves(0.0), ('wavelength', '0.0')),
    (lambda: P.as_waves(((1.54, 1.0), (-1.0, 0.5))), ('wavelength', '-1.0')),
    (lambda: P.bragg_two_theta([2.0], -1.5), ('wavelength', '-1.5')),
    (lambda: P.render_peaks([3.0, 5.0, 4.0], [4.0], [1.0], 0.1, 0.5), ('grid', 'increasing')),
    (lambda: P.render_peaks(P.thesis_grid(), [], [], 0.1, 0.5), ('positions', 'empty')),
    (lambda: P.render_peaks(P.thesis_grid(), [2.5], [1.0], 0.1, 0.5), ('positions', '2.5', 'outside')),
    (lambda: P.render_peaks(P.thesis_grid(), [30.0], [1.0], -0.2, 0.5), ('fwhm', '-0.2')),
    (lambda: P.powder_lines([], [], [], 'CuKa1'), ('reflections', 'empty')),
    (lambda: P.generate_batch(0, 'x.npz'), ('n', '0')),
])
def test_bad_input_names_parameter(call, words):
    with pytest.raises(ValueError) as e: call()
    assert all(w in str(e.value) for w in words), str(e.value)


def test_profile_integrates_to_one_and_eta_limits():
    x = np.linspace(-60, 90, 150_001)
    y = P.asymmetric_profile(x, 10.0, 0.08, 0.5, 0.03, 0.02)
    assert abs(np.trapezoid(y, x) - 1) < 1e-3
    assert P.Profile(U=10, W=5).fwhm_eta(40.0)[1] == 0 and abs(P.Profile(X=3, Y=2).fwhm_eta(40.0)[1] - 1) < 1e-4


def test_batch_independent_of_workers_and_pickle_free(tmp_path):
    f1 = P.generate_batch(6, tmp_path/'w1.npz', seed=11, workers=1, progress=False)
    f2 = P.generate_batch(6, tmp_path/'w2.npz', seed=11, workers=2, progress=False, chunksize=2)
    with np.load(f1, allow_pickle=False) as a, np.load(f2, allow_pickle=False) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert a[k].dtype != object and a[k].tobytes() == b[k].tobytes(), k
        assert a['counts'].shape == (6, 4351) and a['counts'].dtype == np.int32
        assert json.loads(str(a['meta']))['base_seed'] == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ['w1.npz', 'w2.npz']   # no temporary debris


def test_cli_wiring(tmp_path):
    ap = argparse.ArgumentParser(prog='xrdphase'); P.add_cli(ap.add_subparsers(dest='cmd'))
    a = ap.parse_args(['powder', '--n', '2', '--out', str(tmp_path/'c.npz'), '--seed', '3', '--quiet'])
    assert a.func(a) == 0
    assert P.load_batch(tmp_path/'c.npz')['counts'].shape == (2, 4351)
