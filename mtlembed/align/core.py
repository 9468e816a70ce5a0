"""`align`: map one embedding space onto another, with a dictionary or without.

Methods (each fits orthogonal maps of the normalized source; `multistep` may end it):

* ``procrustes``: one orthogonal Procrustes fit on the seed dictionary
  (Xing et al., 2015; MUSE's supervised mode without refinement);
* ``iterative``: then `iterations` rounds of refinement: induce a dictionary
  of mutual CSLS nearest neighbours among the `cutoff` most frequent words
  (15,000 as MUSE), re-fit (MUSE's refinement, Conneau et al., 2018);
* ``self-learning``: VecMap's self-learning (Artetxe et al., 2017, 2018):
  induce in both directions (`direction` "union") among the 20,000 most
  frequent words, re-fit, until the criterion stops improving by more than
  `threshold`; with `stochastic` < 1 each score is kept with that probability,
  doubled whenever the criterion stalls, until 1.

The seed dictionary is given pairs, or the words spelled the same on both
sides (identical strings and numerals) when there is none. A given dictionary
stays in every induced one (`keep_seed`). Each fit is scored by `criterion`:
MUSE's mean cosine of the CSLS translations of the 10,000 most frequent source
words, or the mean CSLS score of every word's best match in both directions;
the best fit is kept, so refinement never ends below the seed fit by it.
With `multistep` (the default), the kept dictionary finally fits VecMap's
multi-step map (Artetxe et al., 2018, AAAI: whiten, map, re-weight, de-whiten),
which maps both spaces and is not orthogonal.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from mtlembed.errors import ConfigError, FormatError
from mtlembed.eval.vectors import resolve

from .induction import DIRECTIONS, dictionary_pairs, identical_pairs, induce
from .orthogonal import multistep, normalize, parse_normalization, procrustes

__all__ = ["CRITERIA", "METHODS", "SEEDS", "AlignOptions", "align"]

METHODS = ("procrustes", "iterative", "self-learning")
SEEDS = ("dictionary", "identical", "numerals")
CRITERIA = ("mean-cosine", "csls")
_MAP_ROWS = 1 << 15  # rows mapped at once (a float64 block of 32k x 300 is 79 MB)


@dataclass(frozen=True)
class AlignOptions:
    """How to align; None fields take the method's default (see `resolved`)."""

    method: str = "iterative"
    normalize: tuple[str, ...] = ("unit", "center", "unit")
    iterations: int | None = None     # iterative: 5 refinements; self-learning: at most 100
    cutoff: int | None = None         # most frequent words taking part in induction: 15,000 / 20,000
    direction: str | None = None      # mutual (iterative) / union (self-learning)
    csls_k: int = 10
    threshold: float = 1e-3           # self-learning stops below this gain of the criterion
    stochastic: float = 1.0           # initial probability of keeping a score (1: deterministic)
    seed: int = 1
    criterion: str = "mean-cosine"    # model selection: MUSE's mean cosine, or the CSLS objective ("csls")
    keep_seed: bool | None = None     # the seed pairs stay in every induced dictionary (default: a given one)
    multistep: bool = True            # end with VecMap's whiten/re-weight/de-whiten map (not orthogonal)

    def resolved(self) -> AlignOptions:
        if self.method not in METHODS:
            raise ConfigError(f"alignment method must be one of {', '.join(METHODS)}, got {self.method!r}")
        iterative = self.method == "iterative"
        options = replace(
            self, normalize=parse_normalization(self.normalize),
            iterations=self.iterations if self.iterations is not None else (5 if iterative else 100),
            cutoff=self.cutoff if self.cutoff is not None else (15000 if iterative else 20000),
            direction=self.direction or ("mutual" if iterative else "union"))
        for name, value, low in (("iterations", options.iterations, 0), ("cutoff", options.cutoff, 1),
                                 ("csls_k", options.csls_k, 1)):
            if value < low:
                raise ConfigError(f"{name} must be >= {low}, got {value}")
        if options.direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {options.direction!r}")
        if not 0 < options.stochastic <= 1:
            raise ConfigError(f"stochastic (the initial share of scores kept) must be in (0, 1], "
                              f"got {options.stochastic}")
        if options.criterion not in CRITERIA:
            raise ConfigError(f"criterion must be one of {', '.join(CRITERIA)}, got {options.criterion!r}")
        if not options.threshold >= 0:
            raise ConfigError(f"threshold must be >= 0, got {options.threshold}")
        return options


def align(src, tgt, dictionary: Iterable[tuple[str, str]] | None = None, method: str = "iterative",
          seed_with: str | None = None, log: Callable[[str], None] | None = None, copy: bool = True,
          **options):
    """Maps `src` onto `tgt` orthogonally.

    Parameters
    ----------
    src, tgt : Embeddings, gensim KeyedVectors, (words, vectors) or str
        The two spaces (a path is read as a word2vec file), most frequent word first.
    dictionary : iterable of (source word, target word), optional
        The seed pairs (pairs with a word outside the vocabularies are ignored).
    method : {"procrustes", "iterative", "self-learning"}
    seed_with : {"dictionary", "identical", "numerals"}, optional
        Where the seed pairs come from: default the dictionary when given, else
        identical strings.
    log : callable, optional
        Receives one progress line per iteration (dictionary size, objective).
    copy : bool
        False: normalize and map the given float32 matrices in place instead of
        copies (half the memory; the CLI owns what it read).
    **options
        Fields of AlignOptions: normalize, iterations, cutoff, direction, csls_k,
        threshold, stochastic, seed, criterion, keep_seed, multistep.

    Returns
    -------
    (mapped_src, mapped_tgt, info)
        Embeddings: the normalized source mapped by W, and the normalized target
        (mapped by ``target_mapping`` after the multi-step map); `info` is a dict,
        JSON-ready but for ``mapping`` and ``target_mapping`` (dim x dim float64):
        ``seed_pairs``, ``pairs`` (the size of the dictionary W was fitted on),
        ``iterations``, ``chosen`` (the iteration whose scoring kept the fit; 1:
        the seed fit), ``objective`` and ``mean_cosine`` (the kept fit's),
        ``history`` (per iteration: criterion, objective, mean cosine, pairs of the
        next dictionary, share of scores kept, seconds) and the options used.
    """
    from mtlembed.model import Embeddings  # the class only: no training code

    opts = AlignOptions(method=method, **options).resolved()
    seed_with = seed_with or ("dictionary" if dictionary is not None else "identical")
    if seed_with not in SEEDS:
        raise ConfigError(f"seed_with must be one of {', '.join(SEEDS)}, got {seed_with!r}")
    if seed_with == "dictionary" and dictionary is None:
        raise ConfigError("seed_with='dictionary' needs a dictionary")
    src_vs, tgt_vs = resolve(src), resolve(tgt)
    if src_vs.vectors.shape[1] != tgt_vs.vectors.shape[1]:
        raise FormatError(f"{src_vs.name} has dim {src_vs.vectors.shape[1]} but {tgt_vs.name} has dim "
                          f"{tgt_vs.vectors.shape[1]}: only spaces of the same dimension can be aligned")
    if seed_with == "dictionary":
        seed_src, seed_tgt = _seed_pairs(list(dictionary), src_vs, tgt_vs)
    else:
        numerals = seed_with == "numerals"
        seed_src, seed_tgt = identical_pairs(src_vs.words, tgt_vs.words, numerals_only=numerals)
        if not len(seed_src):
            what = "numeral" if numerals else "word spelled the same"
            raise ConfigError(f"no {what} in both {src_vs.name} and {tgt_vs.name}, so there is no seed "
                              "dictionary: give one (--dictionary)")
    if opts.keep_seed is None:  # a given dictionary is trusted; identical strings hold false friends
        opts = replace(opts, keep_seed=seed_with == "dictionary")
    own = np.array if copy else np.asarray
    x = normalize(own(src_vs.vectors, dtype=np.float32), opts.normalize)
    z = normalize(own(tgt_vs.vectors, dtype=np.float32), opts.normalize)
    log = log or (lambda line: None)
    w, info = _fit(x, z, seed_src, seed_tgt, opts, log)
    src_rows, tgt_rows = info.pop("dictionary")
    if opts.multistep:  # fitted on the dictionary of the kept fit, as VecMap's last step
        try:
            w, w_tgt = multistep(x[src_rows], z[tgt_rows])
        except ConfigError as error:  # too few pairs to whiten: the orthogonal map is the answer
            warnings.warn(f"{error}: the mapping stays orthogonal", stacklevel=2)
            opts = replace(opts, multistep=False)
        else:
            log(f"align: multi-step map (whiten, re-weight, de-whiten) on {len(src_rows)} pairs")
            _apply(z, w_tgt)
            info["target_mapping"] = w_tgt
    _apply(x, w)
    info.update(method=opts.method, seed=seed_with, seed_pairs=int(len(seed_src)),
                normalize=",".join(opts.normalize) or "none", cutoff=opts.cutoff, direction=opts.direction,
                csls_k=opts.csls_k, random_seed=opts.seed, keep_seed=opts.keep_seed, multistep=opts.multistep,
                src_words=len(src_vs.words),
                tgt_words=len(tgt_vs.words), dim=int(x.shape[1]), mapping=w)
    return Embeddings(src_vs.words, x), Embeddings(tgt_vs.words, z), info


def _apply(vectors: np.ndarray, mapping: np.ndarray) -> None:
    """vectors @ mapping, in place, a block at a time: no second matrix of the whole space."""
    mapping = mapping.astype(np.float32)
    for lo in range(0, len(vectors), _MAP_ROWS):
        vectors[lo:lo + _MAP_ROWS] = vectors[lo:lo + _MAP_ROWS] @ mapping


def _seed_pairs(pairs, src_vs, tgt_vs) -> tuple[np.ndarray, np.ndarray]:
    """The dictionary's row pairs; an error when none is usable, a warning when its columns look swapped."""
    seed_src, seed_tgt = dictionary_pairs(pairs, src_vs.words, tgt_vs.words)
    kept = len(seed_src)
    if kept < len(pairs) / 2:  # few usable pairs: would the columns the other way round match more?
        swapped = len(dictionary_pairs([(t, s) for s, t in pairs], src_vs.words, tgt_vs.words)[0])
        hint = (f"; {swapped} would be with its columns swapped: is it a target-source dictionary?"
                if swapped > 2 * kept else "")
        if not kept:
            raise ConfigError(f"none of the dictionary's {len(pairs)} pairs has both words in the "
                              f"vocabularies ({src_vs.name}, {tgt_vs.name})"
                              + (hint or ": check the direction and the case"))
        if hint:
            warnings.warn(f"only {kept} of the dictionary's {len(pairs)} pairs are in the vocabularies{hint}",
                          stacklevel=3)
    return seed_src, seed_tgt


def _fit(x, z, seed_src, seed_tgt, opts: AlignOptions, log) -> tuple[np.ndarray, dict]:
    """The mapping W and what happened: the seed fit, then the refinement loop.

    Every fit is scored by the criterion when the next dictionary is induced from it, the seed
    fit included, and the best one is kept: refinement never ends below its start by the
    criterion (MUSE's model selection), whatever the test set says.
    """
    w = procrustes(x[seed_src], z[seed_tgt])
    log(f"align: procrustes on {len(seed_src)} seed pairs")
    history: list[dict] = []
    if opts.method == "procrustes" or opts.iterations == 0:
        return w, {"iterations": 0, "pairs": int(len(seed_src)), "history": history,
                   "dictionary": (seed_src, seed_tgt)}
    rng = np.random.default_rng(opts.seed)
    x_cut, z_cut = x[:opts.cutoff], z[:opts.cutoff]
    keep, fit_keep = opts.stochastic, 1.0  # fit_keep: the keep of the dictionary that W was fitted on
    fitted_on = seed_src, seed_tgt
    best = {"criterion": -np.inf, "w": w, "dictionary": fitted_on}
    for iteration in range(1, opts.iterations + 2):  # the last round only scores the last fit
        start = time.perf_counter()
        induced = induce(x_cut @ w.astype(np.float32), z_cut, opts.csls_k, opts.direction, keep, rng)
        score = induced.mean_cosine if opts.criterion == "mean-cosine" else induced.objective
        improved = score > best["criterion"] + opts.threshold
        if score > best["criterion"]:
            best = {"criterion": score, "w": w, "dictionary": fitted_on, "objective": induced.objective,
                    "mean_cosine": induced.mean_cosine}
        src_rows, tgt_rows = induced.src, induced.tgt
        if opts.keep_seed:  # the given pairs stay in every dictionary (Glavas et al., 2019's PROC-B)
            src_rows, tgt_rows = np.concatenate((seed_src, src_rows)), np.concatenate((seed_tgt, tgt_rows))
        distinct = len(np.unique(src_rows * len(z) + tgt_rows))
        history.append({"iteration": iteration, "criterion": score, "objective": induced.objective,
                        "mean_cosine": induced.mean_cosine, "pairs": distinct, "keep": keep,
                        "seconds": round(time.perf_counter() - start, 3)})
        log(f"align: iteration {iteration}: {opts.criterion} {score:.6f}, next dictionary {distinct} pairs"
            + (f", keep {keep:g}" if keep < 1 else "") + f" ({history[-1]['seconds']:.1f} s)")
        used = keep
        if opts.method == "self-learning" and not improved:
            if keep >= 1 and fit_keep >= 1:  # converged on a deterministic dictionary
                break
            keep = min(1.0, 2 * keep)  # stalled: less noise (VecMap's stochastic schedule)
        if iteration > opts.iterations:
            if opts.method == "self-learning":
                log(f"align: stopped after {opts.iterations} iterations without converging")
            break
        fitted_on, fit_keep = (src_rows, tgt_rows), used
        w = procrustes(x[src_rows], z[tgt_rows])
    chosen = next(h["iteration"] for h in history if h["criterion"] == best["criterion"])
    log(f"align: kept the fit scored at iteration {chosen} ({opts.criterion} {best['criterion']:.6f})")
    return best["w"], {"iterations": len(history), "chosen": chosen, "criterion": opts.criterion,
                       "pairs": int(len(np.unique(best["dictionary"][0] * len(z) + best["dictionary"][1]))),
                       "objective": best["objective"], "mean_cosine": best["mean_cosine"],
                       "history": history, "dictionary": best["dictionary"]}
