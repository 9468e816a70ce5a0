// The one contract between the bindings, the CPU kernel and the CUDA kernel.
//
// Skip-gram / CBOW with negative sampling over one shared input matrix `w_in`
// (word2vec's syn0) and one or more context matrices `w_out` (word2vec's
// syn1neg): one per "head", shared by all tasks or one per task. Everything
// here is plain data with no CUDA or Python types, so both backends and the
// bindings include it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace mtl {

enum class Model : int32_t { SkipGram = 0, Cbow = 1 };

// The kernels' limits (validate() checks them; _core.LIMITS exports them to
// Python's TrainConfig, so they are written only here).
constexpr int kMaxWindow = 64;     // fixed per-step buffers
constexpr int kMaxNegative = 63;
constexpr int kMaxCbowShare = 8;
constexpr int kMaxThreads = 4096;

struct TrainParams {
  Model model = Model::SkipGram;
  int32_t dim = 100;
  int32_t window = 5;     // maximum; the effective window is drawn from 1..window
  int32_t negative = 5;   // negatives per center word, shared by its contexts
  // CBOW: centers (a window apart) sharing one draw of negatives; 1 is word2vec's CBOW.
  int32_t cbow_share = 1;
  float alpha = 0.025f;   // learning rate at the start of the run ...
  float min_alpha = 0.0000025f;  // ... decaying linearly to this at its end
  uint64_t seed = 1;
  int32_t threads = 1;
  // CPU, several threads: each trains private copies of the most frequent
  // words' output rows and merges them now and then (cpu/train.cc).
  bool copy_hot_rows = true;
  // Words a worker trains between syncs of its copies (0: cpu/train.cc's rule, which copies only on
  // large corpora; a value here copies at any size).
  int64_t hot_sync_words = 0;
  // CUDA: device rows hold the first `cuda_cols` columns (0: all `dim`; the
  // host's further columns are the CPU kernel's zero padding, left as they
  // are), padded to a multiple of `cuda_row_floats`: 4 (float4 access) or 16.
  int32_t cuda_cols = 0;
  int32_t cuda_row_floats = 16;
  // Skip-gram: one draw of negatives per center, shared by all its contexts in
  // one step (HogBatch); false draws per (center, context) pair and steps one
  // context at a time, as word2vec does (cpu/train.cc; the CUDA kernel shares).
  bool shared_negatives = true;
  // CPU, CBOW with subwords: each context position's mean of rows is composed once into a window cache
  // and its gradient added to the rows when no later center reaches it (cpu/cbow_window.h): 1.86x the
  // words per CPU second of reading and writing every context row at every center (false, the exact
  // step, as the CUDA kernel's), scoring as it does at 4M words x 5 epochs and 0.2 points of analogy
  // behind after one epoch of 17M (benchmarks/results/subwords-cbow-window.md).
  bool cbow_window_cache = true;
};

// A row-major float32 matrix the kernel updates in place.
struct Matrix {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  float* row(int64_t i) const { return data + i * cols; }
};

// Alias table of one language's unigram^0.75 distribution. A draw k in
// [0, size) is returned as the global id first_id + k: languages own
// contiguous id ranges, so negatives never leave the task's language.
struct NoiseTable {
  const float* prob = nullptr;
  const int32_t* alias = nullptr;
  int64_t size = 0;
  int32_t first_id = 0;
};

// Translations for code-switching, a CSR table over global ids: the
// translations of id i are ids[offsets[i], offsets[i+1]).
struct Translations {
  const int64_t* offsets = nullptr;
  const int32_t* ids = nullptr;
};

// fastText's subwords, a CSR table over word ids: the input vector of word i
// is the mean of the w_in rows rows[offsets[i], offsets[i+1]) (its own row,
// then its n-grams' bucket rows, which lie beyond the vocabulary), and the
// gradient of that mean is added, undivided, to each of them (fastText's
// Model::update). Absent (null), word i's input vector is w_in row i.
struct Subwords {
  const int64_t* offsets = nullptr;  // words + 1 entries
  const int32_t* rows = nullptr;
  int64_t words = 0;
  // Per word, how far its mean moves when each listed row receives a gradient
  // g: g times this (subword_mean_gains). The CPU kernel's draw per context
  // moves the mean by it instead of composing it again.
  const float* mean_gains = nullptr;
  bool present() const { return offsets != nullptr; }
};

// One task's encoded corpus: sentence s is tokens[offsets[s], offsets[s+1]).
// A parallel task also has `second`, the aligned sentences of another
// language (same count): then each word predicts the words around its
// proportionally aligned position in the other sentence, both ways, and
// nothing within its own sentence.
struct Task {
  const int32_t* tokens = nullptr;
  const int64_t* sentence_offsets = nullptr;
  int64_t n_sentences = 0;
  int32_t noise = 0;     // index into TrainJob::noise
  int32_t head = 0;      // index into TrainJob::w_out
  float weight = 1.0f;   // a_t: scales the learning rate of this task's updates
  // Code-switching: with this probability a kept word that has translations
  // is replaced by one of them (drawn uniformly) before windows are formed.
  float codeswitch = 0.0f;
  Translations translations;
  // Parallel tasks only.
  const int32_t* second_tokens = nullptr;
  const int64_t* second_offsets = nullptr;
  int32_t second_noise = 0;
  bool parallel() const { return second_tokens != nullptr; }
};

// A unit of work: consecutive sentences of one task. `progress_*` place the
// chunk on the run's 0..1 timeline (for the lr schedule); `id` seeds its RNG,
// so a chunk trains the same whichever thread takes it.
struct Chunk {
  int32_t task = 0;
  int64_t sentence_begin = 0;
  int64_t sentence_end = 0;
  double progress_begin = 0.0;
  double progress_end = 0.0;
  uint64_t id = 0;
};

struct TrainJob {
  Matrix w_in;
  std::vector<Matrix> w_out;
  const float* keep_prob = nullptr;  // subsampling: probability to keep each id
  std::vector<NoiseTable> noise;
  std::vector<Task> tasks;
  std::vector<Chunk> chunks;         // in schedule order
  Subwords subwords;                 // optional: then w_in has more rows than the vocabulary
  // Words: ids, w_out rows, keep_prob and the translation table count these.
  int64_t vocab() const { return subwords.present() ? subwords.words : w_in.rows; }
  // With subwords: word `id`'s rows of w_in (its own and its n-grams') written to `out`; returns how many.
  int word_rows(int32_t id, float** out) const {
    const int64_t first = subwords.offsets[id], n = subwords.offsets[id + 1] - first;
    for (int64_t r = 0; r < n; ++r) out[r] = w_in.row(subwords.rows[first + r]);
    return static_cast<int>(n);
  }
};

// Shared between the training threads and the monitoring (calling) thread.
// Stopping is graceful: no new chunk is taken and every taken chunk is
// finished (a chunk is a fraction of a second of work). Chunks are taken in
// schedule order and `stop` is checked before taking one, so the finished ones
// are always the first `chunks_done`: a checkpoint at that point resumes
// exactly. Errors travel as exceptions (parallel.h keeps the first one).
struct Control {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> words_done{0};    // corpus tokens consumed, kept or not
  std::atomic<int64_t> chunks_done{0};
  std::atomic<int64_t> pairs{0};         // (context, target) scores computed
  std::atomic<double> loss{0.0};         // sum of -log sigmoid over those pairs
  std::atomic<int64_t> hot_rows{0};      // CPU: output rows each worker trains on a private copy of
  // Optional: loss and pairs of each chunk of the job (2 doubles per chunk,
  // each written once, by the worker or launch that ran it), from which the
  // caller reports every task's loss.
  double* chunk_stats = nullptr;

  void add_loss(double value) {
    double old = loss.load(std::memory_order_relaxed);
    while (!loss.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
    }
  }
};

// Checks the parameters and the job's sizes against each other; throws
// InvalidArgument naming the first inconsistency. Both backends call it before
// touching any memory. Cheap: it reads no corpus.
void validate(const TrainParams& params, const TrainJob& job);

// Checks every id the kernel will read (tokens, translations, subword rows)
// against the vocabulary and w_in: a pass over the whole corpus, so the
// bindings run it once, when a job is bound, not on every train call.
void validate_ids(const TrainJob& job);

// Subwords::mean_gains of a table: sum_i m_i / n over a word's n listed rows, m_i
// being how often row i is listed (1 for all but the rare repeated bucket).
std::vector<float> subword_mean_gains(const Subwords& table);

}  // namespace mtl
