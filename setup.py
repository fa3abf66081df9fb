"""Package metadata comes from settings.ini (nbdev 2 convention)."""
from configparser import ConfigParser
import setuptools, shlex, shutil
from pathlib import Path
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

# Two native-library clashes of cctbx-base, avoided by loading the right library first at interpreter start
# (the .pth and module below, put at the root of site-packages by both the wheel and the editable install):
# cctbx's bundled libstdc++ must load before any other C++ extension (matplotlib, scipy, torch, RDKit) or cctbx
# crashes; torch's libgomp must load before cctbx's stub OpenMP symbols or torch's threaded kernels compute wrong
# numbers. See nbs/00_import_order.ipynb.
PTH_FILES = ('xrdphase-cctbx-first.pth', '_xrdphase_cctbx_first.py')

# The measured results in reference/ (JSON, weights, configs, logs; not its driver script) travel in a wheel as
# xrdphase/reference, read-only: `xrdphase.core.reference_dir` finds them after `pip install .` (a clone or an
# editable install reads the repository's folder).
REFERENCE_FILES = sorted(p for p in Path('reference').rglob('*') if p.is_file() and p.suffix != '.py')

class build_py_pth(build_py):
    def run(self):
        super().run()
        for f in PTH_FILES: shutil.copy(f, Path(self.build_lib)/f)
        for f in REFERENCE_FILES:
            dest = Path(self.build_lib)/'xrdphase'/f
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    def get_outputs(self, *a, **k):
        return (super().get_outputs(*a, **k) + [str(Path(self.build_lib)/f) for f in PTH_FILES]
                + [str(Path(self.build_lib)/'xrdphase'/f) for f in REFERENCE_FILES])

class editable_wheel_pth(editable_wheel):
    def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
        res = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
        for f in PTH_FILES: shutil.copy(f, Path(unpacked_wheel)/f)
        return res

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

expected = 'version description keywords author author_email license min_python lib_name user'.split()
missing = [o for o in expected if o not in cfg]
if missing: raise KeyError(f"settings.ini is missing: {missing}")

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
lic = licenses[cfg['license']]
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
py_versions = '3.11 3.12'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
min_python = cfg['min_python']

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'License :: ' + lic[1],
                 'Natural Language :: ' + cfg['language'].title(),
                 'Topic :: Scientific/Engineering :: Chemistry',
                 'Topic :: Scientific/Engineering :: Physics'] +
                ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['xrdphase', 'xrdphase.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    cmdclass={'build_py': build_py_pth, 'editable_wheel': editable_wheel_pth},
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d'],
    },
    version=cfg['version'],
    description=cfg['description'],
    keywords=cfg['keywords'],
    author=cfg['author'],
    author_email=cfg['author_email'],
)
