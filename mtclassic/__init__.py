"""mtclassic: handwritten character recognition with classical machine learning.

HOG and pixel features feed task heads (RBF SVMs for digits and letters, or a
random forest for letters); :class:`MultiTaskVotingClassifier` combines them into one
scikit-learn classifier over the union of their labels.

The public names are imported lazily, so that ``import mtclassic`` (and the
command line) stays fast and does not import scikit-image until it is used.
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "ImageNormalizer": "mtclassic.preprocessing",
    "HOGTransformer": "mtclassic.features",
    "PixelTransformer": "mtclassic.features",
    "make_features": "mtclassic.features",
    "AugmentedClassifier": "mtclassic.augment",
    "DigitClassifier": "mtclassic.heads",
    "LetterClassifier": "mtclassic.heads",
    "MultiTaskVotingClassifier": "mtclassic.multitask",
    "make_default_model": "mtclassic.models",
    "save_model": "mtclassic.persistence",
    "load_model": "mtclassic.persistence",
    "score_files": "mtclassic.scoring",
    "predict_dask": "mtclassic.scoring",
}

__all__ = sorted(_PUBLIC) + ["datasets", "__version__"]


def __getattr__(name):
    if name == "datasets":
        return importlib.import_module("mtclassic.datasets")
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'mtclassic' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


def __dir__():
    return __all__
