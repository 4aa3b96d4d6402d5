"""Execute chapter notebooks in place with a real Jupyter kernel, as nbval and the book
expect.

Usage: python scripts/execute_notebooks.py book/01_two_modalities.ipynb [...] Outputs
(and widget state) are written back into each notebook; cells run with book/ as the
working directory, exactly as in the book build.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(paths):
    for p in map(Path, paths):
        nb = nbformat.read(p, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": str(p.parent)}},
        ).execute()
        nbformat.write(nb, p)
        print(f"{p}: executed in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
