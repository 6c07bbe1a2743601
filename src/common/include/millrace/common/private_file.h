// Files holding secrets (passwords, keys, credential and ACL stores): written
// mode 0600 and read without following symlinks, so that a local user who can
// plant files in a data dir can neither redirect a write nor a read.
#pragma once

#include <string>
#include <string_view>

#include "millrace/common/file_system.h"
#include "millrace/common/result.h"

namespace millrace {

// Replaces `path` with `data` durably. On the real disk through
// write_private_file (mode 0600, a temp file opened O_EXCL|O_NOFOLLOW, fsync,
// rename: a symlink is replaced, never followed), then the directory synced;
// other file systems (in memory, fault injection) have no modes: write_file_atomic.
status write_private(file_system& fs, const std::string& path, std::string_view data);

// Reads a small secret file an attacker may have replaced: O_NOFOLLOW (a
// symlink is refused, never followed), only a regular file (a FIFO would
// block), at most `max_bytes` (larger is an error). errc::not_found when it
// does not exist; other errors name the file and the reason.
result<std::string> read_private_file(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace millrace
