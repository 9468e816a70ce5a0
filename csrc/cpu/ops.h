// The per-ISA inner steps of the CPU kernel. Each SIMD level compiles the same
// body (ops_body.h) in its own translation unit with its own flags; the
// dispatcher (simd.cc) picks one table once.
#pragma once

#include <cstdint>

#include "../sgns.h"

namespace mtl::cpu {

// Rows are processed in blocks of this many floats: matrices handed to the CPU
// kernel have a column count that is a multiple of it (zero padding stays zero).
constexpr int kRowBlock = 16;

// The kernel sees rows, not ids: the caller resolves each id to its row, which
// may be a thread's private copy (train.cc's hot rows). A repeated id must
// resolve to the same row each time.

// One center word's skip-gram update: every context row of w_in predicts
// every target row of w_out. `out_rows[0]` is the positive target, the rest are
// negatives shared by all contexts. Scores use the rows as they were before the
// step (all dot products first, then all updates). Rows have `dim` floats.
// Returns the sum of the pair losses. `scratch` holds scratch_floats(...) floats.
using StepFn = double (*)(float* const* in_rows, int n_contexts, float* const* out_rows, int n_targets,
                          int64_t dim, float lr, float* scratch);

// The CBOW update of `n_centers` centers: center i's context rows are
// in_rows[context_ends[i-1], context_ends[i]) (from 0 for i = 0),
// out_rows[i] is its word, and out_rows[n_centers..n_targets) are negatives
// shared by all of them. Same conventions as StepFn.
using CbowFn = double (*)(float* const* in_rows, const int* context_ends, int n_centers, float* const* out_rows,
                          int n_targets, int64_t dim, float lr, float* scratch);

// Skip-gram with subwords (fastText's Model::update, one draw of negatives
// for all the contexts of a center): h, the mean of the center's rows
// in_rows[0, n_in), predicts out_rows: the first `n_positive` are its contexts'
// words (label 1), the rest negatives, each counting `negative_weight` times
// (one pair per context: they share the draw). Scores from the old rows; then
// w_out[t] += g_t h, and the gradient of h, sum_t g_t w_out[t] (old rows), is
// added undivided to each of the center's rows (a repeated row gets it twice).
using SubwordFn = double (*)(float* const* in_rows, int n_in, float* const* out_rows, int n_targets, int n_positive,
                             float negative_weight, int64_t dim, float lr, float* scratch);

// Skip-gram with subwords and a draw of negatives per context (fastText's
// update exactly, one context after the other): context c's targets are
// out_rows[target_ends[c-1], target_ends[c]) (from 0 for c = 0), its word
// first. h is composed once; after each context's update h moves by its
// gradient times `h_gain` (1, or more where the word repeats a row: the mean
// of the updated rows), and the center's rows receive the summed gradient at
// the end: the same sums as recomposing h from the updated rows before every
// context, without reading the rows again (the rows are w_in, the targets w_out).
using SubwordPairsFn = double (*)(float* const* in_rows, int n_in, float h_gain, float* const* out_rows,
                                  const int* target_ends, int n_contexts, int64_t dim, float lr, float* scratch);

// CBOW through the window cache (cbow_window.h): context c's input vector is means[c], its word's mean of
// rows composed once for its position, and it weighs weights[c] (its rows over all its center's rows) in
// its center's hidden vector. The step is CbowFn's, except that the gradient of a center's hidden vector
// goes to owed[c] (added to the word's rows when the position leaves the window) and, times gains[c] (the
// word's Subwords::mean_gains), to means[c]: the mean moves as its rows will.
struct CbowCache {
  float* const* means;
  float* const* owed;
  const float* weights;
  const float* gains;
};
using CbowCachedFn = double (*)(const CbowCache& cache, const int* context_ends, int n_centers,
                                float* const* out_rows, int n_targets, int64_t dim, float lr, float* scratch);
using MeanRowsFn = void (*)(float* mean, float* const* rows, int n, int64_t dim);        // mean = the rows' mean
using AddToRowsFn = void (*)(float* const* rows, int n, const float* v, int64_t dim);  // each rows[r] += v

struct Ops {
  const char* level;
  StepFn skipgram;             // every context row of w_in predicts every target row of w_out
  CbowFn cbow;                 // the mean of each center's context rows predicts its word and the negatives
  SubwordFn subword_step;      // the mean of a center's subword rows predicts its contexts and the negatives
  SubwordPairsFn subword_pairs;  // the same mean predicts each context against negatives of its own
  CbowCachedFn cbow_cached;    // CbowFn from the window cache's means
  MeanRowsFn mean_rows;        // the window cache composes a position's mean ...
  AddToRowsFn add_to_rows;     // ... and adds its owed gradient to its word's rows
};

const Ops& ops_generic();
#if defined(MTLEMBED_HAVE_AVX2)
const Ops& ops_avx2();
#endif
#if defined(MTLEMBED_HAVE_AVX512)
const Ops& ops_avx512();
#endif

inline int64_t scratch_floats(int max_contexts, int max_targets, int dim) {
  // the score block rounded up to whole SIMD blocks, copies of the old rows
  // (when the targets come in several groups), and CBOW's h rows (the
  // subword steps need three rows and one context's scores: less)
  return static_cast<int64_t>(max_contexts) * (max_targets + 16) + int64_t(max_contexts + max_targets) * dim +
         int64_t(kMaxCbowShare + 1) * dim + int64_t(kMaxCbowShare) * (max_targets + 16);
}

}  // namespace mtl::cpu
