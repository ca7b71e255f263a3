// Crash-safe file replacement: the bytes go to a temporary file in the same directory, which is
// fsynced and renamed over the target, then the directory is fsynced. A reader therefore sees
// either the old file or the complete new one, never a torn write (checkpoints, models, metrics).
#pragma once
#include <string>

namespace frugal::io {

// On any failure (no such directory, ENOSPC, EFBIG, ...) the temporary file is removed, the old
// file at `path` is left untouched, and frugal::Error names the path and the system's reason.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace frugal::io
