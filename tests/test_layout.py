"""The package's layout rules, checked over the source's syntax trees.

No module imports a private name (``_x``) from another module of the package,
except from ``_validation``, ``utils`` (and ``utils/*``), ``io`` (and ``io/*``)
or its own sub-package: a private name is a module's own business, and what
several modules share lives in one of those places.
"""

import ast
from pathlib import Path

import pytest

import mtclassic

PACKAGE = Path(mtclassic.__file__).parent
# modules whose private names any module may use
SHARED = ("mtclassic._validation", "mtclassic.utils", "mtclassic.io")


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _package_of(module, path):
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve(node, package):
    """The absolute module name of an ``ImportFrom`` node."""
    if node.level == 0:
        return node.module or ""
    base = package.split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _allowed(importer, imported):
    if imported == importer:
        return True
    if any(imported == s or imported.startswith(s + ".") for s in SHARED):
        return True
    # its own sub-package (not the top-level package itself)
    own = importer.rpartition(".")[0]
    return own != "mtclassic" and (imported == own or imported.startswith(own + "."))


def _package_modules():
    return sorted(PACKAGE.rglob("*.py"))


def _is_package_module(full):
    path = PACKAGE.parent / full.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def _violations(path):
    module = _module_name(path)
    source = path.read_text(encoding="utf-8")
    return _violations_of_source(source, module, _package_of(module, path))


def _violations_of_source(text, module, package):
    """``"importer -> module.name"`` for every private name used across modules."""
    tree = ast.parse(text)
    aliases = {}  # local name -> package module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(node, package)
            if not source.startswith("mtclassic"):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if _is_package_module(full):
                    # a module itself (private or not): its private names are
                    # checked where they are used, as attributes
                    aliases[alias.asname or alias.name] = full
                elif _is_private(alias.name) and not _allowed(module, source):
                    found.append(f"{module} -> {source}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mtclassic"):
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _is_private(node.attr)
        ):
            source = aliases[node.value.id]
            if not _allowed(module, source):
                found.append(f"{module} -> {source}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "path", _package_modules(), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_private_import_across_modules(path):
    found = _violations(path)
    assert not found, (
        f"{path.relative_to(PACKAGE.parent)} uses private names of other modules: "
        f"{sorted(set(found))}; move what is shared to _validation or utils, or "
        "make it public."
    )


def test_the_check_catches_private_imports():
    source = (
        "from .preprocessing import _is_image_list\n"
        "from . import features as f\n"
        "from .utils import _sklearn_compat\n"
        "from ._validation import check_images, _PositivePair\n"
        "from mtclassic.heads import _forest_proba\n"
        "import mtclassic.strokes as s\n"
        "f._keep_dtype\n"
        "s._line_peak\n"
    )
    assert sorted(_violations_of_source(source, "mtclassic.probe", "mtclassic")) == [
        "mtclassic.probe -> mtclassic.features._keep_dtype",
        "mtclassic.probe -> mtclassic.heads._forest_proba",
        "mtclassic.probe -> mtclassic.preprocessing._is_image_list",
        "mtclassic.probe -> mtclassic.strokes._line_peak",
    ]
    # the same names inside their own sub-package are fine
    inside = "from ._idx import _header\n"
    assert _violations_of_source(inside, "mtclassic.io._images", "mtclassic.io") == []
