#pragma once
/// A response body read from an open file (downloads, exports): the response holds a descriptor,
/// not the bytes, and the session sends it in chunks. The file may be unlinked once opened (a
/// spooled export): the descriptor keeps its bytes until the last reference goes.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "core/result.hpp"

namespace evald {

class FileBody {
 public:
  /// Opens `path` read-only; its size is taken once, at open.
  static Result<std::shared_ptr<const FileBody>> open(const std::filesystem::path& path);
  /// Takes ownership of `fd` (closed even on error); the size is the file's size now.
  static Result<std::shared_ptr<const FileBody>> adopt(int fd);

  ~FileBody();
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;

  std::uint64_t size() const { return size_; }
  /// Up to `n` bytes at `offset` into `out` (blocking: call it off the event loop); 0 at the
  /// end. Concurrent calls are safe (pread).
  Result<std::size_t> read_at(std::uint64_t offset, char* out, std::size_t n) const;

 private:
  FileBody(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  std::uint64_t size_;
};

}  // namespace evald
