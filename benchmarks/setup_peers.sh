#!/usr/bin/env bash
# Install the peers mtlembed is compared with into the current Python env (or $PYTHON),
# each only if missing, then check that each one trains on the 1M-word corpus.
#
#   python -m venv --system-site-packages benchmarks/.cache/venv   # optional, keeps the
#   . benchmarks/.cache/venv/bin/activate                          # system env clean
#   bash benchmarks/setup_peers.sh            # FORCE=1 reinstalls fastText and word2vec
# The build logic and measurements behind it: benchmarks/README.md, "Peers".
set -euo pipefail

PY=${PYTHON:-python}
HERE=$(cd "$(dirname "$0")" && pwd)
FORCE=${FORCE:-0}
pip_install() { "$PY" -m pip install --disable-pip-version-check "$@"; }

echo "== python: $("$PY" -c 'import sys; print(sys.executable)')"

# gensim: the corpus_file mode lives in a compiled module; the wheels ship it.
if "$PY" -c 'import gensim.models.word2vec_corpusfile' 2>/dev/null; then
    echo "== gensim present: $("$PY" -c 'import gensim; print(gensim.__version__)')"
else
    pip_install "gensim>=4.3"
fi

# fastText: built from source with Python's default flags (-O3, baseline x86-64). Its
# setup.py means to add -march=native -funroll-loops but BuildExt.build_extensions()
# overwrites extra_compile_args; restoring them (CFLAGS) made training ~30% slower in
# CPU time on this AVX-512 machine, so the plain build users get is also the fastest one
# here. FASTTEXT_CFLAGS="..." FORCE=1 rebuilds with other flags (never from the wheel
# cache: a -march=native wheel must not be reused on another CPU). PyPI fasttext-wheel
# (prebuilt) is the fallback if the source build fails.
if [[ $FORCE == 1 ]] || ! "$PY" -c 'import fasttext' 2>/dev/null; then
    ft_args=(--force-reinstall --no-deps)
    # Flags only when asked: an empty CFLAGS in the environment replaces Python's own (-O3)
    # with current setuptools, and fastText then builds unoptimized (9x slower, seen 2026-12).
    ft_env=()
    if [[ -n ${FASTTEXT_CFLAGS:-} ]]; then
        ft_args+=(--no-cache-dir)
        ft_env=(CFLAGS="$FASTTEXT_CFLAGS" CXXFLAGS="$FASTTEXT_CFLAGS")
    fi
    if ! env "${ft_env[@]}" "$PY" -m pip install --disable-pip-version-check "${ft_args[@]}" "fasttext==0.9.3"; then
        echo "!! fasttext 0.9.3 did not build from source; falling back to fasttext-wheel" >&2
        pip_install fasttext-wheel
    fi
    pip_install -q numpy "pybind11>=2.2"
else
    echo "== fasttext present"
fi

# word2vec: PyPI `word2vec` compiles Google's C tools with gcc while its wheel is built
# and installs them as data files in <prefix>/bin. The build is -march=native too, so
# again no wheel cache. If build isolation fails (it needs setuptools_scm from the
# index), build against this env's setuptools instead.
w2v_bin() { "$PY" -c 'import sys, os; print(os.path.join(sys.prefix, "bin", "word2vec"))'; }
w2v_ok() { "$(w2v_bin)" 2>/dev/null | grep -q "WORD VECTOR estimation toolkit"; }
if [[ $FORCE == 1 ]] || ! w2v_ok; then
    command -v gcc >/dev/null || { echo "!! word2vec needs gcc to build its C tool" >&2; exit 1; }
    if ! pip_install --no-cache-dir --force-reinstall --no-deps "word2vec==0.11.1"; then
        echo "!! isolated build failed; retrying with --no-build-isolation" >&2
        pip_install -q setuptools "setuptools_scm[toml]>=3.4" wheel
        pip_install --no-cache-dir --force-reinstall --no-deps --no-build-isolation "word2vec==0.11.1"
    fi
    pip_install -q joblib
fi
w2v_ok || { echo "!! $(w2v_bin) is missing or not Google's word2vec" >&2; exit 1; }
echo "== word2vec binary: $(w2v_bin)"

# A 1-epoch run of each peer on the 1M-word corpus through the benchmark harness itself.
"$PY" "$HERE/prepare_corpus.py" --words 1M >/dev/null
"$PY" "$HERE/run.py" --words 1M --tools gensim,fasttext,word2vec --models sg --epochs 1 \
    --evaluator none --name setup-check --results-dir "$HERE/.cache"
echo "== all peers train"
