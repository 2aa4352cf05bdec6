"""The one part of the build that pyproject.toml cannot say: find the packages *and* map folders.

The sample programme (``data/samples``), the report notebooks (``pipelines``) and the guided
notebooks (``notebooks``) stay at the top of the source tree, where people and tests use them,
and go into the wheel as ``qiwidgets/_data/<name>``, where :mod:`qiwidgets.resources` finds them
with :mod:`importlib.resources` (its ``SHIPPED`` table names the same places;
``tests/test_packaging.py`` checks). Everything else is in ``pyproject.toml``.
"""

from setuptools import find_namespace_packages, setup

#: Package name inside the wheel -> folder in the source tree.
SHIPPED = {
    "qiwidgets._data.samples": "data/samples",
    "qiwidgets._data.pipelines": "pipelines",
    "qiwidgets._data.notebooks": "notebooks",
}

packages = [
    name
    for name in find_namespace_packages("src", include=["qiwidgets", "qiwidgets.*"])
    if "__pycache__" not in name
]

setup(packages=[*packages, *SHIPPED], package_dir={"": "src", **SHIPPED})
