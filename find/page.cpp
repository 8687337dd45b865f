#include "find/page.hpp"

#include <openssl/evp.h>

namespace mirrortap::find {

namespace {

// 'sha256-BASE64' of a script's text, as Content-Security-Policy names it.
std::string csp_hash(std::string_view script) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(script.data(), script.size(), md, &n, EVP_sha256(), nullptr);
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int len = EVP_EncodeBlock(b64, md, int(n));
    return "'sha256-" + std::string(reinterpret_cast<const char*>(b64), size_t(len)) + "'";
}

}  // namespace

Result<Page> Page::make(std::string_view html) {
    constexpr std::string_view kOpen = "<script>", kClose = "</script>";
    const size_t open = html.find(kOpen);
    const size_t close = open == std::string_view::npos ? open : html.find(kClose, open);
    if (close == std::string_view::npos) return fail("the page has no <script>...</script>");
    // One script only: a second would be refused by the browser, its hash not being in the policy.
    if (html.find("<script", close) != std::string_view::npos) return fail("the page has more than one <script>");
    const std::string_view script = html.substr(open + kOpen.size(), close - open - kOpen.size());
    // Nothing from elsewhere: every fetch goes to this server, no frame may hold the page
    // (clickjacking), and a form cannot post anywhere.
    const std::string policy = "default-src 'none'; script-src " + csp_hash(script) +
                               "; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
    return Page{html,
                {{"Content-Security-Policy", policy},
                 {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"}}};
}

}  // namespace mirrortap::find
