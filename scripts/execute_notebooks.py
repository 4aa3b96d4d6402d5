"""Execute chapter notebooks in place with a real Jupyter kernel, as nbval and the book expect.

Usage: python scripts/execute_notebooks.py book/01_two_modalities.ipynb [...]
Outputs (and widget state) are written back into each notebook; cells run with book/ as the
working directory, exactly as in the book build. Image outputs are dropped before writing: nbval
never compares them and the book draws every figure again when it executes the chapter, so the
committed notebooks carry text only (tests/test_notebooks.py checks it).
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "application/pdf")


def strip_images(nb) -> int:
    """Remove image data from every output of ``nb`` in place; return how many were removed."""
    removed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in IMAGE_MIMES:
                if mime in data:
                    del data[mime]
                    removed += 1
            if "data" in out:
                out.get(
                    "metadata", {}
                ).clear()  # image sizes and the like describe removed data
    return removed


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
        strip_images(nb)
        nbformat.write(nb, p)
        print(f"{p}: executed in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
