// The driver a fuzz target links when it is not built for libFuzzer (gcc, or
// clang without MIRRORTAP_FUZZ): it runs the target once on every file it is
// given, directories read in name order. Flags (`-runs=0`, ...) are accepted
// and ignored, so ctest calls both kinds of binary the same way. A crash or a
// broken invariant aborts with the file's name printed first.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.starts_with("-")) continue;
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<fs::path> found;
            for (const auto& e : fs::directory_iterator(arg))
                if (e.is_regular_file()) found.push_back(e.path());
            std::sort(found.begin(), found.end());
            inputs.insert(inputs.end(), found.begin(), found.end());
        } else if (fs::is_regular_file(arg, ec)) {
            inputs.emplace_back(arg);
        } else {
            std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], arg.c_str());
            return 2;
        }
    }
    // An empty replay proves nothing: the regression directories are never empty.
    if (inputs.empty()) {
        std::fprintf(stderr, "usage: %s FILE|DIR... (replays each input once; found none)\n", argv[0]);
        return 2;
    }
    for (const auto& p : inputs) {
        std::fprintf(stderr, "replay %s\n", p.c_str());
        const std::vector<uint8_t> bytes = read_file(p);
        // A copy on the heap of exactly the input's size, so ASan sees any
        // read past its end, as it does under libFuzzer.
        auto* data = new uint8_t[bytes.size()];
        std::copy(bytes.begin(), bytes.end(), data);
        LLVMFuzzerTestOneInput(data, bytes.size());
        delete[] data;
    }
    std::fprintf(stderr, "%s: %zu inputs replayed clean\n", argv[0], inputs.size());
    return 0;
}
