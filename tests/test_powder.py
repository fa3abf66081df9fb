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


def test_gaussian_width_units_match_gsas2():
    """σ² = U tan²θ + V tanθ + W + Z/cos²θ in centidegrees² (GSAS manual; GSAS-II GSASIIpwd.getWidthsCW / getgamFW):
    FWHM_G = √(8 ln 2 σ²) / 100 degrees; the thesis' divisor 1083 is a digit swap of 10⁴ / (8 ln 2) ≈ 1803."""
    import math
    assert abs(P.GSAS_GAUSS_DIV - 1803.4) < 0.05
    for two_theta, kw in [(20.0, dict(W=5.0)), (75.0, dict(U=30.0, V=-6.0, W=4.0)), (130.0, dict(U=12.0, W=2.0, Z=4.0))]:
        th = math.radians(two_theta / 2)
        sig2 = kw.get('U', 0) * math.tan(th)**2 + kw.get('V', 0) * math.tan(th) + kw.get('W', 0) + kw.get('Z', 0) / math.cos(th)**2
        fwhm_g, fwhm_l = P.Profile(**kw).widths(two_theta)
        assert abs(float(fwhm_g) - math.sqrt(8 * math.log(2) * sig2) / 100) < 1e-12 and fwhm_l == 0


def test_lorentzian_is_tchz_order():
    "Γ_L = (X tanθ + Y / cosθ) / 100: FullProf / TOPAS TCHZ order (GSAS writes X / cosθ + Y tanθ)."
    import math
    th = math.radians(70.0 / 2)
    assert abs(float(P.Profile(X=3.0).widths(70.0)[1]) - 0.03 * math.tan(th)) < 1e-12
    assert abs(float(P.Profile(Y=3.0).widths(70.0)[1]) - 0.03 / math.cos(th)) < 1e-12
