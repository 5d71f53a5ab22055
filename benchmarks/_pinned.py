"""Import first, before numpy: BLAS/OpenMP on one thread each.

Parallelism only where a benchmark asks for it (``--n-jobs``), and timings
that repeat on a shared machine. An explicit setting in the environment wins.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
