"""Does the damping screen (``ClipProblem.pilot``) take the step the exact loss would?

Runs one SVD-iteration step at n pairs, d1 = d2 = 200, r = 10 (float32) and, for every
subsample loss the screen computes, also computes the exact loss at the same M (an extra
pass each; diagnostic only). Prints, per candidate, the rise on the subsample and the
exact rise, and whether each would reject it.

    python benchmarks/screen_check.py 100000
"""

from __future__ import annotations

import sys

import torch

import mmcl
import mmcl._iteration as it
import mmcl._matfree as mf


def main(n: int) -> None:
    d = mmcl.make_multimodal(
        n, 200, 200, 10, eta=0.8, noise=1.0, seed=0, dtype=torch.float32
    )
    pilot, screen_loss, seen = mf.ClipProblem.pilot, it._screen_loss, []

    def keep_parent(self):
        sub = pilot(self)
        if sub is not None:
            sub.parent = self
        return sub

    def both(sub, U, w, V):
        L = screen_loss(sub, U, w, V)
        st = sub.parent.state(U, w, V)
        sub.parent.release(st)
        seen.append((float(L), float(st["loss"])))
        return L

    mf.ClipProblem.pilot, it._screen_loss = keep_parent, both
    mmcl.svd_iteration(d.X, d.Y, 10, "clip", max_iter=1)
    (b_sub, b_exact), rise = seen[0], mf._PILOT_RISE
    print(f"n = {n}: start loss {b_exact:.4f} (subsample {b_sub:.4f})")
    for s, e in seen[1:]:
        print(
            f"candidate: subsample {s - b_sub:+.4f} (screen rejects: "
            f"{s > b_sub + rise * abs(b_sub)}), exact {e - b_exact:+.4f} "
            f"(exact rejects: {e > b_exact})"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]))
