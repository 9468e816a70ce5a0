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
class Counter {
 public:
  Counter();
  // Provisional id of a token, adding it if new; counts one occurrence.
  int32_t add(const char* text, size_t length);
  int64_t size() const { return static_cast<int64_t>(counts_.size()); }
  const std::string& text() const { return text_; }          // all tokens, back to back
  const std::vector<int64_t>& ends() const { return ends_; }  // token i ends at ends[i]
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  void grow();
  std::string text_;
  std::vector<int64_t> ends_;
  std::vector<int64_t> counts_;
  std::vector<uint64_t> hashes_;
  std::vector<int32_t> slots_;  // open addressing, -1 = empty; size is a power of two
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
