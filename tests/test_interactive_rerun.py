"""As a student does in JupyterLab: run a lesson top to bottom in one kernel, then run every cell again."""

import nbformat
import pytest

from recsys_utils.course import _ipc_kernel_manager_class, ensure_kernel, list_notebooks
from recsys_utils.paths import notebooks_dir

# The cheap lessons; the others are run again cell by cell by the same mechanism in a full local check.
RERUN = [nb for nb in list_notebooks() if nb.stem[:2] in ("00", "01")]


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", RERUN, ids=lambda p: p.stem)
def test_top_to_bottom_then_every_cell_again(notebook, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(tmp_path))
    # IPC kernels put their sockets in the working directory, so client and kernel must share it (papermill does the same).
    monkeypatch.chdir(notebooks_dir())
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, kernel_name=ensure_kernel(), timeout=600,
                            kernel_manager_class=_ipc_kernel_manager_class(),
                            resources={"metadata": {"path": str(notebooks_dir())}})
    with client.setup_kernel():
        for _pass in range(2):  # top to bottom, then every cell once more
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)  # raises CellExecutionError naming the cell
    assert (tmp_path / "results" / f"{notebook.stem}.json").exists()
