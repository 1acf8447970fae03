// What identifies one version of a file, to notice it changed: a Secret rotated by Kubernetes
// is a new inode behind the same path, an edit a new modification time or size.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

namespace skua::common {

struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t mtime_ns = 0;
  off_t size = -1;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of the file `path` names (symbolic links followed); nullopt if it cannot be read.
inline std::optional<FileStamp> StampOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino,
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   st.st_size};
}

}  // namespace skua::common
