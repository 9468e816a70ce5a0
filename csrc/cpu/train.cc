#include "train.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <sys/mman.h>

#include "../common.h"
#include "../parallel.h"
#include "../sampling.h"
#include "cbow_window.h"

namespace mtl::cpu {
namespace {

// Progress (Control::words_done) is published in steps of this many words.
constexpr int64_t kReportWords = 8192;

// Hot output rows. Every step writes the output rows of its negatives, drawn
// from unigram^0.75, so the most frequent words take a large share of all
// writes (on text8, 24% go to the 256 most frequent, 48% to the top 2048).
// With several threads each such write moves the row's cache lines between
// cores; across chiplets or sockets a line costs ~160 ns, which halved the
// speed of two threads (benchmarks/results/two-threads-chiplets.md). So each
// worker trains on private copies of the hot output rows and adds their change
// to the shared rows every sync_words words of its own: a line crosses once per
// sync instead of once per write. A stale copy slows learning: the others'
// changes reach it only at a sync (2^19 words between syncs cost CBOW about a
// point of analogy accuracy on 17M words). Syncing every 2^16 words of each of
// two workers, the frequent words' vectors end 7% shorter than with one thread,
// on 0.5M words and 17M alike, but only small corpora pay for it: their
// under-trained vectors lose 1-2 points of BLI, and even a sync every 15.6k
// words cost 2M words x 20 epochs 0.012 of Rare Words and, with a draw of
// negatives per pair, 0.02 of SimLex (benchmarks/results/quality-sync.md,
// quality-2M-20ep-causes.md), where on 17M words two threads score the analogies as one
// does (cpu-17M-dim100-5epochs.md). Shorter intervals cost merges the copies no
// longer pay for, so a worker copies only where an epoch has kCopyFromEpochWords
// words or more and syncs every kSyncWordsAll / threads words of its own;
// smaller corpora train plain Hogwild (as fast where the cores share a cache).
// A worker copies kCopyRowsWorker
// rows, fewer where all workers' copies of a head would exceed kCopyBytesAll
// (about one L3 cache): more rows gained little and made the merges cost more
// than they saved on cores that share a cache. Input rows are not copied:
// subsampling thins the frequent words there, and copying them cost more on
// cores that share a cache (7-14%) than it gained across chiplets
// (benchmarks/results/two-threads-chiplets.md). One thread keeps no copies.
constexpr int64_t kCopyBytesAll = int64_t(32) << 20, kCopyRowsWorker = 2048;
constexpr int64_t kSyncWordsAll = int64_t(1) << 17, kMinSyncWords = 4096, kCopyFromEpochWords = int64_t(1) << 23;

// The ids whose rows are copied: the most probable draws of each noise table,
// and how often a worker syncs its copies.
struct HotSet {
  std::vector<int32_t> ids;   // slot -> id
  std::vector<int32_t> slot;  // id -> slot or -1; empty when nothing is copied
  int64_t sync_words = 0;
  // Per group of kGroup slots, held while a worker merges those rows of any
  // head: workers reach their syncs at about the same time, and a merge is a
  // read-modify-write that must not lose another's. (A lock per row would
  // put a full fence, the atomic exchange, after every row.)
  static constexpr size_t kGroup = 64;
  std::unique_ptr<std::atomic<bool>[]> merging;
  size_t groups() const { return (ids.size() + kGroup - 1) / kGroup; }

  HotSet(const TrainParams& params, const TrainJob& job) {
    if (params.threads < 2 || !params.copy_hot_rows || job.noise.empty()) return;
    int64_t epoch_words = 0;  // every task read once (the proportional schedule's epoch)
    for (const Task& task : job.tasks) {
      epoch_words += task.sentence_offsets[task.n_sentences] - task.sentence_offsets[0];
      if (task.parallel()) epoch_words += task.second_offsets[task.n_sentences] - task.second_offsets[0];
    }
    if (params.hot_sync_words <= 0 && epoch_words < kCopyFromEpochWords) return;  // a small corpus: no copies
    sync_words = params.hot_sync_words > 0 ? params.hot_sync_words
                                           : std::max(kMinSyncWords, kSyncWordsAll / params.threads);
    const int64_t rows =
        std::min(kCopyRowsWorker, kCopyBytesAll / (params.threads * job.w_in.cols * int64_t(sizeof(float))));
    const int64_t per_table = std::max<int64_t>(16, rows / int64_t(job.noise.size()));
    slot.assign(job.vocab(), -1);
    for (const NoiseTable& noise : job.noise) {
      // A draw picks k uniformly, then k itself with prob[k] or else alias[k].
      std::vector<double> mass(noise.size, 0.0);
      for (int64_t k = 0; k < noise.size; ++k) {
        mass[k] += noise.prob[k];
        mass[noise.alias[k]] += 1.0 - noise.prob[k];
      }
      std::vector<int32_t> order(noise.size);
      for (int64_t k = 0; k < noise.size; ++k) order[k] = static_cast<int32_t>(k);
      const int64_t n = std::min(per_table, noise.size);
      std::partial_sort(order.begin(), order.begin() + n, order.end(),
                        [&](int32_t a, int32_t b) { return mass[a] > mass[b]; });
      for (int64_t i = 0; i < n; ++i) {
        const int32_t id = noise.first_id + order[i];
        if (slot[id] >= 0) continue;  // two tables may share a language
        slot[id] = static_cast<int32_t>(ids.size());
        ids.push_back(id);
      }
    }
    merging.reset(new std::atomic<bool>[groups()]());
  }
};

// One worker's private copies of a head's hot rows, with their values at
// the last sync (`base`). A shared row that still equals the base had no other
// writer since and simply becomes the copy at the next sync, so a lone busy
// worker trains exactly as one thread does.
struct HotCopies {
  // Laid out like the shared matrices: rows on whole 64-byte lines (a row
  // across lines makes every SIMD load two), on huge pages when that large.
  struct Buffer {
    std::unique_ptr<float, decltype(&std::free)> floats{nullptr, &std::free};
    float* data() const { return floats.get(); }
    bool empty() const { return !floats; }
    void allocate(int64_t n) {
      constexpr size_t kHugePage = size_t(2) << 20;
      const size_t align = n * sizeof(float) >= kHugePage ? kHugePage : 64;
      const size_t bytes = (n * sizeof(float) + align - 1) / align * align;
      floats.reset(static_cast<float*>(std::aligned_alloc(align, bytes)));
      MTL_CHECK(floats, "out of memory for the hot rows' copies (", bytes, " bytes)");
#ifdef MADV_HUGEPAGE
      if (align == kHugePage) madvise(floats.get(), bytes, MADV_HUGEPAGE);
#endif
    }
  };
  Matrix shared;
  Buffer rows, base;  // slot s at s * cols; empty when nothing is copied

  void attach(const HotSet& hot) {
    if (hot.ids.empty() || !rows.empty()) return;
    rows.allocate(hot.ids.size() * shared.cols);
    base.allocate(hot.ids.size() * shared.cols);
    const size_t bytes = shared.cols * sizeof(float);
    for (size_t s = 0; s < hot.ids.size(); ++s) {
      std::memcpy(rows.data() + s * shared.cols, shared.row(hot.ids[s]), bytes);
      std::memcpy(base.data() + s * shared.cols, shared.row(hot.ids[s]), bytes);
    }
  }

  // The row the kernel updates for `id`: this worker's copy if it is hot.
  // A select, not a branch: hot and cold ids come unpredictably mixed.
  float* row(const HotSet& hot, int32_t id) {
    if (rows.empty()) return shared.row(id);
    const int32_t s = hot.slot[id];
    float* const copy = rows.data() + int64_t(std::max(s, 0)) * shared.cols;  // never before the buffer
    float* const own = shared.row(id);
    return s >= 0 ? copy : own;
  }

  // Adds each copy's change to the shared row and takes the result (with the
  // other workers' changes) as the new copy. Workers start at different groups
  // of slots (`first_group`), so they rarely wait for each other.
  void sync(const HotSet& hot, size_t first_group) {
    if (rows.empty()) return;
    const size_t n = hot.ids.size(), groups = hot.groups();
    for (size_t i = 0; i < groups; ++i) {
      const size_t g = (first_group + i) % groups;
      while (hot.merging[g].exchange(true, std::memory_order_acquire)) {
      }
      for (size_t s = g * HotSet::kGroup; s < std::min(n, (g + 1) * HotSet::kGroup); ++s) merge(hot, s);
      hot.merging[g].store(false, std::memory_order_release);
    }
  }

  void merge(const HotSet& hot, size_t s) {
    const int64_t cols = shared.cols;
    const size_t bytes = cols * sizeof(float);
    float* const mine = rows.data() + s * cols;
    float* const old = base.data() + s * cols;
    float* const common = shared.row(hot.ids[s]);
    if (std::memcmp(mine, old, bytes) == 0) {  // unchanged here: only read, so the shared line stays shared
      if (std::memcmp(common, old, bytes) != 0) {
        std::memcpy(mine, common, bytes);
        std::memcpy(old, common, bytes);
      }
      return;
    }
    for (int64_t k = 0; k < cols; ++k) {
      const float merged = common[k] == old[k] ? mine[k] : common[k] + (mine[k] - old[k]);
      common[k] = merged;
      mine[k] = merged;
      old[k] = merged;
    }
  }
};

// The most rows one word's input vector has (1 without subwords).
int max_word_rows(const TrainJob& job) {
  int64_t most = 1;
  const Subwords& table = job.subwords;
  for (int64_t i = 0; table.present() && i < table.words; ++i)
    most = std::max(most, table.offsets[i + 1] - table.offsets[i]);
  MTL_CHECK(most <= (int64_t(1) << 20), "a word has ", most, " subword rows; at most 2^20 are supported");
  return static_cast<int>(most);
}

// What one worker owns: its buffers never move, so no false sharing.
// kSubwords: a word's input vector is the mean of its subword rows (sgns.h's
// Subwords); skip-gram then turns around, as fastText's: the center's mean
// predicts its contexts' words, so each step composes one mean. Without it the
// code is what it was (the branches are compile-time).
template <bool kSubwords>
struct Worker {
  const TrainParams& params;
  const TrainJob& job;
  Control& control;
  const Ops& ops;
  const int share;  // centers per step: CBOW's run sharing negatives; 1 for skip-gram
  std::vector<int32_t> kept, kept_second;  // sentences after subsampling
  std::vector<int32_t> contexts;           // the step's centers' contexts, back to back
  std::vector<int32_t> context_at;         // their positions in the sentence they come from
  std::vector<int> context_ends;           // center i's end in `contexts`
  std::vector<int32_t> targets;            // the step's centers, then its negatives (subword
                                           // skip-gram: the center's contexts, then the negatives)
  std::vector<float*> in_rows, out_rows;   // the rows of `contexts` and `targets`
  std::vector<int> row_ends;               // subword CBOW: center i's end in `in_rows`
  std::vector<int> target_ends;            // subword skip-gram, a draw per context: context c's end in `targets`
  std::vector<float> scratch;
  std::unique_ptr<CbowWindow> window_cache;  // subword CBOW with params.cbow_window_cache
  const HotSet& hot;
  std::vector<HotCopies> heads;   // w_out, with this worker's copies of the hot rows
  HotCopies* head = nullptr;      // the current task's
  int64_t unsynced = 0;           // words trained since the copies were last synced
  size_t first_group = 0;         // where this worker's syncs start
  double loss = 0.0;
  int64_t pairs = 0;

  Worker(const TrainParams& p, const TrainJob& j, Control& c, const Ops& o, const HotSet& h, int index,
         int word_rows)
      : params(p), job(j), control(c), ops(o),
        share(p.model == Model::SkipGram ? 1 : p.cbow_share),
        contexts(share * (2 * p.window + 1)), context_at(contexts.size()), context_ends(share),
        targets(kSubwords ? (2 * p.window + 1) * (1 + p.negative) : share + p.negative),
        in_rows(std::max(contexts.size(), contexts.size() * word_rows)), out_rows(targets.size()), row_ends(share),
        target_ends(kSubwords ? 2 * p.window + 1 : 0),
        scratch(scratch_floats(2 * p.window + 1, p.negative + share, p.dim)), hot(h),
        first_group(hot.groups() * index / p.threads) {
    for (const Matrix& w_out : j.w_out) heads.push_back(HotCopies{w_out, {}, {}});
    if (kSubwords && p.model == Model::Cbow && p.cbow_window_cache) {
      const int span = share > 1 ? share * (2 * p.window + 1) : 1;  // train_centers' span
      window_cache = std::make_unique<CbowWindow>(o, j, p.dim, span + 2 * p.window + 1, int(contexts.size()),
                                                  word_rows);
    }
  }

  void sync() {
    for (HotCopies& copies : heads) copies.sync(hot, first_group);
    unsynced = 0;
  }

  // Subsampling, then code-switching: a kept word with translations becomes
  // one of them with probability task.codeswitch.
  void subsample(Rng& rng, const Task& task, const int32_t* tokens, int64_t begin, int64_t end,
                 std::vector<int32_t>& out) {
    out.clear();
    for (int64_t i = begin; i < end; ++i) {
      if (keep_token(rng, job.keep_prob, tokens[i])) out.push_back(code_switch(rng, task, tokens[i]));
    }
  }

  // Draws the step's negatives after its `n_positive` positive targets (the
  // centers' words; subword skip-gram: the contexts' words) in `targets`
  // from position `at`; returns the number of targets from there.
  int draw_targets(Rng& rng, int n_positive, const NoiseTable& noise, int at = 0) {
    int32_t* const step = targets.data() + at;
    int n_targets = n_positive;
    for (int k = 0; k < params.negative; ++k) {
      const int32_t negative = draw_negative(rng, noise);
      bool is_positive = false;
      for (int i = 0; i < n_positive; ++i) is_positive |= negative == step[i];
      if (!is_positive) step[n_targets++] = negative;  // as word2vec: never a positive's own word
    }
    for (int t = 0; t < n_targets; ++t) out_rows[at + t] = head->row(hot, step[t]);
    return n_targets;
  }

  // One step: the gathered centers predict their words against `negative`
  // negatives drawn from their language and shared by all of them (skip-gram
  // without shared_negatives: one step per context, each with its own draw).
  void train_step(Rng& rng, int n_centers, const NoiseTable& noise, float lr) {
    if constexpr (kSubwords) return train_subword_step(rng, n_centers, noise, lr);
    const int n_contexts = context_ends[n_centers - 1];
    for (int c = 0; c < n_contexts; ++c) in_rows[c] = job.w_in.row(contexts[c]);
    if (params.model == Model::SkipGram && !params.shared_negatives) {
      for (int c = 0; c < n_contexts; ++c) {
        const int n_targets = draw_targets(rng, 1, noise);
        loss += ops.skipgram(in_rows.data() + c, 1, out_rows.data(), n_targets, params.dim, lr, scratch.data());
        pairs += n_targets;
      }
      return;
    }
    const int n_targets = draw_targets(rng, n_centers, noise);
    if (params.model == Model::SkipGram) {
      loss += ops.skipgram(in_rows.data(), n_contexts, out_rows.data(), n_targets, params.dim, lr, scratch.data());
      pairs += int64_t(n_contexts) * n_targets;
    } else {
      loss += ops.cbow(in_rows.data(), context_ends.data(), n_centers, out_rows.data(), n_targets, params.dim, lr,
                       scratch.data());
      pairs += int64_t(n_centers) * (1 + n_targets - n_centers);
    }
  }

  // Puts word `id`'s subword rows at in_rows[at...); returns the end.
  int word_rows(int32_t id, int at) { return at + job.word_rows(id, in_rows.data() + at); }

  // train_step with subwords. CBOW: each center's hidden vector is the mean of
  // all rows of all its context words (fastText's, gensim's cbow_mean). Skip-
  // gram: the mean of the center's rows predicts each context's word against
  // negatives from the contexts' language (`noise`), shared by all of them
  // unless shared_negatives is off (then one draw and step per context, each
  // recomposing the mean: fastText's update exactly).
  void train_subword_step(Rng& rng, int n_centers, const NoiseTable& noise, float lr) {
    const int n_contexts = context_ends[n_centers - 1];
    if (params.model == Model::Cbow && window_cache) {
      const CbowCache cache = window_cache->gather(context_at.data(), context_ends.data(), n_centers);
      const int n_targets = draw_targets(rng, n_centers, noise);
      loss += ops.cbow_cached(cache, context_ends.data(), n_centers, out_rows.data(), n_targets, params.dim, lr,
                              scratch.data());
      pairs += int64_t(n_centers) * (1 + n_targets - n_centers);
      return;
    }
    if (params.model == Model::Cbow) {
      int n_rows = 0;
      for (int i = 0, c = 0; i < n_centers; ++i) {
        for (; c < context_ends[i]; ++c) n_rows = word_rows(contexts[c], n_rows);
        row_ends[i] = n_rows;
      }
      const int n_targets = draw_targets(rng, n_centers, noise);
      loss += ops.cbow(in_rows.data(), row_ends.data(), n_centers, out_rows.data(), n_targets, params.dim, lr,
                       scratch.data());
      pairs += int64_t(n_centers) * (1 + n_targets - n_centers);
      return;
    }
    const int32_t center = targets[0];
    const int n_in = word_rows(center, 0);  // the center's rows
    if (!params.shared_negatives) {
      int n_targets = 0;
      for (int c = 0; c < n_contexts; ++c) {
        targets[n_targets] = contexts[c];
        n_targets += draw_targets(rng, 1, noise, n_targets);
        target_ends[c] = n_targets;
      }
      loss += ops.subword_pairs(in_rows.data(), n_in, job.subwords.mean_gains[center], out_rows.data(),
                                target_ends.data(), n_contexts, params.dim, lr, scratch.data());
      pairs += n_targets;
      return;
    }
    std::copy(contexts.begin(), contexts.begin() + n_contexts, targets.begin());
    const int n_targets = draw_targets(rng, n_contexts, noise);
    loss += ops.subword_step(in_rows.data(), n_in, out_rows.data(), n_targets, n_contexts,
                             static_cast<float>(n_contexts), params.dim, lr, scratch.data());
    pairs += int64_t(n_contexts) * (1 + n_targets - n_contexts);
  }

  // The positions lo..hi of the contexts' side, but `skip` (-1: none).
  struct Reach {
    int lo, hi, skip;
  };

  // Centers 0..n-1 of `words`, `share` per step, each with word2vec's reduced
  // window: window(i, reach) gives the Reach of center i's contexts in
  // `source` (a center without any is skipped). The centers of a step lie
  // `stride` apart, so that their windows do not overlap. Before each span the
  // window cache releases the positions that no later center can reach and
  // composes those the span's can; it releases the rest at the end.
  template <class Window>
  void train_centers(Rng& rng, const std::vector<int32_t>& words, const std::vector<int32_t>& source,
                     Window&& window, const NoiseTable& noise, float lr) {
    const int n = static_cast<int>(words.size());
    const int stride = share > 1 ? 2 * params.window + 1 : 1, span = stride * share;
    if (window_cache) window_cache->start(source);
    for (int base = 0; base < n; base += span) {
      if (window_cache) {
        window_cache->release_before(window(base, params.window).lo);
        window_cache->compose_through(window(std::min(base + span, n) - 1, params.window).hi);
      }
      for (int offset = 0; offset < stride && base + offset < n; ++offset) {
        int n_centers = 0, n_contexts = 0;
        for (int i = base + offset; i < n && i < base + span; i += stride) {
          const int reach = params.window - static_cast<int>(rng.below(params.window));  // 1..window
          const Reach around = window(i, reach);
          const int first = n_contexts;
          for (int j = around.lo; j <= around.hi; ++j)
            if (j != around.skip) context_at[n_contexts] = j, contexts[n_contexts++] = source[j];
          if (n_contexts == first) continue;
          context_ends[n_centers] = n_contexts;
          targets[n_centers++] = words[i];
        }
        if (n_centers > 0) train_step(rng, n_centers, noise, lr);
      }
    }
    if (window_cache) window_cache->release_all();
  }

  // Within one sentence: the words around each center.
  void train_sentence(Rng& rng, const std::vector<int32_t>& words, const NoiseTable& noise, float lr) {
    const int n = static_cast<int>(words.size());
    train_centers(rng, words, words, [&](int i, int reach) {
      return Reach{i - reach < 0 ? 0 : i - reach, i + reach >= n ? n - 1 : i + reach, i};
    }, noise, lr);
  }

  // Across an aligned pair: word i of `from` is the target predicted by the
  // words of `to` around position i * |to| / |from| (BiSkip's alignment).
  // Negatives come from the language of what is predicted: `from`'s, or with
  // subword skip-gram (where the center predicts its contexts) `to`'s.
  void train_across(Rng& rng, const std::vector<int32_t>& from, const std::vector<int32_t>& to,
                    const NoiseTable& from_noise, const NoiseTable& to_noise, float lr) {
    const NoiseTable& noise = kSubwords && params.model == Model::SkipGram ? to_noise : from_noise;
    const int n = static_cast<int>(from.size()), m = static_cast<int>(to.size());
    if (n == 0 || m == 0) return;
    train_centers(rng, from, to, [&](int i, int reach) {
      const int aligned = static_cast<int>((static_cast<int64_t>(2 * i + 1) * m) / (2 * n));  // rounded
      return Reach{aligned - reach < 0 ? 0 : aligned - reach, aligned + reach >= m ? m - 1 : aligned + reach, -1};
    }, noise, lr);
  }

  void run_chunk(const Chunk& chunk, int64_t index) {
    const Task& task = job.tasks[chunk.task];
    head = &heads[task.head];
    head->attach(hot);
    Rng rng(params.seed, chunk.id);
    const auto size = [&](int64_t s) {
      const int64_t own = task.sentence_offsets[s + 1] - task.sentence_offsets[s];
      return task.parallel() ? own + task.second_offsets[s + 1] - task.second_offsets[s] : own;
    };
    int64_t span = 0, done = 0, unreported = 0;
    for (int64_t s = chunk.sentence_begin; s < chunk.sentence_end; ++s) span += size(s);
    loss = 0.0;
    pairs = 0;
    for (int64_t s = chunk.sentence_begin; s < chunk.sentence_end; ++s) {
      const float lr = learning_rate(params.alpha, params.min_alpha, task.weight, chunk_progress(chunk, done, span));
      subsample(rng, task, task.tokens, task.sentence_offsets[s], task.sentence_offsets[s + 1], kept);
      if (task.parallel()) {
        subsample(rng, task, task.second_tokens, task.second_offsets[s], task.second_offsets[s + 1], kept_second);
        const NoiseTable &first = job.noise[task.noise], &second = job.noise[task.second_noise];
        train_across(rng, kept, kept_second, first, second, lr);
        train_across(rng, kept_second, kept, second, first, lr);
      } else {
        train_sentence(rng, kept, job.noise[task.noise], lr);
      }
      done += size(s);
      unreported += size(s);
      unsynced += size(s);
      if (unsynced >= hot.sync_words && !hot.ids.empty()) sync();
      if (unreported >= kReportWords) {  // one shared atomic per few thousand words, not per sentence
        control.words_done.fetch_add(unreported, std::memory_order_relaxed);
        unreported = 0;
      }
    }
    control.words_done.fetch_add(unreported, std::memory_order_relaxed);
    control.add_loss(loss);
    control.pairs.fetch_add(pairs, std::memory_order_relaxed);
    if (control.chunk_stats) {
      control.chunk_stats[2 * index] = loss;
      control.chunk_stats[2 * index + 1] = static_cast<double>(pairs);
    }
  }
};

template <bool kSubwords>
void run(const TrainParams& params, const TrainJob& job, Control& control, const Ops& ops) {
  const HotSet hot(params, job);
  control.hot_rows = static_cast<int64_t>(hot.ids.size());
  const int word_rows = max_word_rows(job);
  // Chunks are taken in schedule order and a taken chunk is always finished,
  // and stop is checked before taking one: so the chunks done are always a
  // prefix of the schedule, however the threads interleave with a stop.
  std::atomic<int64_t> next_chunk{0};
  const int64_t n_chunks = static_cast<int64_t>(job.chunks.size());
  run_workers(params.threads, control.stop, [&](int index) {
    Worker<kSubwords> worker(params, job, control, ops, hot, index, word_rows);
    while (!control.stop.load()) {
      const int64_t c = next_chunk.fetch_add(1);
      if (c >= n_chunks) break;
      worker.run_chunk(job.chunks[c], c);
      control.chunks_done.fetch_add(1);
    }
    worker.sync();  // before join: the caller reads or checkpoints the matrices next
  });
}

}  // namespace

void train(const TrainParams& params, const TrainJob& job, Control& control, const Ops& ops) {
  validate(params, job);
  MTL_CHECK(job.w_in.cols % kRowBlock == 0, "the CPU kernel needs rows padded to a multiple of ", kRowBlock,
            " floats, got ", job.w_in.cols);
  (job.subwords.present() ? run<true> : run<false>)(params, job, control, ops);
}

}  // namespace mtl::cpu
