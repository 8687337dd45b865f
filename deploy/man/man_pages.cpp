// mirrortap-man-page PROGRAM VERSION DATE: prints PROGRAM's manual page in
// roff. A build-time tool (deploy/CMakeLists.txt runs it for every installed
// program and gzips the pages into the packages); never installed.
//
// The options and config keys come from the programs' own settings tables,
// the ones --help and the docs tables are rendered from (render_man in
// support/settings.hpp); only the prose below is the page's own. A new
// program: one row in kPrograms, and one mirrortap_man_page() line in
// deploy/CMakeLists.txt.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "find/options.hpp"
#include "sender/settings.hpp"
#include "sessions/settings.hpp"
#include "support/settings.hpp"

namespace {

using mirrortap::ManPage;
using mirrortap::SettingDoc;

struct Program {
    std::string_view name;
    int section;
    std::string_view summary;
    std::string_view synopsis;
    std::string_view description;
    std::vector<SettingDoc> (*docs)();
    const std::vector<std::string_view>& (*groups)();
    std::string_view files;
    std::string_view see_also;
};

const Program kPrograms[] = {
    {"mirrortap-collector", 8, "receive VXLAN mirror traffic and write per-session pcaps",
     "[--config FILE] [options]",
     "mirrortap-collector receives VXLAN-encapsulated mirror traffic (AWS VPC Traffic Mirroring, a "
     "Gateway Load Balancer's GENEVE, or mirrortap-sender), strips the encapsulation and writes each "
     "mirror session's inner frames to its own rotated pcap files, to TAP interfaces or a live pcap "
     "stream for an IDS, or forwards them. It serves Prometheus metrics, /healthz and /readyz. Flags "
     "override the config file.\n\n"
     "SIGTERM and SIGINT drain, flush and close every file, then exit 0. SIGHUP reloads the config "
     "file and flags as at start; a config that fails to load is refused and the running one stays. "
     "Either way every open pcap file is finished and a new one started. Files are written as "
     "*.pcap.part and renamed to *.pcap when finished.\n\n"
     "Started as root it refuses to run without --user (an unprivileged account: one of uid 0 counts "
     "as root) or --allow-root; every thread is started after root is dropped. The config file, its "
     "directory and the secret files it names must belong to root or the service user and be writable "
     "by no one else (as OpenSSH's StrictModes). An existing pcap directory must already belong to "
     "--user; root only hands over one it made. Plain http:// endpoints to another host are refused "
     "unless allow_insecure_endpoints is set (see /usr/share/doc/mirrortap-collector/security.md).",
     mirrortap::collector_docs, mirrortap::collector_setting_groups,
     "/etc/mirrortap/collector.yaml: the configuration the service reads.\n\n"
     "/var/lib/mirrortap/captures: the service's pcap directory.\n\n"
     "/run/mirrortap: the service's runtime directory, for the stream FIFO or socket "
     "(/run/mirrortap/feed, unix:/run/mirrortap/feed.sock).\n\n"
     "/usr/lib/sysctl.d/60-mirrortap-collector.conf: raises net.core.rmem_max for the receive buffers.",
     "mirrortap-sender(8), tcpdump(8), tshark(1), systemd.exec(5); /usr/share/doc/mirrortap-collector/README.md"},
    {"mirrortap-sender", 8, "mirror this host's traffic as VXLAN, filtered like AWS Traffic Mirroring",
     "[-c FILE] [-i IFACE]... [-t HOST[:PORT]] [options]",
     "mirrortap-sender mirrors what this host's interfaces send and receive to a VXLAN target (a "
     "mirrortap collector, or a load balancer in front of several), with the filters and sessions of "
     "AWS VPC Traffic Mirroring: rules in rule_number order, the first match decides, no match is not "
     "mirrored; sessions in session_number order, a packet goes to the first that accepts it, once. "
     "Flags override the config file.\n\n"
     "SIGHUP reloads the config file, the AWS filter files and the flags as at start, all or nothing. "
     "The sender never mirrors its own VXLAN. It needs CAP_NET_RAW.",
     mirrortap::sender::sender_docs, mirrortap::sender::sender_setting_groups,
     "/etc/mirrortap/sender.yaml: the configuration the service reads.",
     "mirrortap-collector(8), tcpdump(8); /usr/share/doc/mirrortap-sender/README.md"},
    {"mirrortap-find", 1, "find any flow's packets across a fleet of collectors' captures",
     mirrortap::find::kFindSynopsis,
     mirrortap::find::kFindDescription,
     [] { return mirrortap::find::find_docs(); }, mirrortap::find::find_groups,
     "/var/lib/mirrortap/captures: the collector service's pcap directory, read by default.",
     "mirrortap-collector(8), pcap-filter(7), tcpdump(8), wireshark(1); "
     "/usr/share/doc/mirrortap-collector/README.md"},
    {"mirrortap-sessions", 8, "keep mirror sessions for every network interface a selector names",
     mirrortap::sessions::kSessionsSynopsis,
     mirrortap::sessions::kSessionsDescription,
     mirrortap::sessions::sessions_docs, mirrortap::sessions::sessions_setting_groups,
     "/etc/mirrortap/sessions.yaml: the configuration the service reads (the Terraform module writes it).\n\n"
     "/usr/share/mirrortap/systemd/mirrortap-sessions.service: the service unit, installed by the Terraform "
     "module's user data.\n\n"
     "/usr/share/doc/mirrortap-collector/sessions.example.yaml: every key, commented.",
     "mirrortap-collector(8), mirrortap-sender(8); /usr/share/doc/mirrortap-collector/sessions.md"},
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: mirrortap-man-page PROGRAM VERSION DATE\n");
        return 2;
    }
    const std::string_view name = argv[1];
    for (const Program& p : kPrograms) {
        if (p.name != name) continue;
        const ManPage page{.name = p.name, .section = p.section, .version = argv[2], .date = argv[3],
                           .summary = p.summary, .synopsis = p.synopsis, .description = p.description,
                           .docs = p.docs(), .groups = p.groups(),
                           .sections = {{"FILES", p.files}, {"SEE ALSO", p.see_also}}};
        const std::string roff = mirrortap::render_man(page);
        return std::fwrite(roff.data(), 1, roff.size(), stdout) == roff.size() ? 0 : 1;
    }
    std::fprintf(stderr, "mirrortap-man-page: no page for %s\n", argv[1]);
    return 2;
}
