#include "train.h"

#include <thread>
#include <vector>

#include "../common.h"
#include "../sampling.h"

namespace mtl::cpu {
namespace {

// Progress (Control::words_done) is published in steps of this many words.
constexpr int64_t kReportWords = 8192;

// What one worker owns: its buffers never move, so no false sharing.
struct Worker {
  const TrainParams& params;
  const TrainJob& job;
  Control& control;
  const Ops& ops;
  const int share;  // centers per step: CBOW's run sharing negatives; 1 for skip-gram
  std::vector<int32_t> kept, kept_second;  // sentences after subsampling
  std::vector<int32_t> contexts;           // the step's centers' contexts, back to back
  std::vector<int> context_ends;           // center i's end in `contexts`
  std::vector<int32_t> targets;            // the step's centers, then its negatives
  std::vector<float> scratch;
  double loss = 0.0;
  int64_t pairs = 0;

  Worker(const TrainParams& p, const TrainJob& j, Control& c, const Ops& o)
      : params(p), job(j), control(c), ops(o),
        share(p.model == Model::SkipGram ? 1 : p.cbow_share),
        contexts(share * (2 * p.window + 1)), context_ends(share), targets(share + p.negative),
        scratch(scratch_floats(2 * p.window + 1, p.negative + share, p.dim)) {}

  // Subsampling, then code-switching: a kept word with translations becomes
  // one of them with probability task.codeswitch.
  void subsample(Rng& rng, const Task& task, const int32_t* tokens, int64_t begin, int64_t end,
                 std::vector<int32_t>& out) {
    out.clear();
    for (int64_t i = begin; i < end; ++i) {
      int32_t id = tokens[i];
      if (!keep_token(rng, job.keep_prob, id)) continue;
      if (task.codeswitch > 0) {
        const int64_t first = task.translations.offsets[id], count = task.translations.offsets[id + 1] - first;
        if (count > 0 && rng.uniform() < task.codeswitch)
          id = task.translations.ids[first + rng.below(static_cast<uint32_t>(count))];
      }
      out.push_back(id);
    }
  }

  // One step: the gathered centers predict their words against `negative`
  // negatives drawn from their language and shared by all of them.
  void train_step(Rng& rng, int n_centers, const NoiseTable& noise, const Matrix& w_out, float lr) {
    int n_targets = n_centers;
    for (int k = 0; k < params.negative; ++k) {
      const int32_t negative = draw_negative(rng, noise);
      bool is_center = false;
      for (int i = 0; i < n_centers; ++i) is_center |= negative == targets[i];
      if (!is_center) targets[n_targets++] = negative;  // as word2vec: never a center's own word
    }
    if (params.model == Model::SkipGram) {
      loss += ops.skipgram(job.w_in, w_out, contexts.data(), context_ends[0], targets.data(), n_targets, lr,
                           scratch.data());
      pairs += int64_t(context_ends[0]) * n_targets;
    } else {
      loss += ops.cbow(job.w_in, w_out, contexts.data(), context_ends.data(), n_centers, targets.data(), n_targets,
                       lr, scratch.data());
      pairs += int64_t(n_centers) * (1 + n_targets - n_centers);
    }
  }

  // Centers 0..n-1 of `words`, `share` per step, each with word2vec's reduced
  // window: window(i, reach, out) writes center i's contexts to `out` and
  // returns how many (a center without any is skipped). The centers of a step
  // lie `stride` apart, so that their windows do not overlap.
  template <class Window>
  void train_centers(Rng& rng, const std::vector<int32_t>& words, Window&& window, const NoiseTable& noise,
                     const Matrix& w_out, float lr) {
    const int n = static_cast<int>(words.size());
    const int stride = share > 1 ? 2 * params.window + 1 : 1, span = stride * share;
    for (int base = 0; base < n; base += span)
      for (int offset = 0; offset < stride && base + offset < n; ++offset) {
        int n_centers = 0, n_contexts = 0;
        for (int i = base + offset; i < n && i < base + span; i += stride) {
          const int reach = params.window - static_cast<int>(rng.below(params.window));  // 1..window
          const int added = window(i, reach, contexts.data() + n_contexts);
          if (added == 0) continue;
          n_contexts += added;
          context_ends[n_centers] = n_contexts;
          targets[n_centers++] = words[i];
        }
        if (n_centers > 0) train_step(rng, n_centers, noise, w_out, lr);
      }
  }

  // Within one sentence: the words around each center.
  void train_sentence(Rng& rng, const std::vector<int32_t>& words, const NoiseTable& noise, const Matrix& w_out,
                      float lr) {
    const int n = static_cast<int>(words.size());
    train_centers(rng, words, [&](int i, int reach, int32_t* out) {
      const int lo = i - reach < 0 ? 0 : i - reach, hi = i + reach >= n ? n - 1 : i + reach;
      int added = 0;
      for (int j = lo; j <= hi; ++j)
        if (j != i) out[added++] = words[j];
      return added;
    }, noise, w_out, lr);
  }

  // Across an aligned pair: word i of `from` is the target predicted by the
  // words of `to` around position i * |to| / |from| (BiSkip's alignment).
  void train_across(Rng& rng, const std::vector<int32_t>& from, const std::vector<int32_t>& to,
                    const NoiseTable& noise, const Matrix& w_out, float lr) {
    const int n = static_cast<int>(from.size()), m = static_cast<int>(to.size());
    if (n == 0 || m == 0) return;
    train_centers(rng, from, [&](int i, int reach, int32_t* out) {
      const int aligned = static_cast<int>((static_cast<int64_t>(2 * i + 1) * m) / (2 * n));  // rounded
      const int lo = aligned - reach < 0 ? 0 : aligned - reach, hi = aligned + reach >= m ? m - 1 : aligned + reach;
      for (int j = lo; j <= hi; ++j) out[j - lo] = to[j];
      return hi - lo + 1;
    }, noise, w_out, lr);
  }

  void run_chunk(const Chunk& chunk, int64_t index) {
    const Task& task = job.tasks[chunk.task];
    const Matrix& w_out = job.w_out[task.head];
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
      // Linear decay over the whole run, placed by this sentence's position.
      const double progress =
          chunk.progress_begin + (chunk.progress_end - chunk.progress_begin) * (span > 0 ? double(done) / span : 0.0);
      const float lr = task.weight * static_cast<float>(params.alpha - (params.alpha - params.min_alpha) * progress);
      subsample(rng, task, task.tokens, task.sentence_offsets[s], task.sentence_offsets[s + 1], kept);
      if (task.parallel()) {
        subsample(rng, task, task.second_tokens, task.second_offsets[s], task.second_offsets[s + 1], kept_second);
        train_across(rng, kept, kept_second, job.noise[task.noise], w_out, lr);
        train_across(rng, kept_second, kept, job.noise[task.second_noise], w_out, lr);
      } else {
        train_sentence(rng, kept, job.noise[task.noise], w_out, lr);
      }
      done += size(s);
      unreported += size(s);
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

}  // namespace

void train(const TrainParams& params, const TrainJob& job, Control& control, const Ops& ops) {
  validate(params, job);
  MTL_CHECK(job.w_in.cols % kRowBlock == 0, "the CPU kernel needs rows padded to a multiple of ", kRowBlock,
            " floats, got ", job.w_in.cols);
  std::atomic<int64_t> next_chunk{0};
  const int64_t n_chunks = static_cast<int64_t>(job.chunks.size());
  auto work = [&] {
    try {
      Worker worker(params, job, control, ops);
      for (;;) {
        const int64_t c = next_chunk.fetch_add(1);
        if (c >= n_chunks || control.stop.load()) break;
        worker.run_chunk(job.chunks[c], c);  // a taken chunk is always finished
        control.chunks_done.fetch_add(1);
      }
    } catch (...) {
      control.fail(std::current_exception());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < params.threads; ++t) pool.emplace_back(work);
  work();  // the calling thread works too
  for (auto& thread : pool) thread.join();
  control.rethrow_if_failed();
}

}  // namespace mtl::cpu
