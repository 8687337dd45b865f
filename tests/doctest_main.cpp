#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

namespace {

// ctest runs each test case as `--test-case=<name>`. A name that does not
// survive that trip (a `;` splits a CMake list) selects nothing, and doctest
// counts an empty run as a pass: a test that can never fail. Such a run fails.
bool ran_nothing = false;

struct EmptyRunIsAFailure : doctest::IReporter {
    explicit EmptyRunIsAFailure(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& s) override { ran_nothing = s.numTestCasesPassingFilters == 0; }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("empty_run_is_a_failure", 0, EmptyRunIsAFailure);

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int rc = context.run();
    if (context.shouldExit()) return rc;
    if (rc == EXIT_SUCCESS && ran_nothing) {
        std::fprintf(stderr, "no test case matched the filters: nothing was tested\n");
        return EXIT_FAILURE;
    }
    return rc;
}
