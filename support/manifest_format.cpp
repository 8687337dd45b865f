#include "support/manifest_format.hpp"

namespace mirrortap::manifest_format {

json::Value file_value(const ManifestFile& f) {
    namespace k = file_key;
    return {{k::key, f.key},         {k::size, f.size},       {k::sha256, f.sha256},
            {k::s3_checksum, f.s3_checksum}, {k::session, f.session}, {k::vni, f.vni},
            {k::first_ns, f.first_ns}, {k::last_ns, f.last_ns}, {k::packets, f.packets}};
}

Result<ManifestFile> file_from(const json::Value& v) {
    namespace k = file_key;
    try {
        ManifestFile f;
        f.key = v.at(k::key).get<std::string>();
        f.size = v.at(k::size).get<uint64_t>();
        f.sha256 = v.at(k::sha256).get<std::string>();
        f.s3_checksum = v.at(k::s3_checksum).get<std::string>();
        f.session = v.at(k::session).get<std::string>();
        f.vni = v.at(k::vni).get<uint32_t>();
        f.first_ns = v.at(k::first_ns).get<uint64_t>();
        f.last_ns = v.at(k::last_ns).get<uint64_t>();
        f.packets = v.at(k::packets).get<uint64_t>();
        return f;
    } catch (const nlohmann::json::exception& e) {
        return fail(std::string("a file entry: ") + e.what());
    }
}

}  // namespace mirrortap::manifest_format
