"""The notebooks: committed without outputs, and every cell runs (small sizes)."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # each notebook runs in a kernel of its own

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO / "notebooks"
NOTEBOOKS = ["01_quickstart.ipynb", "02_grid_search.ipynb", "03_batch_scoring.ipynb"]
CELL_TIMEOUT = 180  # seconds; the slowest cell (the grid search) takes far less


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_notebooks", NOTEBOOKS_DIR / "make_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    notebook = json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code_cells
    assert all(cell["outputs"] == [] for cell in code_cells)
    assert all(cell["execution_count"] is None for cell in code_cells)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


def test_notebooks_are_what_the_generator_writes():
    generator = _generator()
    assert sorted(generator.NOTEBOOKS) == NOTEBOOKS
    for name, cells in generator.NOTEBOOKS.items():
        written = json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))
        expected = generator.build(cells)
        # the cells, not the file's formatting, which nbformat versions vary
        assert [(c["cell_type"], "".join(c["source"])) for c in written["cells"]] == [
            (c.cell_type, c.source) for c in expected.cells
        ], f"{name} differs from notebooks/make_notebooks.py; run that script."


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A 'python3' kernel running this interpreter, small sizes, generated data."""
    kernel_dir = tmp_path / "jupyter" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "Python 3 (mtclassic tests)",
                "language": "python",
            }
        )
    )
    # JUPYTER_PATH is searched before the system's kernels; the kernel then
    # imports this checkout of mtclassic even when it is not installed.
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", str(REPO) + (os.pathsep + pythonpath if pythonpath else "")
    )
    monkeypatch.setenv("MTCLASSIC_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MTCLASSIC_DATA", "synthetic")  # never ../shared/data here
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


def _outputs(notebook, output_type):
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == output_type
    ]


def _stdout(notebook):
    return "".join(
        output.text
        for output in _outputs(notebook, "stream")
        if output.name == "stdout"
    )


def _png_count(notebook):
    return sum(
        "image/png" in output.data for output in _outputs(notebook, "display_data")
    )


# What each notebook must print and how many figures it must show (01: the
# samples, accuracy bars, confusion matrix, mistakes, HOG), so that a
# notebook that silently skips its work fails too.
EXPECTED = {
    "01_quickstart.ipynb": (["digits ", "letters ", "combined "], 5),
    "02_grid_search.ipynb": (
        ["data: generated (make_characters)", "best: {", "rank"],
        1,
    ),
    "03_batch_scoring.ipynb": (
        ["144 images scored", "Dask output identical to the local one: True"],
        0,
    ),
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, kernel_env):
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # a failing cell raises CellExecutionError
    assert not _outputs(notebook, "error")
    texts, n_figures = EXPECTED[name]
    stdout = _stdout(notebook)
    for text in texts:
        assert text in stdout
    assert _png_count(notebook) >= n_figures
