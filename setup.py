import os
import re

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "siamcorners", "__init__.py"), encoding="utf-8") as f:
    version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
with open(os.path.join(here, "requirements.txt"), encoding="utf-8") as f:
    requires = [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]

setup(
    name="siamcorners",
    version=version,
    description="SiamCorners: Siamese corner networks for visual tracking (PyTorch, no compiled extensions)",
    packages=find_packages(include=["siamcorners", "siamcorners.*"]),
    python_requires=">=3.9",
    install_requires=requires,
    extras_require={"dev": ["pytest>=7.4"]},
)
