// Reading the files a user points us at (configs, secrets), failing closed:
// only a regular file is read, never a directory, FIFO, socket or device (a
// FIFO is opened without blocking, so a reload cannot hang on one), and never
// more than a size cap. Each refusal is one line that does not repeat
// the path: the caller puts it in front ("PATH: config file is empty").
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace mirrortap {

inline constexpr size_t kMaxConfigFileBytes = 1 << 20;  // 1 MiB
inline constexpr size_t kMaxSecretFileBytes = 4096;

// The whole content of a regular file of at most `max_bytes`; `what` names it
// in messages ("config file", "secret file"). An empty file is returned as "".
Result<std::string> read_regular_file(const std::string& path, size_t max_bytes, std::string_view what);

// A config file: regular, at most 1 MiB, not empty ("config file is empty").
Result<std::string> read_config_file(const std::string& path);

// A config file (read_config_file's rules) loaded by `load_text`, one
// program's loader of YAML text into its ConfigLoad; a file that cannot be
// read is that load with one error tied to no place.
template <class Load, class LoadText>
Load load_config_from_file(const std::string& path, LoadText load_text) {
    const Result<std::string> text = read_config_file(path);
    if (!text) {
        Load out;
        out.errors.push_back({0, 0, text.error()});
        return out;
    }
    return load_text(*text);
}

// A one-line secret (password, token): regular, at most 4 KiB. Surrounding
// white space and one line end are dropped; an empty secret or a second line
// is refused.
Result<std::string> read_secret_file(const std::string& path);

// OpenSSH's StrictModes for a file root reads: the file (links resolved) and
// the directory holding it must belong to one of `owners` and be writable by
// no group and no other user. Whoever could change either could change what
// a root process does next (a reload, a restart). Refused: one line naming
// the path, what is wrong and the command that fixes it; `what` names the file.
Result<> check_trusted_file(const std::string& path, std::span<const uid_t> owners, std::string_view what);

}  // namespace mirrortap
