"""Build step of the wheel: copy the shipped config/ into the package as cti/_config/ (cti/shipped_config.py).

Everything else is in pyproject.toml. An editable install reads config/ in place and needs no copy.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONFIG = Path(__file__).resolve().parent / "config"


class BuildWithConfig(build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "cti" / "_config"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(CONFIG, target, ignore=shutil.ignore_patterns("__pycache__", "*~", ".*"))


setup(cmdclass={"build_py": BuildWithConfig})
