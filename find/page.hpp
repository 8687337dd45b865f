// The page GET / serves (find/page.html, embedded at build time): a form
// over the API for a browser, and the headers that keep it self-contained.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace mirrortap::find {

// find/page.html as it was at build time (find/page_html.cpp.in).
extern const std::string_view kPageHtml;

struct Page {
    std::string_view html;
    // Content-Security-Policy and the other headers it is answered with.
    std::vector<std::pair<std::string, std::string>> headers;

    // The page's headers for `html`: its one inline <script> allowed by its
    // SHA-256 ('sha256-...'), so no other script (an injected one) runs; or
    // why not (no script, or more than one).
    static Result<Page> make(std::string_view html);
};

}  // namespace mirrortap::find
