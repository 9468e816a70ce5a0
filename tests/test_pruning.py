"""Bounded memory while counting (issue 7): word2vec-style pruning of rare tokens.

With more than `max_distinct` distinct tokens held, the rarest are dropped
(count <= a threshold rising at each pruning). The encoded streams must stay
exact: a dropped token's earlier occurrences disappear, a token that comes back
is counted from then on, so each kept word's occurrences in the streams are the
last `count` of its occurrences in the text.
"""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import mtlembed
from mtlembed import TaskSpec, TrainConfig, backend
from mtlembed.cli import main
from mtlembed.config import from_mapping
from mtlembed.corpus import CorpusWarning
from mtlembed.encode import read_corpus
from mtlembed.errors import ConfigError

LIMIT = 1000


def noisy_lines(seed: int, lines: int, unique_prefix: str) -> list[list[str]]:
    """Zipf words (a few hundred, some very frequent) mixed with tokens seen once or twice."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(lines):
        words = [f"w{r}" for r in np.minimum(rng.zipf(1.2, size=12), 400) - 1]
        words += [f"{unique_prefix}{i}_{j}" for j in range(6)]          # seen once
        words.append(f"twice{i // 2}")                                 # seen twice, lines apart
        rng.shuffle(words)
        out.append(words)
    return out


@pytest.fixture
def two_tasks(tmp_path):
    """Two tasks of one language (one counter) and one of another: 7 x 4000 rare tokens each."""
    texts = {"a": noisy_lines(1, 4000, "a"), "b": noisy_lines(2, 4000, "b"), "c": noisy_lines(3, 4000, "c")}
    for name, lines in texts.items():
        (tmp_path / f"{name}.txt").write_text("".join(" ".join(words) + "\n" for words in lines))
    specs = [TaskSpec("a", (str(tmp_path / "a.txt"),), lang="en"),
             TaskSpec("b", (str(tmp_path / "b.txt"),), lang="en"),
             TaskSpec("c", (str(tmp_path / "c.txt"),), lang="fr")]
    return specs, texts


def test_pruned_streams_hold_exactly_the_last_occurrences_of_each_kept_word(two_tasks):
    specs, texts = two_tasks
    with pytest.warns(CorpusWarning) as caught:
        data = read_corpus(specs, TrainConfig(min_count=1, max_distinct=LIMIT))
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2 and messages[0].startswith("language 'en': more than max_distinct=1000")
    assert messages[1].startswith("language 'fr'") and "--max-distinct" in messages[0]
    dropped = [int(m.split(" dropped ")[1].split()[0]) for m in messages]
    assert dropped[0] > 40_000 and dropped[1] > 20_000

    vocab = data.vocab
    for lang, names in (("en", ("a", "b")), ("fr", ("c",))):
        first, last = vocab.range_of(lang)
        assert last - first <= LIMIT  # memory bound: never more held than the limit
        original = [w for name in names for words in texts[name] for w in words]  # one counter, in task order
        streams = [data.streams[[s.name for s in specs].index(name)] for name in names]
        decoded = [vocab.words[i] for i in np.concatenate([s.tokens for s in streams]).tolist()]
        true_counts = collections.Counter(original)
        positions = collections.defaultdict(list)
        for at, word in enumerate(original):
            positions[word].append(at)
        kept = []
        for word, count in zip(vocab.words[first:last], vocab.counts[first:last].tolist()):
            assert 1 <= count <= true_counts[word]
            kept.extend(positions[word][-count:])  # counted from its last return on
        assert decoded == [original[at] for at in sorted(kept)]
        for word, _ in true_counts.most_common(20):  # frequent words are never pruned: exact counts
            assert vocab.counts[first + vocab.words[first:last].index(word)] == true_counts[word]


def test_the_counter_never_holds_more_than_the_limit():
    core = backend.core()
    counter, stream = core.Counter(100), core.Stream(1000)
    for block in range(50):
        text = " ".join(f"t{block}_{i} common" for i in range(997)) + "\n"
        core.tokenize(text.encode(), counter, stream)
        assert len(counter) <= 100
    blob, ends, counts, ids = counter.words()
    assert counter.issued == 50 * 997 + 1 and counter.prunings > 0 and counter.threshold >= counter.prunings
    assert len(blob) == ends[-1] and len(blob) < 100 * 12  # the text of dropped tokens is freed too
    assert blob[:6] == b"common" and counts[0] == 50 * 997 and ids[0] == 1
    assert np.all(np.diff(ids) > 0)  # first-seen order kept: the vocabulary's tie-break


def test_no_pruning_below_the_limit(small_corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)
        task = [TaskSpec("t", (str(small_corpus),))]
        pruned = read_corpus(task, TrainConfig(min_count=1, max_distinct=LIMIT))
        default = read_corpus(task, TrainConfig(min_count=1))
    assert len(default.vocab) < LIMIT and pruned.vocab.words == default.vocab.words


def test_training_and_the_cli_with_a_small_limit(two_tasks, tmp_path, capsys):
    specs, _ = two_tasks
    with pytest.warns(CorpusWarning, match="max_distinct=1000"):
        vectors = mtlembed.Trainer(TrainConfig(dim=8, epochs=1, threads=1, min_count=2, max_distinct=LIMIT),
                                   specs).train()
    assert "en:w0" in vectors and "fr:w0" in vectors and np.isfinite(vectors.vectors).all()
    out = tmp_path / "v.vec"
    assert main(["train", str(specs[0].paths[0]), "-o", str(out), "--max-distinct", "500", "--quiet",
                 "--dim", "8", "--epochs", "1", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "mtlembed: warning: language 'default': more than max_distinct=500 distinct tokens" in err
    assert out.exists()


@pytest.mark.parametrize("value", [99, 2**31, 1.5])
def test_max_distinct_is_checked(value):
    with pytest.raises(ConfigError, match="max_distinct must be"):
        from_mapping({"max_distinct": value})


def test_gensims_name_suggests_max_distinct():
    with pytest.raises(ConfigError, match=r"unknown key 'max_vocab_size' \(did you mean 'max_distinct'\?\)"):
        from_mapping({"max_vocab_size": 10**6})
