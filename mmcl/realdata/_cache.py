"""Writing the realdata caches: one environment variable, atomic writes (private)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

#: The environment variable that overrides the cache directory.
CACHE_ENV = "MMCL_CACHE_DIR"


def save_atomically(path: Path, write) -> None:
    """Write a cache file atomically (readers never see half a file); a cache directory
    that cannot be written only costs the cache, with a warning."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(
            f"could not cache the emoji arrays in {path.parent} ({err}); set "
            f"${CACHE_ENV} or pass cache_dir= a writable folder",
            stacklevel=3,
        )
