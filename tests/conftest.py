"""pytest setup: xrdphase first (cctbx's C++ runtime before torch/matplotlib), and shared fixtures."""
import xrdphase  # noqa: F401
import os, pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope='session')
def cod():
    "The COD folder (../shared/cod or $XRDPHASE_COD); skips the test with a visible reason when absent."
    from xrdphase.core import cod_dir
    d = cod_dir()
    if d is None: pytest.skip('COD structures not found (../shared/cod or $XRDPHASE_COD): skipped')
    return d
