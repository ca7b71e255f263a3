#include "frugal/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "frugal/core/error.h"

namespace frugal::io {

namespace {

std::string reason(int err) { return std::strerror(err); }

// Removes the temporary file on every exit path that did not rename it.
struct TempFile {
  std::string path;
  int fd = -1;
  bool renamed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed && !path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  require(!path.empty(), "write_file_atomic: empty path");
  std::filesystem::path target(path);
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  std::string name = target.filename().string();
  require(!name.empty(), path + ": cannot write a file: the path names a directory");

  TempFile tmp;
  std::string templ = dir + "/." + name + ".tmp.XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  tmp.fd = ::mkstemp(buf.data());
  if (tmp.fd < 0) throw Error(path + ": cannot create a temporary file in '" + dir + "': " + reason(errno));
  tmp.path = buf.data();
  // mkstemp makes the file 0600; a model or metrics file should be readable like any other output.
  if (::fchmod(tmp.fd, 0644) != 0) throw Error(path + ": cannot set permissions of the temporary file: " + reason(errno));

  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(tmp.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      throw Error(path + ": write failed after " + std::to_string(done) + " of " + std::to_string(bytes.size()) +
                  " bytes: " + reason(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(tmp.fd) != 0) throw Error(path + ": fsync failed: " + reason(errno));
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw Error(path + ": close failed: " + reason(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) throw Error(path + ": rename of the temporary file failed: " + reason(errno));
  tmp.renamed = true;

  // The rename is durable only once the directory entry is on disk.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd < 0) throw Error(path + ": cannot open directory '" + dir + "' to fsync it: " + reason(errno));
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) throw Error(path + ": fsync of directory '" + dir + "' failed: " + reason(err));
}

}  // namespace frugal::io
