// Counting and encoding of whitespace-separated UTF-8 text in one pass.
//
// Python reads, decompresses and validates the files in large blocks; here the
// blocks are split into tokens, each token gets a provisional id (first-seen
// order, per language) and its count, and each task's text becomes a stream of
// provisional ids with sentence offsets, taken out in pieces as it grows. Once
// the vocabulary is chosen, mtlembed/encoded.py maps provisional ids to final
// ones, so the corpus is read once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mtl::corpus {

// The distinct tokens of one language and their counts.
//
// Memory stays bounded on corpora with tens of millions of distinct tokens by
// pruning as word2vec's ReduceVocab does: when more than `max_distinct` tokens
// are held, those seen at most `threshold` times are dropped, the threshold
// rising by one at each pruning (until a quarter of the table is free, so a
// pruning is never repeated at once). Provisional ids are never reused: the
// occurrences encoded before a token was dropped keep an id no held token has,
// which the final mapping sends to "dropped"; a dropped token that comes back
// gets a new id, counted from then on. Nothing is kept per issued id, only per
// held token.
class Counter {
 public:
  explicit Counter(int64_t max_distinct);
  // Provisional id of a token, adding it if new; counts one occurrence.
  int32_t add(const char* text, size_t length);
  int64_t size() const { return static_cast<int64_t>(counts_.size()); }  // tokens held now
  int64_t issued() const { return issued_; }  // provisional ids handed out, dropped ones included
  const std::string& text() const { return text_; }          // held tokens, back to back
  const std::vector<int64_t>& ends() const { return ends_; }  // held token i ends at ends[i]
  const std::vector<int64_t>& counts() const { return counts_; }
  const std::vector<int32_t>& ids() const { return ids_; }    // provisional id of held token i
  int64_t prunings() const { return prunings_; }
  int64_t dropped() const { return dropped_; }      // tokens dropped by all prunings
  int64_t threshold() const { return threshold_; }  // the last pruning dropped counts <= this

 private:
  void grow();
  void prune();
  void rebuild_slots(size_t slot_count);
  int64_t max_distinct_;
  int64_t issued_ = 0;
  int64_t prunings_ = 0, dropped_ = 0, threshold_ = 0;
  std::string text_;
  std::vector<int64_t> ends_;
  std::vector<int64_t> counts_;
  std::vector<uint64_t> hashes_;
  std::vector<int32_t> ids_;
  std::vector<int32_t> slots_;  // held token index, -1 = empty; open addressing, a power of two
};

// One task's tokens as ids, cut into sentences at newlines and every
// `max_sentence` tokens (long lines are split, never truncated). With
// `keep_empty` (one side of parallel text) every line is a sentence, empty
// ones included, so line i of two aligned files stays sentence i.
class Stream {
 public:
  Stream(int64_t max_sentence, bool keep_empty);
  void push(int32_t id);
  void end_sentence();  // at a newline or the end of a file
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};  // sentence s is tokens[offsets[s], offsets[s+1])

 private:
  int64_t max_sentence_;
  bool keep_empty_;
};

// Splits a block of text on ASCII whitespace into `stream`, counting tokens in
// `counter`. The block must not end inside a token (the caller carries the
// last partial token over to the next block). Returns the number of tokens.
int64_t tokenize(const char* data, size_t size, Counter& counter, Stream& stream);

}  // namespace mtl::corpus
