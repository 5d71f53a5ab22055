"""The public API, pinned: any change to it makes a test here fail.

Literal lists of ``mtclassic.__all__``, the public names of every public
submodule (its ``__all__``, or its public classes and functions when it has
none), every command-line flag (introspected from the argparse parser) and the
grid keys of ``make_default_model()``. A refactor keeps them; an intended
change edits the literal here in the same commit, where review sees it.
"""

import argparse
import importlib
import inspect
import pkgutil

import pytest

import mtclassic
from mtclassic.cli import build_parser
from mtclassic.models import make_default_model

TOP_LEVEL = [
    "AugmentedClassifier",
    "DigitClassifier",
    "HOGTransformer",
    "ImageNormalizer",
    "LetterClassifier",
    "MultiTaskVotingClassifier",
    "PixelTransformer",
    "load_model",
    "make_default_model",
    "make_features",
    "predict_dask",
    "save_model",
    "score_files",
    "datasets",
    "__version__",
]

# module -> its public names (``__all__``, else public classes and functions)
PUBLIC_MODULES = {
    "mtclassic.augment": ["AugmentedClassifier", "distort"],
    "mtclassic.cli": ["build_parser", "main"],
    "mtclassic.datasets": [
        "clear_data_home",
        "fetch_emnist",
        "get_data_home",
        "load_idx",
        "load_image_folder",
        "make_characters",
        "save_idx",
    ],
    "mtclassic.features": ["HOGTransformer", "PixelTransformer", "make_features"],
    "mtclassic.filled": ["FilledCopiesPipeline", "filled_copies"],
    "mtclassic.heads": ["DigitClassifier", "LetterClassifier"],
    "mtclassic.io": [
        "Chunk",
        "IMAGE_EXTENSIONS",
        "atomic_writer",
        "closing_all",
        "load_idx",
        "open_inputs",
        "read_image",
        "read_labelled",
        "sample_images",
        "save_idx",
        "verify_idx",
    ],
    "mtclassic.metrics": [
        "LOOKALIKE_PAIRS",
        "cross_task_confusions",
        "is_lookalike",
        "per_task_accuracy",
        "routing_error",
        "task_of",
        "task_scores",
        "worst_confusions",
    ],
    "mtclassic.models": ["PRESETS", "make_default_model"],
    "mtclassic.multitask": ["DEFAULT_TASKS", "MultiTaskVotingClassifier", "OTHER"],
    "mtclassic.persistence": [
        "ModelVersionWarning",
        "UntrustedFileWarning",
        "UntrustedTypesError",
        "check_model_file",
        "class_tasks",
        "load_model",
        "metadata_path",
        "open_model_file",
        "read_metadata",
        "save_model",
    ],
    "mtclassic.plotting": [
        "default_tasks",
        "hog_cell_histograms",
        "model_tasks",
        "plot_confusion_matrix",
        "plot_hog",
        "plot_misclassified",
        "plot_task_accuracy",
        "task_accuracy",
    ],
    "mtclassic.preprocessing": ["ImageNormalizer"],
    "mtclassic.prior": ["adapt_task_prior", "estimate_prior", "shift_prior"],
    "mtclassic.scoring": [
        "OutputLockedError",
        "ScoringSummary",
        "predict_dask",
        "score_files",
    ],
    "mtclassic.strokes": ["StrokeRedrawer", "redraw_strokes", "thin"],
    # private helpers only (the door to scikit-learn's private API, issue 15):
    # a package without public names
    "mtclassic.utils": [],
}

# sub-command ("" for the top level) -> every argument in declaration order:
# (option strings or positional name, dest, action, nargs, default, choices,
#  required, type)
CLI = {
    "": [
        ("-h --help", "help", "Help", 0, "==SUPPRESS==", None, False, None),
        ("--version", "version", "Version", 0, "==SUPPRESS==", None, False, None),
    ],
    "demo": [
        ("-h --help", "help", "Help", 0, "==SUPPRESS==", None, False, None),
        ("--n-train", "n_train", "Store", None, 6000, None, False, "int"),
        ("--n-test", "n_test", "Store", None, 2000, None, False, "int"),
        ("--random-state", "random_state", "Store", None, 0, None, False, "int"),
        ("--n-jobs", "n_jobs", "Store", None, None, None, False, "int"),
    ],
    "train": [
        ("-h --help", "help", "Help", 0, "==SUPPRESS==", None, False, None),
        ("out", "out", "Store", None, None, None, True, None),
        ("--data", "data", "Store", "+", None, None, False, None),
        ("--n-train", "n_train", "Store", None, None, None, False, "int"),
        (
            "--preset",
            "preset",
            "Store",
            None,
            "accurate",
            ("accurate", "fast"),
            False,
            None,
        ),
        (
            "--tasks",
            "tasks",
            "Store",
            None,
            "auto",
            ("auto", "digits", "letters", "both"),
            False,
            None,
        ),
        (
            "--case-sensitive",
            "case_sensitive",
            "StoreTrue",
            0,
            False,
            None,
            False,
            None,
        ),
        ("--filled-copies", "filled_copies", "StoreTrue", 0, False, None, False, None),
        ("--random-state", "random_state", "Store", None, 0, None, False, "int"),
        ("--n-jobs", "n_jobs", "Store", None, None, None, False, "int"),
        ("--quiet", "quiet", "StoreTrue", 0, False, None, False, None),
        (
            "--idx-label-names",
            "idx_label_names",
            "Store",
            None,
            "0123456789",
            None,
            False,
            None,
        ),
        ("--transpose", "transpose", "StoreTrue", 0, False, None, False, None),
    ],
    "evaluate": [
        ("-h --help", "help", "Help", 0, "==SUPPRESS==", None, False, None),
        ("model", "model", "Store", None, None, None, True, None),
        ("--trusted", "trusted", "Append", None, None, None, False, None),
        ("data", "data", "Store", "*", None, None, True, None),
        ("--demo", "demo", "StoreTrue", 0, False, None, False, None),
        ("--report", "report", "Store", None, None, None, False, None),
        ("--n-samples", "n_samples", "Store", None, 2000, None, False, "int"),
        ("--random-state", "random_state", "Store", None, 1, None, False, "int"),
        (
            "--idx-label-names",
            "idx_label_names",
            "Store",
            None,
            "0123456789",
            None,
            False,
            None,
        ),
        ("--max-images", "max_images", "Store", None, 25, None, False, "int"),
        (
            "--task-prior",
            "task_prior",
            "Store",
            None,
            "auto",
            ("auto", "batch", "fixed"),
            False,
            None,
        ),
        ("--transpose", "transpose", "StoreTrue", 0, False, None, False, None),
    ],
    "score": [
        ("-h --help", "help", "Help", 0, "==SUPPRESS==", None, False, None),
        ("model", "model", "Store", None, None, None, True, None),
        ("--trusted", "trusted", "Append", None, None, None, False, None),
        ("inputs", "inputs", "Store", "+", None, None, True, None),
        ("--out", "out", "Store", None, None, None, True, None),
        ("--format", "format", "Store", None, "csv", ("csv", "jsonl"), False, None),
        ("--top-k", "top_k", "Store", None, 1, None, False, "int"),
        ("--resume", "resume", "StoreTrue", 0, False, None, False, None),
        ("--errors", "errors", "Store", None, None, None, False, None),
        ("--n-jobs", "n_jobs", "Store", None, None, None, False, "int"),
        ("--chunk-size", "chunk_size", "Store", None, 2048, None, False, "int"),
        ("--quiet", "quiet", "StoreTrue", 0, False, None, False, None),
        (
            "--task-prior",
            "task_prior",
            "Store",
            None,
            "auto",
            ("auto", "batch", "fixed"),
            False,
            None,
        ),
        ("--transpose", "transpose", "StoreTrue", 0, False, None, False, None),
        ("--scheduler", "scheduler", "Store", None, None, None, False, None),
        ("--dask-local", "dask_local", "Store", None, None, None, False, "int"),
    ],
}

# the sub-commands, in the order ``mtclassic --help`` lists them
COMMANDS = ["demo", "train", "evaluate", "score"]

# mutually exclusive flags of each sub-command
EXCLUSIVE = {"score": [["scheduler", "dask_local"]]}

# sorted(make_default_model(preset=...).get_params(deep=True)): the keys a
# grid search can set; "accurate" (the default) has an SVM letters head
GRID_KEYS = [
    "features",
    "features__hog",
    "features__hog__block_norm",
    "features__hog__cells_per_block",
    "features__hog__chunk_size",
    "features__hog__dtype",
    "features__hog__image_shape",
    "features__hog__n_jobs",
    "features__hog__orientations",
    "features__hog__pixels_per_cell",
    "features__hog__transform_sqrt",
    "features__n_jobs",
    "features__pixels",
    "features__pixels__downsample",
    "features__pixels__dtype",
    "features__pixels__image_shape",
    "features__pixels__scale",
    "features__redrawn",
    "features__redrawn__features",
    "features__redrawn__features__hog",
    "features__redrawn__features__hog__block_norm",
    "features__redrawn__features__hog__cells_per_block",
    "features__redrawn__features__hog__chunk_size",
    "features__redrawn__features__hog__dtype",
    "features__redrawn__features__hog__image_shape",
    "features__redrawn__features__hog__n_jobs",
    "features__redrawn__features__hog__orientations",
    "features__redrawn__features__hog__pixels_per_cell",
    "features__redrawn__features__hog__transform_sqrt",
    "features__redrawn__features__n_jobs",
    "features__redrawn__features__pixels",
    "features__redrawn__features__pixels__downsample",
    "features__redrawn__features__pixels__dtype",
    "features__redrawn__features__pixels__image_shape",
    "features__redrawn__features__pixels__scale",
    "features__redrawn__features__transformer_list",
    "features__redrawn__features__transformer_weights",
    "features__redrawn__features__verbose",
    "features__redrawn__features__verbose_feature_names_out",
    "features__redrawn__memory",
    "features__redrawn__steps",
    "features__redrawn__strokes",
    "features__redrawn__strokes__image_shape",
    "features__redrawn__strokes__ink_threshold",
    "features__redrawn__strokes__n_jobs",
    "features__redrawn__strokes__pen_width",
    "features__redrawn__transform_input",
    "features__redrawn__verbose",
    "features__transformer_list",
    "features__transformer_weights",
    "features__verbose",
    "features__verbose_feature_names_out",
    "filled_copies",
    "memory",
    "normalize",
    "normalize__box_size",
    "normalize__chunk_size",
    "normalize__deskew",
    "normalize__image_shape",
    "normalize__image_size",
    "normalize__ink_threshold",
    "normalize__max_edge_speck",
    "normalize__n_jobs",
    "normalize__polarity",
    "normalize__stroke_width",
    "steps",
    "transform_input",
    "verbose",
    "vote",
    "vote__digits",
    "vote__digits__C",
    "vote__digits__active_set_size",
    "vote__digits__cache_size",
    "vote__digits__calibration",
    "vote__digits__calibration_size",
    "vote__digits__gamma",
    "vote__digits__kernel_dtype",
    "vote__digits__max_samples_per_class",
    "vote__digits__n_components",
    "vote__digits__n_jobs",
    "vote__digits__pca_components",
    "vote__digits__pca_whiten",
    "vote__digits__random_state",
    "vote__digits__scaling",
    "vote__digits__shrinking",
    "vote__digits__solver",
    "vote__digits__verbose",
    "vote__estimators",
    "vote__gate",
    "vote__gate__C",
    "vote__gate__active_set_size",
    "vote__gate__cache_size",
    "vote__gate__calibration",
    "vote__gate__calibration_size",
    "vote__gate__gamma",
    "vote__gate__kernel_dtype",
    "vote__gate__max_samples_per_class",
    "vote__gate__n_components",
    "vote__gate__n_jobs",
    "vote__gate__pca_components",
    "vote__gate__pca_whiten",
    "vote__gate__random_state",
    "vote__gate__scaling",
    "vote__gate__shrinking",
    "vote__gate__solver",
    "vote__gate__verbose",
    "vote__gate_columns",
    "vote__gate_target",
    "vote__head_columns",
    "vote__letters",
    "vote__letters__C",
    "vote__letters__active_set_size",
    "vote__letters__cache_size",
    "vote__letters__calibration",
    "vote__letters__calibration_size",
    "vote__letters__gamma",
    "vote__letters__kernel_dtype",
    "vote__letters__max_samples_per_class",
    "vote__letters__n_components",
    "vote__letters__n_jobs",
    "vote__letters__pca_components",
    "vote__letters__pca_whiten",
    "vote__letters__random_state",
    "vote__letters__scaling",
    "vote__letters__shrinking",
    "vote__letters__solver",
    "vote__letters__verbose",
    "vote__membership",
    "vote__n_jobs",
    "vote__task_prior",
    "vote__tasks",
    "vote__verbose",
    "vote__weights",
]

# "fast": the keys of "accurate", but the forest's for the letters head
LETTERS_FOREST_KEYS = [
    "vote__letters__class_weight",
    "vote__letters__extra_trees",
    "vote__letters__max_depth",
    "vote__letters__max_features",
    "vote__letters__min_samples_leaf",
    "vote__letters__n_estimators",
    "vote__letters__n_jobs",
    "vote__letters__random_state",
    "vote__letters__verbose",
]
GRID_KEYS_FAST = sorted(
    [key for key in GRID_KEYS if not key.startswith("vote__letters__")]
    + LETTERS_FOREST_KEYS
)

# preset='best': the accurate preset with virtual support vectors on the digits
# head, distorted copies for the letters SVM, its heads and gate each with
# their own features
GRID_KEYS_BEST = [
    "filled_copies",
    "memory",
    "normalize",
    "normalize__box_size",
    "normalize__chunk_size",
    "normalize__deskew",
    "normalize__image_shape",
    "normalize__image_size",
    "normalize__ink_threshold",
    "normalize__max_edge_speck",
    "normalize__n_jobs",
    "normalize__polarity",
    "normalize__stroke_width",
    "steps",
    "transform_input",
    "verbose",
    "vote",
    "vote__digits",
    "vote__digits__elastic",
    "vote__digits__estimator",
    "vote__digits__estimator__features",
    "vote__digits__estimator__features__hog",
    "vote__digits__estimator__features__hog__block_norm",
    "vote__digits__estimator__features__hog__cells_per_block",
    "vote__digits__estimator__features__hog__chunk_size",
    "vote__digits__estimator__features__hog__dtype",
    "vote__digits__estimator__features__hog__image_shape",
    "vote__digits__estimator__features__hog__n_jobs",
    "vote__digits__estimator__features__hog__orientations",
    "vote__digits__estimator__features__hog__pixels_per_cell",
    "vote__digits__estimator__features__hog__transform_sqrt",
    "vote__digits__estimator__features__n_jobs",
    "vote__digits__estimator__features__pixels",
    "vote__digits__estimator__features__pixels__downsample",
    "vote__digits__estimator__features__pixels__dtype",
    "vote__digits__estimator__features__pixels__image_shape",
    "vote__digits__estimator__features__pixels__scale",
    "vote__digits__estimator__features__redrawn",
    "vote__digits__estimator__features__redrawn__features",
    "vote__digits__estimator__features__redrawn__features__hog",
    "vote__digits__estimator__features__redrawn__features__hog__block_norm",
    "vote__digits__estimator__features__redrawn__features__hog__cells_per_block",
    "vote__digits__estimator__features__redrawn__features__hog__chunk_size",
    "vote__digits__estimator__features__redrawn__features__hog__dtype",
    "vote__digits__estimator__features__redrawn__features__hog__image_shape",
    "vote__digits__estimator__features__redrawn__features__hog__n_jobs",
    "vote__digits__estimator__features__redrawn__features__hog__orientations",
    "vote__digits__estimator__features__redrawn__features__hog__pixels_per_cell",
    "vote__digits__estimator__features__redrawn__features__hog__transform_sqrt",
    "vote__digits__estimator__features__redrawn__features__n_jobs",
    "vote__digits__estimator__features__redrawn__features__pixels",
    "vote__digits__estimator__features__redrawn__features__pixels__downsample",
    "vote__digits__estimator__features__redrawn__features__pixels__dtype",
    "vote__digits__estimator__features__redrawn__features__pixels__image_shape",
    "vote__digits__estimator__features__redrawn__features__pixels__scale",
    "vote__digits__estimator__features__redrawn__features__transformer_list",
    "vote__digits__estimator__features__redrawn__features__transformer_weights",
    "vote__digits__estimator__features__redrawn__features__verbose",
    "vote__digits__estimator__features__redrawn__features__verbose_feature_names_out",
    "vote__digits__estimator__features__redrawn__memory",
    "vote__digits__estimator__features__redrawn__steps",
    "vote__digits__estimator__features__redrawn__strokes",
    "vote__digits__estimator__features__redrawn__strokes__image_shape",
    "vote__digits__estimator__features__redrawn__strokes__ink_threshold",
    "vote__digits__estimator__features__redrawn__strokes__n_jobs",
    "vote__digits__estimator__features__redrawn__strokes__pen_width",
    "vote__digits__estimator__features__redrawn__transform_input",
    "vote__digits__estimator__features__redrawn__verbose",
    "vote__digits__estimator__features__transformer_list",
    "vote__digits__estimator__features__transformer_weights",
    "vote__digits__estimator__features__verbose",
    "vote__digits__estimator__features__verbose_feature_names_out",
    "vote__digits__estimator__memory",
    "vote__digits__estimator__steps",
    "vote__digits__estimator__svm",
    "vote__digits__estimator__svm__C",
    "vote__digits__estimator__svm__active_set_size",
    "vote__digits__estimator__svm__cache_size",
    "vote__digits__estimator__svm__calibration",
    "vote__digits__estimator__svm__calibration_size",
    "vote__digits__estimator__svm__gamma",
    "vote__digits__estimator__svm__kernel_dtype",
    "vote__digits__estimator__svm__max_samples_per_class",
    "vote__digits__estimator__svm__n_components",
    "vote__digits__estimator__svm__n_jobs",
    "vote__digits__estimator__svm__pca_components",
    "vote__digits__estimator__svm__pca_whiten",
    "vote__digits__estimator__svm__random_state",
    "vote__digits__estimator__svm__scaling",
    "vote__digits__estimator__svm__shrinking",
    "vote__digits__estimator__svm__solver",
    "vote__digits__estimator__svm__verbose",
    "vote__digits__estimator__transform_input",
    "vote__digits__estimator__verbose",
    "vote__digits__image_shape",
    "vote__digits__method",
    "vote__digits__n_copies",
    "vote__digits__random_state",
    "vote__digits__strength",
    "vote__digits__vsv_rotation",
    "vote__digits__vsv_shifts",
    "vote__estimators",
    "vote__gate",
    "vote__gate__features",
    "vote__gate__features__features",
    "vote__gate__features__features__hog",
    "vote__gate__features__features__hog__block_norm",
    "vote__gate__features__features__hog__cells_per_block",
    "vote__gate__features__features__hog__chunk_size",
    "vote__gate__features__features__hog__dtype",
    "vote__gate__features__features__hog__image_shape",
    "vote__gate__features__features__hog__n_jobs",
    "vote__gate__features__features__hog__orientations",
    "vote__gate__features__features__hog__pixels_per_cell",
    "vote__gate__features__features__hog__transform_sqrt",
    "vote__gate__features__features__n_jobs",
    "vote__gate__features__features__pixels",
    "vote__gate__features__features__pixels__downsample",
    "vote__gate__features__features__pixels__dtype",
    "vote__gate__features__features__pixels__image_shape",
    "vote__gate__features__features__pixels__scale",
    "vote__gate__features__features__transformer_list",
    "vote__gate__features__features__transformer_weights",
    "vote__gate__features__features__verbose",
    "vote__gate__features__features__verbose_feature_names_out",
    "vote__gate__features__memory",
    "vote__gate__features__steps",
    "vote__gate__features__strokes",
    "vote__gate__features__strokes__image_shape",
    "vote__gate__features__strokes__ink_threshold",
    "vote__gate__features__strokes__n_jobs",
    "vote__gate__features__strokes__pen_width",
    "vote__gate__features__transform_input",
    "vote__gate__features__verbose",
    "vote__gate__memory",
    "vote__gate__steps",
    "vote__gate__svm",
    "vote__gate__svm__C",
    "vote__gate__svm__active_set_size",
    "vote__gate__svm__cache_size",
    "vote__gate__svm__calibration",
    "vote__gate__svm__calibration_size",
    "vote__gate__svm__gamma",
    "vote__gate__svm__kernel_dtype",
    "vote__gate__svm__max_samples_per_class",
    "vote__gate__svm__n_components",
    "vote__gate__svm__n_jobs",
    "vote__gate__svm__pca_components",
    "vote__gate__svm__pca_whiten",
    "vote__gate__svm__random_state",
    "vote__gate__svm__scaling",
    "vote__gate__svm__shrinking",
    "vote__gate__svm__solver",
    "vote__gate__svm__verbose",
    "vote__gate__transform_input",
    "vote__gate__verbose",
    "vote__gate_columns",
    "vote__gate_target",
    "vote__head_columns",
    "vote__letters",
    "vote__letters__elastic",
    "vote__letters__estimator",
    "vote__letters__estimator__features",
    "vote__letters__estimator__features__hog",
    "vote__letters__estimator__features__hog__block_norm",
    "vote__letters__estimator__features__hog__cells_per_block",
    "vote__letters__estimator__features__hog__chunk_size",
    "vote__letters__estimator__features__hog__dtype",
    "vote__letters__estimator__features__hog__image_shape",
    "vote__letters__estimator__features__hog__n_jobs",
    "vote__letters__estimator__features__hog__orientations",
    "vote__letters__estimator__features__hog__pixels_per_cell",
    "vote__letters__estimator__features__hog__transform_sqrt",
    "vote__letters__estimator__features__n_jobs",
    "vote__letters__estimator__features__pixels",
    "vote__letters__estimator__features__pixels__downsample",
    "vote__letters__estimator__features__pixels__dtype",
    "vote__letters__estimator__features__pixels__image_shape",
    "vote__letters__estimator__features__pixels__scale",
    "vote__letters__estimator__features__redrawn",
    "vote__letters__estimator__features__redrawn__features",
    "vote__letters__estimator__features__redrawn__features__hog",
    "vote__letters__estimator__features__redrawn__features__hog__block_norm",
    "vote__letters__estimator__features__redrawn__features__hog__cells_per_block",
    "vote__letters__estimator__features__redrawn__features__hog__chunk_size",
    "vote__letters__estimator__features__redrawn__features__hog__dtype",
    "vote__letters__estimator__features__redrawn__features__hog__image_shape",
    "vote__letters__estimator__features__redrawn__features__hog__n_jobs",
    "vote__letters__estimator__features__redrawn__features__hog__orientations",
    "vote__letters__estimator__features__redrawn__features__hog__pixels_per_cell",
    "vote__letters__estimator__features__redrawn__features__hog__transform_sqrt",
    "vote__letters__estimator__features__redrawn__features__n_jobs",
    "vote__letters__estimator__features__redrawn__features__pixels",
    "vote__letters__estimator__features__redrawn__features__pixels__downsample",
    "vote__letters__estimator__features__redrawn__features__pixels__dtype",
    "vote__letters__estimator__features__redrawn__features__pixels__image_shape",
    "vote__letters__estimator__features__redrawn__features__pixels__scale",
    "vote__letters__estimator__features__redrawn__features__transformer_list",
    "vote__letters__estimator__features__redrawn__features__transformer_weights",
    "vote__letters__estimator__features__redrawn__features__verbose",
    "vote__letters__estimator__features__redrawn__features__verbose_feature_names_out",
    "vote__letters__estimator__features__redrawn__memory",
    "vote__letters__estimator__features__redrawn__steps",
    "vote__letters__estimator__features__redrawn__strokes",
    "vote__letters__estimator__features__redrawn__strokes__image_shape",
    "vote__letters__estimator__features__redrawn__strokes__ink_threshold",
    "vote__letters__estimator__features__redrawn__strokes__n_jobs",
    "vote__letters__estimator__features__redrawn__strokes__pen_width",
    "vote__letters__estimator__features__redrawn__transform_input",
    "vote__letters__estimator__features__redrawn__verbose",
    "vote__letters__estimator__features__transformer_list",
    "vote__letters__estimator__features__transformer_weights",
    "vote__letters__estimator__features__verbose",
    "vote__letters__estimator__features__verbose_feature_names_out",
    "vote__letters__estimator__memory",
    "vote__letters__estimator__steps",
    "vote__letters__estimator__svm",
    "vote__letters__estimator__svm__C",
    "vote__letters__estimator__svm__active_set_size",
    "vote__letters__estimator__svm__cache_size",
    "vote__letters__estimator__svm__calibration",
    "vote__letters__estimator__svm__calibration_size",
    "vote__letters__estimator__svm__gamma",
    "vote__letters__estimator__svm__kernel_dtype",
    "vote__letters__estimator__svm__max_samples_per_class",
    "vote__letters__estimator__svm__n_components",
    "vote__letters__estimator__svm__n_jobs",
    "vote__letters__estimator__svm__pca_components",
    "vote__letters__estimator__svm__pca_whiten",
    "vote__letters__estimator__svm__random_state",
    "vote__letters__estimator__svm__scaling",
    "vote__letters__estimator__svm__shrinking",
    "vote__letters__estimator__svm__solver",
    "vote__letters__estimator__svm__verbose",
    "vote__letters__estimator__transform_input",
    "vote__letters__estimator__verbose",
    "vote__letters__image_shape",
    "vote__letters__method",
    "vote__letters__n_copies",
    "vote__letters__random_state",
    "vote__letters__strength",
    "vote__letters__vsv_rotation",
    "vote__letters__vsv_shifts",
    "vote__membership",
    "vote__n_jobs",
    "vote__task_prior",
    "vote__tasks",
    "vote__verbose",
    "vote__weights",
]


def _public_modules():
    names = []
    for info in pkgutil.walk_packages(mtclassic.__path__, "mtclassic."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def _public_names(module_name):
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return sorted(module.__all__)
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module_name
    )


def _describe(parser):
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        rows.append(
            (
                " ".join(action.option_strings) or action.dest,
                action.dest,
                type(action).__name__.strip("_").removesuffix("Action"),
                action.nargs,
                action.default,
                tuple(action.choices) if action.choices else None,
                action.required,
                action.type.__name__ if action.type else None,
            )
        )
    return rows


def _subparsers(parser):
    (action,) = [
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ]
    return action.choices


def test_top_level_names():
    assert list(mtclassic.__all__) == TOP_LEVEL
    for name in TOP_LEVEL:
        assert getattr(mtclassic, name) is not None


def test_public_modules_and_their_names():
    assert _public_modules() == sorted(PUBLIC_MODULES)
    for module_name, names in PUBLIC_MODULES.items():
        assert _public_names(module_name) == names, module_name
        module = importlib.import_module(module_name)
        for name in names:
            assert hasattr(module, name), f"{module_name}.{name}"


def test_commands():
    assert list(_subparsers(build_parser())) == COMMANDS


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_command_flags(command):
    parser = build_parser()
    if command:
        parser = _subparsers(parser)[command]
    assert _describe(parser) == CLI[command]
    groups = [
        [action.dest for action in group._group_actions]
        for group in parser._mutually_exclusive_groups
    ]
    assert groups == EXCLUSIVE.get(command, [])


@pytest.mark.parametrize(
    "preset, keys", [("accurate", GRID_KEYS), ("fast", GRID_KEYS_FAST)]
)
def test_grid_keys(preset, keys):
    assert sorted(make_default_model(preset=preset).get_params(deep=True)) == keys


def test_best_preset_grid_keys():
    assert (
        sorted(make_default_model(preset="best").get_params(deep=True))
        == GRID_KEYS_BEST
    )


def test_default_preset_grid_keys():
    assert sorted(make_default_model().get_params(deep=True)) == GRID_KEYS
