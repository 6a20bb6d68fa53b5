#include "core/file_body.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace evald {

Result<std::shared_ptr<const FileBody>> FileBody::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ApiError::internal("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  return adopt(fd);
}

Result<std::shared_ptr<const FileBody>> FileBody::adopt(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    return ApiError::internal(std::string("file body: not a regular file: ") + std::strerror(err));
  }
  return std::shared_ptr<const FileBody>(new FileBody(fd, static_cast<std::uint64_t>(st.st_size)));
}

FileBody::~FileBody() { ::close(fd_); }

Result<std::size_t> FileBody::read_at(std::uint64_t offset, char* out, std::size_t n) const {
  if (offset >= size_) return std::size_t{0};
  if (n > size_ - offset) n = static_cast<std::size_t>(size_ - offset);
  for (;;) {
    const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) {
      return ApiError::internal(std::string("file body: read failed: ") + std::strerror(errno));
    }
  }
}

}  // namespace evald
