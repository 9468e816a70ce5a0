// Checks csrc/cuda/kernels.cuh on CPU threads (see emu_cuda.h), for machines
// without a GPU. The global-workspace instantiations run; the shared-memory
// ones differ only in how rows are copied (cp.async).
//
//   step           one center's update vs a float64 reference (any dim, up to
//                  128 contexts and 64 targets, repeated ids);
//   deterministic  window 1, one noise word, no subsampling, one warp and
//                  chunks of one piece: the kernel must reproduce cpu::train
//                  (words and pairs exactly, rows and loss to float rounding),
//                  two languages and two heads, with code-switching, with a
//                  parallel task (both ways), and on rows with fewer used
//                  columns than the host's, padded to 4 or 16 floats; and
//                  with subwords (a table of bucket rows; --subwords);
//   statistical    (not with --quick) window 5, subsampling, several warps:
//                  the loss per pair and the pairs must match cpu::train's
//                  within 3%; also CBOW with cbow_share 4 (the GPU shares a
//                  draw among 4 centers in a row, the CPU among 4 a window
//                  apart) and a parallel task (the GPU subsamples with other
//                  draws).
//
// Prints one line per check and exits non-zero on a failure.
#include "emu_cuda.h"  // first: it defines the CUDA keywords for the host compiler
#include "cuda/kernels.cuh"
namespace mtl::cuda {
namespace {
float4 shared_ws[1];  // the block-scope extern of the kernels; unused by the global-workspace path
}
}  // namespace mtl::cuda

#include <cstdio>
#include <random>
#include <string>

#include "cpu/ops.h"
#include "cpu/train.h"

using namespace mtl;
using cuda::Layout;

namespace {

int failures = 0;

void check(bool ok, const std::string& what, double value) {
  std::printf("%s %-70s %.3g\n", ok ? "ok  " : "FAIL", what.c_str(), value);
  if (!ok) ++failures;
}

// A host matrix in the device layout, as sgns.cu's DeviceMatrix: its first
// `used` columns, rows padded to `row_floats`.
struct Padded {
  std::vector<float4> data;
  int64_t rows, used, groups;
  Padded(const Matrix& m, int64_t used_cols, int64_t row_floats) : rows(m.rows), used(used_cols), groups(row_floats / 4) {
    data.assign(rows * groups, make_float4(0, 0, 0, 0));
    for (int64_t r = 0; r < rows; ++r) std::memcpy(&data[r * groups], m.row(r), used * 4);
  }
  explicit Padded(const Matrix& m) : Padded(m, m.cols, cuda::round_up(m.cols, 4)) {}
  void back(const Matrix& m) const {
    for (int64_t r = 0; r < rows; ++r) std::memcpy(m.row(r), &data[r * groups], used * 4);
  }
  float4* p() { return data.data(); }
};

double emu_step(Model model, const Matrix& w_in, const Matrix& w_out, const std::vector<int32_t>& ctx,
                const std::vector<int32_t>& tgt, float lr) {
  Padded in(w_in), out(w_out);
  const int nc = int(ctx.size()), nt = int(tgt.size());
  const Layout L = cuda::make_layout(int(w_in.cols), nc, nc, nt, 0);
  std::vector<float4> ws(L.words / 4 + 1);
  float* base = reinterpret_cast<float*>(ws.data());
  double loss = -1;
  emu_launch(1, 32, [&] {
    if (model == Model::SkipGram)
      cuda::step_kernel<Model::SkipGram, false>(in.p(), out.p(), ctx.data(), nc, tgt.data(), nt, lr, L, base, &loss);
    else
      cuda::step_kernel<Model::Cbow, false>(in.p(), out.p(), ctx.data(), nc, tgt.data(), nt, lr, L, base, &loss);
  });
  in.back(w_in);
  out.back(w_out);
  return loss;
}

struct Stats {
  double loss = 0;
  unsigned long long pairs = 0;
  int64_t words = 0;
  std::vector<double> chunks;  // (loss, pairs) per chunk
};

// sgns.cu's run() on host memory: `batches` launches of `warps` warps.
Stats emu_train(const TrainParams& p, const TrainJob& job, int warps, int batches) {
  const bool subwords = job.subwords.present(), parallel = subwords || cuda::has_parallel_tasks(job);
  const Layout L = cuda::train_layout(p, parallel, subwords);
  const int64_t used = cuda::device_cols(p);
  Padded in(job.w_in, used, 4 * L.groups);
  std::vector<Padded> heads;
  for (const Matrix& h : job.w_out) heads.emplace_back(h, used, 4 * L.groups);
  std::vector<float4*> head_ptrs;
  for (Padded& h : heads) head_ptrs.push_back(h.p());
  Stats st;
  std::vector<cuda::DevChunk> chunks;
  std::vector<int64_t> piece_first, chunk_words;
  cuda::plan_chunks(job, chunks, piece_first, chunk_words);
  for (int64_t w : chunk_words) st.words += w;
  const size_t n = chunks.size();
  st.chunks.assign(2 * n, 0.0);
  const cuda::DeviceJob dj{in.p(),        head_ptrs.data(),   job.keep_prob,    job.noise.data(), job.tasks.data(),
                           chunks.data(), piece_first.data(), st.chunks.data(), L,                p.window,
                           p.negative,    p.model == Model::Cbow ? p.cbow_share : 1,
                           p.alpha,       p.min_alpha,        p.seed,             job.subwords};
  std::vector<float4> ws(size_t(warps) * L.words / 4 + 4);
  for (int b = 0; b < batches; ++b) {
    const size_t c0 = n * b / batches, c1 = n * (b + 1) / batches;
    cuda::Counters counters{0, 0, 0.0};
    const cuda::Launch launch{int64_t(c0),         int64_t(c1), piece_first[c0], piece_first[c1],
                              &counters, reinterpret_cast<float*>(ws.data())};
    if (piece_first[c1] > piece_first[c0])
      emu_launch(1, 32 * warps, [&] {
        if (p.model == Model::SkipGram)
          (subwords   ? cuda::train_kernel<Model::SkipGram, false, true, true>
           : parallel ? cuda::train_kernel<Model::SkipGram, false, true, false>
                      : cuda::train_kernel<Model::SkipGram, false, false, false>)(dj, launch);
        else
          (subwords   ? cuda::train_kernel<Model::Cbow, false, true, true>
           : parallel ? cuda::train_kernel<Model::Cbow, false, true, false>
                      : cuda::train_kernel<Model::Cbow, false, false, false>)(dj, launch);
      });
    st.loss += counters.loss;
    st.pairs += counters.pairs;
  }
  in.back(job.w_in);
  for (size_t h = 0; h < heads.size(); ++h) heads[h].back(job.w_out[h]);
  return st;
}

// |a - b| relative to the update |b - base| (plus float32 rounding of the values).
double update_error(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& base) {
  double num = 0, den = 0, values = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += (double(b[i]) - base[i]) * (double(b[i]) - base[i]);
    values += double(base[i]) * base[i];
  }
  return std::sqrt(num) / (std::sqrt(den) + 1e-6 * std::sqrt(values) + 1e-30);
}

// One step in float64: every score from the old rows, then the updates.
double reference_step(Model m, std::vector<double>& a, std::vector<double>& b, int dim,
                      const std::vector<int32_t>& ctx, const std::vector<int32_t>& tgt, double lr) {
  const int nc = int(ctx.size()), nt = int(tgt.size());
  auto sigmoid = [](double x) { return x > 6 ? 1.0 : x < -6 ? 0.0 : 1 / (1 + std::exp(-x)); };
  auto pair_loss = [](double x, double label) {
    const double z = std::clamp(x, -6.0, 6.0);
    return std::log1p(std::exp(label > 0.5 ? -z : z));
  };
  const std::vector<double> A(a), B(b);
  double loss = 0;
  std::vector<double> h(dim, 0.0), grad_h(dim, 0.0);
  if (m == Model::Cbow)
    for (int c = 0; c < nc; ++c)
      for (int k = 0; k < dim; ++k) h[k] += A[ctx[c] * dim + k] / nc;
  for (int t = 0; t < nt; ++t) {
    const double label = t == 0 ? 1.0 : 0.0;
    for (int c = 0; c < (m == Model::SkipGram ? nc : 1); ++c) {
      const double* in = m == Model::SkipGram ? &A[ctx[c] * dim] : h.data();
      double s = 0;
      for (int k = 0; k < dim; ++k) s += in[k] * B[tgt[t] * dim + k];
      const double g = lr * (label - sigmoid(s));
      loss += pair_loss(s, label);
      for (int k = 0; k < dim; ++k) {
        b[tgt[t] * dim + k] += g * in[k];
        if (m == Model::SkipGram)
          a[ctx[c] * dim + k] += g * B[tgt[t] * dim + k];
        else
          grad_h[k] += g * B[tgt[t] * dim + k];
      }
    }
  }
  if (m == Model::Cbow)
    for (int c = 0; c < nc; ++c)
      for (int k = 0; k < dim; ++k) a[ctx[c] * dim + k] += grad_h[k];
  return loss;
}

const char* name(Model m) { return m == Model::SkipGram ? "sg" : "cbow"; }

void test_step() {
  std::mt19937 gen(7);
  const int V = 40;
  for (Model m : {Model::SkipGram, Model::Cbow})
    for (int dim : {3, 32, 100, 130, 300})
      for (int nc : {1, 2, 10, 33, 128})
        for (int nt : {1, 6, 17, 64}) {
          std::vector<float> a(V * dim), b(V * dim);
          // Scores of about +-2 (few clipped), and updates (lr 0.2) well above float32 rounding.
          std::normal_distribution<float> normal(0, float(std::sqrt(2.0) / std::pow(dim, 0.25)));
          for (float& x : a) x = normal(gen);
          for (float& x : b) x = normal(gen);
          std::vector<int32_t> ctx(nc), tgt(nt);
          for (int32_t& c : ctx) c = int32_t(gen() % V);  // repeats included
          for (int32_t& t : tgt) t = int32_t(gen() % V);
          std::vector<double> ra(a.begin(), a.end()), rb(b.begin(), b.end());
          const double ref_loss = reference_step(m, ra, rb, dim, ctx, tgt, 0.2);
          const std::vector<float> fa(ra.begin(), ra.end()), fb(rb.begin(), rb.end());
          std::vector<float> a2 = a, b2 = b;
          const double loss = emu_step(m, Matrix{a2.data(), V, dim}, Matrix{b2.data(), V, dim}, ctx, tgt, 0.2f);
          const double err = std::max(update_error(a2, fa, a), update_error(b2, fb, b));
          // The kernels' loss uses a fast log (~1e-5 absolute per pair).
          const double loss_err = std::abs(loss - ref_loss) / std::max(1.0, ref_loss);
          check(err < 1e-5 && loss_err < 1e-4,
                std::string("step ") + name(m) + " dim " + std::to_string(dim) + " contexts " + std::to_string(nc) +
                    " targets " + std::to_string(nt) + " (rows, then loss " + std::to_string(loss_err) + ")",
                err);
        }
}

struct Corpus {
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};
};

// A task over a corpus; with `second`, a parallel task of the two (as many sentences).
Task corpus_task(const Corpus& c, const Corpus* second = nullptr) {
  Task t;
  t.tokens = c.tokens.data();
  t.sentence_offsets = c.offsets.data();
  t.n_sentences = int64_t(c.offsets.size() - 1);
  if (second) {
    t.second_tokens = second->tokens.data();
    t.second_offsets = second->offsets.data();
  }
  return t;
}

// Sentences of ids in [first, first + vocab); with `topics`, words mostly stay
// in one quarter of the vocabulary per sentence. No id repeats within 3
// tokens (the deterministic check needs that: a word repeated inside one
// window is two independent cache slots on the GPU).
Corpus make_corpus(std::mt19937& gen, int first, int vocab, int n_sentences, int max_len, bool topics) {
  Corpus c;
  for (int s = 0; s < n_sentences; ++s) {
    const int len = int(gen() % (max_len + 1)), topic = int(gen() % 4);
    for (int i = 0; i < len; ++i) {
      int32_t id;
      do {
        id = topics && gen() % 3 ? first + topic * (vocab / 4) + int32_t(gen() % (vocab / 4))
                                 : first + int32_t(gen() % vocab);
      } while ((i >= 1 && c.tokens.end()[-1] == id) || (i >= 2 && c.tokens.end()[-2] == id));
      c.tokens.push_back(id);
    }
    c.offsets.push_back(int64_t(c.tokens.size()));
  }
  return c;
}

// The deterministic run's variations.
struct Variant {
  const char* name;
  bool codeswitch = false;
  bool parallel = false;  // a third task: pairs of a language-0 and a language-1 sentence
  int used_cols = 0;      // with the host's columns beyond zero (cuda_cols)
  int row_floats = 16;    // cuda_row_floats
  bool subwords = false;  // each word's own row and 0..5 of 40 bucket rows (repeats and shared ones)
};

void test_deterministic(Model m, const Variant& v) {
  std::mt19937 gen(11);
  const int V = 60, dim = 48;  // two languages: ids 0..29 and 30..59
  const Corpus c0 = make_corpus(gen, 0, 30, 120, 40, false), c1 = make_corpus(gen, 30, 30, 80, 30, false);
  const Corpus p0 = make_corpus(gen, 0, 30, 50, 25, false), p1 = make_corpus(gen, 30, 30, 50, 35, false);
  const int B = v.subwords ? 40 : 0;  // bucket rows after the words' rows
  std::vector<int64_t> sub_offsets{0};
  std::vector<int32_t> sub_rows;
  for (int i = 0; i < V && v.subwords; ++i) {
    sub_rows.push_back(i);
    for (int k = int(gen() % 6); k > 0; --k) sub_rows.push_back(V + int32_t(gen() % B));
    sub_offsets.push_back(int64_t(sub_rows.size()));
  }
  std::vector<float> w_in((V + B) * dim), h0(V * dim), h1(V * dim);
  std::normal_distribution<float> normal(0, 0.3f);
  for (std::vector<float>* w : {&w_in, &h0, &h1})
    for (int64_t i = 0; i < int64_t(w->size()); ++i) (*w)[i] = v.used_cols && i % dim >= v.used_cols ? 0 : normal(gen);
  const std::vector<float> keep(V, 1.0f), prob{1.0f};
  const std::vector<int32_t> alias{0};
  std::vector<int64_t> tr_offsets(V + 1);
  std::vector<int32_t> tr_ids(V);
  for (int i = 0; i <= V; ++i) tr_offsets[i] = i;
  for (int i = 0; i < V; ++i) tr_ids[i] = (i / 30) * 30 + (i % 30 + 7) % 30;  // one translation each, a permutation
  TrainParams p;
  p.model = m;
  p.dim = dim;
  p.window = 1;
  p.negative = 3;
  p.alpha = 0.05f;
  p.min_alpha = 0.001f;
  p.seed = 3;
  p.cbow_share = 1;
  p.cbow_window_cache = false;  // the CUDA kernel computes CBOW's exact step (cpu/cbow_window.h: CPU only)
  p.cuda_cols = v.used_cols;
  p.cuda_row_floats = v.row_floats;
  auto make_job = [&](std::vector<float>& a, std::vector<float>& b0, std::vector<float>& b1) {
    TrainJob job;
    job.w_in = Matrix{a.data(), V + B, dim};
    job.w_out = {Matrix{b0.data(), V, dim}, Matrix{b1.data(), V, dim}};
    if (v.subwords) job.subwords = Subwords{sub_offsets.data(), sub_rows.data(), V};
    job.keep_prob = keep.data();
    job.noise = {NoiseTable{prob.data(), alias.data(), 1, 5}, NoiseTable{prob.data(), alias.data(), 1, 41}};
    for (const Corpus* c : {&c0, &c1}) {
      Task t = corpus_task(*c);
      t.noise = t.head = c == &c0 ? 0 : 1;
      t.weight = c == &c0 ? 1.0f : 0.5f;
      if (v.codeswitch) {  // always taken, one translation: deterministic
        t.codeswitch = 1.0f;
        t.translations = Translations{tr_offsets.data(), tr_ids.data()};
      }
      job.tasks.push_back(t);
    }
    if (v.parallel) {
      Task t = corpus_task(p0, &p1);
      t.noise = 0;
      t.second_noise = 1;
      t.head = 0;
      t.weight = 0.7f;
      if (v.codeswitch) {  // both sides
        t.codeswitch = 1.0f;
        t.translations = Translations{tr_offsets.data(), tr_ids.data()};
      }
      job.tasks.push_back(t);
    }
    // Interleaved chunks of < 1024 tokens (one piece each) over two epochs.
    const int n_tasks = int(job.tasks.size());
    const double step = 1.0 / (2 * 4 * n_tasks);
    uint64_t id = 0;
    for (int e = 0; e < 2; ++e)
      for (int k = 0; k < 4; ++k)
        for (int t = 0; t < n_tasks; ++t) {
          const int64_t n = job.tasks[t].n_sentences;
          const double at = double(job.chunks.size()) * step;
          job.chunks.push_back(Chunk{t, n * k / 4, n * (k + 1) / 4, at, at + step, id++});
        }
    return job;
  };
  std::vector<float> a1 = w_in, a2 = w_in, b01 = h0, b02 = h0, b11 = h1, b12 = h1;
  const TrainJob cpu_job = make_job(a1, b01, b11), gpu_job = make_job(a2, b02, b12);
  Control control;
  std::vector<double> cpu_chunks(2 * cpu_job.chunks.size(), -1.0);
  control.chunk_stats = cpu_chunks.data();
  cpu::train(p, cpu_job, control, cpu::ops_generic());
  const Stats st = emu_train(p, gpu_job, 1, 3);
  const std::string what = std::string("deterministic ") + name(m) + " " + v.name;
  check(control.pairs.load() == int64_t(st.pairs) && control.words_done.load() == st.words,
        what + ": pairs " + std::to_string(st.pairs) + ", words " + std::to_string(st.words), 0);
  double chunk_err = 0;  // per chunk: pairs exactly, loss to rounding
  for (size_t c = 0; c < cpu_job.chunks.size(); ++c)
    chunk_err = std::max({chunk_err, std::abs(cpu_chunks[2 * c + 1] - st.chunks[2 * c + 1]),
                          std::abs(cpu_chunks[2 * c] - st.chunks[2 * c]) / std::max(1.0, cpu_chunks[2 * c])});
  check(chunk_err < 1e-5, what + ": (loss, pairs) of each of " + std::to_string(cpu_job.chunks.size()) + " chunks",
        chunk_err);
  const double err = std::max({update_error(a2, a1, w_in), update_error(b02, b01, h0), update_error(b12, b11, h1)});
  check(err < 1e-4, what + ": rows (error relative to the updates)", err);
  const double loss_err = std::abs(control.loss.load() - st.loss) / control.loss.load();
  check(loss_err < 1e-5, what + ": loss", loss_err);
  if (v.used_cols) {
    bool padding_zero = true;
    for (const std::vector<float>* w : {&a2, &b02, &b12})
      for (int64_t i = 0; i < int64_t(w->size()); ++i) padding_zero &= i % dim < v.used_cols || (*w)[i] == 0.0f;
    check(padding_zero, what + ": the host's padding columns stay zero", 0);
  }
}

// Keep probabilities and a unigram^0.75 alias table (Vose) of ids [first, first + n).
void sampling_tables(const std::vector<int64_t>& counts, int first, int n, double sample, std::vector<float>& keep,
                     std::vector<float>& prob, std::vector<int32_t>& alias) {
  double total = 0;
  for (int i = first; i < first + n; ++i) total += double(counts[i]);
  for (int i = first; i < first + n; ++i) {
    const double f = counts[i] / total;
    keep[i] = float(std::min(1.0, (std::sqrt(f / sample) + 1) * sample / f));
  }
  prob.assign(n, 0.0f);
  alias.assign(n, 0);
  std::vector<double> scaled(n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += (scaled[i] = std::pow(double(counts[first + i]), 0.75));
  std::vector<int> small, large;
  for (int i = 0; i < n; ++i) (scaled[i] *= n / sum) < 1 ? small.push_back(i) : large.push_back(i);
  while (!small.empty() && !large.empty()) {
    const int s = small.back(), l = large.back();
    small.pop_back();
    prob[s] = float(scaled[s]), alias[s] = l;
    if ((scaled[l] -= 1 - scaled[s]) < 1) large.pop_back(), small.push_back(l);
  }
  for (int i : small) prob[i] = 1, alias[i] = i;
  for (int i : large) prob[i] = 1, alias[i] = i;
}

// A "translation" of a corpus into ids + shift: every fourth word dropped, so
// the pair's lengths differ (the alignment is not the identity).
Corpus translated(const Corpus& c, int shift) {
  Corpus t;
  for (size_t s = 0; s + 1 < c.offsets.size(); ++s) {
    for (int64_t i = c.offsets[s]; i < c.offsets[s + 1]; ++i)
      if ((i - c.offsets[s]) % 4 != 3) t.tokens.push_back(c.tokens[i] + shift);
    t.offsets.push_back(int64_t(t.tokens.size()));
  }
  return t;
}

void test_statistical(Model m, int window, int warps, int dim, int share = 1, bool parallel = false) {
  std::mt19937 gen(5);
  const int V = 200, half = V / 2;  // parallel: language 0 is ids 0..99, language 1 ids 100..199
  const Corpus c = make_corpus(gen, 0, parallel ? half : V, 24, 1500, true);  // long sentences: pieces cut them
  const Corpus pa = make_corpus(gen, 0, half, 300, 60, true), pb = translated(pa, half);
  std::vector<int64_t> counts(V, 1);
  for (const Corpus* corpus : {&c, &pa, &pb})
    if (parallel || corpus == &c)
      for (int32_t t : corpus->tokens) counts[t]++;
  const double sample = 2e-3;
  std::vector<float> keep(V), prob0, prob1;
  std::vector<int32_t> alias0, alias1;
  sampling_tables(counts, 0, parallel ? half : V, sample, keep, prob0, alias0);
  if (parallel) sampling_tables(counts, half, half, sample, keep, prob1, alias1);
  std::vector<float> w_in(V * dim), w_out(V * dim, 0.0f);
  std::uniform_real_distribution<float> uniform(-0.5f / dim, 0.5f / dim);
  for (float& x : w_in) x = uniform(gen);
  TrainParams p;
  p.model = m;
  p.dim = dim;
  p.window = window;
  p.negative = 5;
  p.cbow_share = share;
  p.alpha = m == Model::SkipGram ? 0.025f : 0.05f;
  p.min_alpha = 0.0001f;
  p.seed = 9;
  auto make_job = [&](std::vector<float>& a, std::vector<float>& b) {
    TrainJob job;
    job.w_in = Matrix{a.data(), V, dim};
    job.w_out = {Matrix{b.data(), V, dim}};
    job.keep_prob = keep.data();
    job.noise = {NoiseTable{prob0.data(), alias0.data(), parallel ? half : V, 0}};
    if (parallel) job.noise.push_back(NoiseTable{prob1.data(), alias1.data(), half, half});
    job.tasks = {corpus_task(c)};
    if (parallel) {
      job.tasks.push_back(corpus_task(pa, &pb));
      job.tasks.back().second_noise = 1;
    }
    const int epochs = 2, per = 6, n_tasks = int(job.tasks.size()), total = epochs * per * n_tasks;
    for (int e = 0; e < epochs; ++e)
      for (int k = 0; k < per; ++k)
        for (int ti = 0; ti < n_tasks; ++ti) {
          const int64_t n = job.tasks[ti].n_sentences, at = int64_t(job.chunks.size());
          job.chunks.push_back(Chunk{ti, n * k / per, n * (k + 1) / per, double(at) / total, double(at + 1) / total,
                                     uint64_t(at)});
        }
    return job;
  };
  std::vector<float> a1 = w_in, a2 = w_in, b1 = w_out, b2 = w_out;
  Control control;
  cpu::train(p, make_job(a1, b1), control, cpu::ops_generic());
  const Stats st = emu_train(p, make_job(a2, b2), warps, 4);
  const double cpu_loss = control.loss.load() / control.pairs.load(), gpu_loss = st.loss / st.pairs;
  const double pairs = double(st.pairs) / control.pairs.load();
  char what[200];
  std::snprintf(what, sizeof what, "statistical %s%s%s window %d, %d warps: loss/pair %.4f vs %.4f, pairs x%.4f",
                name(m), share > 1 ? " cbow_share" : "", parallel ? " parallel" : "", window, warps, gpu_loss,
                cpu_loss, pairs);
  check(std::abs(gpu_loss / cpu_loss - 1) < 0.03 && std::abs(pairs - 1) < 0.03 && control.words_done.load() == st.words,
        what, gpu_loss / cpu_loss);
}

void exact_checks() {
  test_step();
  for (Model m : {Model::SkipGram, Model::Cbow}) {  // CBOW: the variants that touch its own code
    test_deterministic(m, Variant{"plain"});
    test_deterministic(m, Variant{"codeswitch", true});
    if (m == Model::SkipGram) test_deterministic(m, Variant{"parallel", false, true});
    test_deterministic(m, Variant{"parallel codeswitch", true, true});
    test_deterministic(m, Variant{"37 of 48 columns, rows of 4 floats", false, true, 37, 4});
    if (m == Model::SkipGram) test_deterministic(m, Variant{"37 of 48 columns, rows of 16 floats", false, false, 37, 16});
  }
}

void subword_checks() {
  for (Model m : {Model::SkipGram, Model::Cbow}) {
    test_deterministic(m, Variant{"subwords", false, false, 0, 16, true});
    test_deterministic(m, Variant{"subwords parallel codeswitch", true, true, 0, 16, true});
    test_deterministic(m, Variant{"subwords, 37 of 48 columns, rows of 4 floats", false, false, 37, 4, true});
  }
}

void statistical_checks() {
  test_statistical(Model::SkipGram, 5, 2, 48);
  test_statistical(Model::Cbow, 5, 2, 48);
  test_statistical(Model::SkipGram, 2, 3, 32);
  test_statistical(Model::Cbow, 5, 2, 48, 4);
  test_statistical(Model::SkipGram, 5, 2, 48, 1, true);
  test_statistical(Model::Cbow, 5, 2, 48, 4, true);
}

}  // namespace

// No argument: every check; --quick: the exact ones without subwords; --statistical: the statistical
// ones; --subwords: the exact ones with subwords (tests/test_subword_kernel.py).
int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "" || mode == "--quick") exact_checks();
  if (mode == "" || mode == "--subwords") subword_checks();
  if (mode == "" || mode == "--statistical") statistical_checks();
  std::printf("%d failure(s)\n", failures);
  return failures != 0;
}
