// The --serve page's headers: its one inline script allowed by its hash, nothing else.
#include <doctest/doctest.h>

#include "find/page.hpp"

using namespace mirrortap::find;

namespace {

std::string header(const Page& page, const std::string& name) {
    for (const auto& [n, v] : page.headers)
        if (n == name) return v;
    return "";
}

}  // namespace

TEST_CASE("page: the script is allowed by its SHA-256, and only it") {
    const auto page = Page::make("<p>x</p><script>alert(1)</script>");
    REQUIRE(page);
    const std::string csp = header(*page, "Content-Security-Policy");
    // The hash a browser computes (and the CSP spec's example form): base64 of SHA-256 of the script's text.
    CHECK(csp.find("script-src 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='") != std::string::npos);
    CHECK(csp.find("default-src 'none'") != std::string::npos);
    CHECK(csp.find("connect-src 'self'") != std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(csp.find("unsafe-inline'; connect") != std::string::npos);  // styles only
    CHECK(header(*page, "Referrer-Policy") == "no-referrer");

    CHECK_FALSE(Page::make("<p>no script</p>"));
    CHECK_FALSE(Page::make("<script>unclosed"));
    CHECK_FALSE(Page::make("<script>a()</script><script src=x></script>"));
}

TEST_CASE("page: the built-in page is whole and loads nothing from elsewhere") {
    const auto page = Page::make(kPageHtml);
    REQUIRE(page);
    CHECK(kPageHtml.starts_with("<!DOCTYPE html>"));
    CHECK(kPageHtml.ends_with("</html>\n"));
    CHECK(kPageHtml.find("http://") == std::string_view::npos);
    CHECK(kPageHtml.find("https://") == std::string_view::npos);
    CHECK(kPageHtml.find("innerHTML") == std::string_view::npos);
}
