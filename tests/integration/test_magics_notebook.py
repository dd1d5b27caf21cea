"""tests/notebooks/magics.ipynb, executed headless in a real Jupyter kernel, and its outputs checked.

The kernel is the virtual environment's ``python3`` kernelspec (ipykernel installs it there; jupyter_client
starts it with this interpreter). It gets the server address through ``CASSNB_HOSTS`` and imports cassnb from
this checkout through ``PYTHONPATH``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from tests.conftest import ServerAddress

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "magics.ipynb"
REPO = Path(__file__).parents[2]


def outputs_by_tag(notebook: Any) -> dict[str, list[dict[str, Any]]]:
    return {cell.metadata["tags"][0]: cell.outputs for cell in notebook.cells if cell.cell_type == "code"}


def plain_texts(outputs: list[dict[str, Any]]) -> list[str]:
    shown = ("display_data", "execute_result")
    return [o["data"]["text/plain"] for o in outputs if o["output_type"] in shown]


def streamed(outputs: list[dict[str, Any]], name: str = "stdout") -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == name)


@pytest.fixture(scope="module")
def executed(cassandra_address: ServerAddress, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert "python3" in KernelSpecManager().find_kernel_specs(), "no python3 kernel: pip install ipykernel"
    workdir = tmp_path_factory.mktemp("notebook")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CASSNB_HOSTS", f"{cassandra_address.host}:{cassandra_address.port}")
        env.setenv("CASSNB_CONNECTIONS_FILE", str(workdir / "connections.ini"))
        env.setenv("CASSNB_PROGRESS", "static")
        env.setenv("PYTHONPATH", str(REPO))
        for variable in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
            env.setenv(variable, str(workdir / variable.lower()))  # leave the home directory alone
        for variable in ("CASSNB_USER", "CASSNB_PASSWORD"):
            env.delenv(variable, raising=False)
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        ).execute()
    return outputs_by_tag(notebook)


def test_no_cell_failed_and_nothing_went_to_stderr(executed: dict[str, Any]) -> None:
    for tag, outputs in executed.items():
        assert not [o for o in outputs if o["output_type"] == "error"], tag
        assert streamed(outputs, "stderr") == "", (tag, streamed(outputs, "stderr"))


def test_load_ext_and_connect(executed: dict[str, Any], cassandra_address: ServerAddress) -> None:
    assert executed["load"] == []
    assert streamed(executed["connect"]).strip() == (
        f"connected default: {cassandra_address.host}:{cassandra_address.port}"
    )


def test_every_statement_of_a_cell_has_an_output(executed: dict[str, Any]) -> None:
    schema = plain_texts(executed["schema"])
    assert len(schema) == 3 and all(text.endswith("— OK") for text in schema)
    assert "{'class': 'SimpleStrategy', 'replication_factor': 1}" in schema[1]
    assert len(plain_texts(executed["insert"])) == 3


def test_select_shows_a_table_and_out_keeps_the_dataframe(executed: dict[str, Any]) -> None:
    [table] = [o for o in executed["select"] if o["output_type"] == "display_data"]
    assert "<table" in table["data"]["text/html"] and "3 rows" in table["data"]["text/html"]
    assert plain_texts(executed["out-variable"]) == ["['Nemo', 'Rex', 'Tom']"]


def test_await_cells(executed: dict[str, Any]) -> None:
    assert executed["await-connect"] == []
    [frame] = plain_texts(executed["await-dataframe"])
    assert frame.split() == "name age 0 Nemo 1 1 Rex 3 2 Tom 5".split()
    assert plain_texts(executed["await-stream"]) == ["['Nemo', 'Rex', 'Tom']"]


def test_the_magics_use_the_awaited_session(executed: dict[str, Any]) -> None:
    assert streamed(executed["attach"]).startswith("attached nb:")
    warning, count = plain_texts(executed["attach"])
    assert warning == "server warning: Aggregation query used without partition key"
    assert count.split() == ["n", "0", "3"]
    cleanup = executed["cleanup"]
    assert plain_texts(cleanup) == ["DROP KEYSPACE cassnb_nb_magics — OK"]
    assert streamed(cleanup).splitlines()[0].startswith("detached nb")
