"""quality_launch.py with fastText's actual start of the input matrix (issue 21): fastText 0.9.2/0.9.3
fills its input matrix in 10 blocks of rows, one block per training thread (DenseMatrix::uniform), so
with 2 threads only the first 2/10 of the rows (every word, then the first buckets) start uniform in
+-1/dim and the rest stay zero. Here the rows past that share start at zero too (THREAD_BLOCKS, default
2, the threads fastText ran with); combine with init_range=1.0,wide_from_updates=1 for its range.

    python benchmarks/results/subwords-sg-residual/ftstart_launch.py SETTINGS train corpus.txt -o v.bin ...
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

import quality_launch  # noqa: E402

from mtlembed import subwords  # noqa: E402

clear_unused_rows = subwords.clear_unused_rows
SHARE = int(os.environ.get("THREAD_BLOCKS", "2")) / 10


def fasttext_start(w_in, table):
    cleared = clear_unused_rows(w_in, table)
    w_in[int(SHARE * len(w_in)):] = 0
    return cleared


subwords.clear_unused_rows = fasttext_start
sys.exit(quality_launch.main())
