"""``import cassnb`` is the async core only: pandas, pyarrow and IPython come with the first use of what
needs them, so a web service that only runs queries pays for none of them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "IPython", "ipywidgets")


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_import_cassnb_imports_no_pandas_pyarrow_or_ipython() -> None:
    loaded = run(f"import sys, cassnb; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert loaded == "[]"


def test_the_dataframe_and_file_names_are_there_on_first_use() -> None:
    shown = run(
        "import sys, cassnb\n"
        "names = ('query_df', 'more', 'stream_frames', 'frame_info', 'FrameInfo', 'FrameStream', 'export',\n"
        "         'export_table', 'load', 'ExportReport', 'LoadReport')\n"
        "assert set(names) <= set(dir(cassnb)) and set(names) <= set(cassnb.__all__)\n"
        "from cassnb import query_df, load\n"
        "print(query_df.__module__, load.__module__, 'pandas' in sys.modules, cassnb.frames.__name__)"
    )
    assert shown == "cassnb.frames cassnb.loading._load True cassnb.frames"


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert run("import cassnb\ntry:\n    cassnb.nope\nexcept AttributeError as e:\n    print(e)") == (
        "module 'cassnb' has no attribute 'nope'"
    )
