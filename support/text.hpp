// Text helpers for messages and lists. Any text a user gave (a config value,
// a key, a path, a flag's argument) goes through printable() before it is
// echoed into a message, so that "web\nOK" cannot forge a log line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mirrortap {

// The text with control characters (below 0x20, and DEL) and backslashes
// escaped: \n, \r, \t, \\ and \xNN. Other bytes, UTF-8 included, pass unchanged.
std::string printable(std::string_view text);

// printable(text) in single quotes: the form messages use to echo a value.
std::string quote(std::string_view text);

// True when the text holds a control character (see printable()).
bool has_control_character(std::string_view text);

// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view text);

// "a, b,c" -> {"a", "b", "c"}: items split at commas and trimmed. Empty items
// are kept (as empty views), so that the item's parser refuses them: "a,,b"
// and "" are mistakes, not shorter lists.
std::vector<std::string_view> split_list(std::string_view text);

// "1 worker", "2 workers", "0 files": a count and its noun, plural unless
// one ("s" added, or `plural` when the word is irregular: "1 entry", "2 entries").
std::string count_of(uint64_t n, std::string_view singular, std::string_view plural = {});

// "lead a, b, c." with lines wrapped before `width` columns: a list of names
// in a --help text.
std::string wrapped_words(std::string lead, const std::vector<std::string_view>& words, size_t width = 78);

}  // namespace mirrortap
