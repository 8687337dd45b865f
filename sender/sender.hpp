// The running sender: captures, classifies, encapsulates and sends, on one
// Boost.Asio thread. A reload (and a target that moves to a new address) is
// all or nothing: what the new config needs is opened beside the running
// objects first, and swapped in only once all of it is there.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "sender/capture.hpp"
#include "sender/config.hpp"
#include "sender/rate_limit.hpp"
#include "sender/segment.hpp"
#include "sender/session_engine.hpp"
#include "sender/stats.hpp"
#include "sender/transmit.hpp"

namespace mirrortap::sender {

// A config ready to run: well-formed, filter ids resolved; each session's
// interfaces and target index capture_interfaces() and session_targets().
struct RunConfig {
    SenderConfig config;
    std::vector<Session> sessions;
};

// The first address of `host` (numeric or a name), or a one-line error.
Result<sockaddr_storage> resolve_target(const std::string& host);

// Of a name's addresses, the one to send to: `current` while the answer still
// holds it (an NLB's name answers with its zones' addresses in turn; hopping
// between them would move every flow to another collector), else the first.
const sockaddr_storage& pick_address(const std::vector<sockaddr_storage>& answer, const sockaddr_storage& current);

class Sender {
public:
    Sender(boost::asio::io_context& io, SenderStats& stats);
    ~Sender();

    // Resolves the target, opens every capture and the socket; or an error
    // (and then nothing runs).
    Result<> start(RunConfig run);
    // Applies a new config all or nothing. Everything that can fail is done on
    // new objects while the running ones keep capturing and sending: the
    // target is resolved (when its name changed), captures are opened and
    // filtered on interfaces not captured yet, the running captures' new
    // filter is compiled, a transmit socket is opened when the family, batch
    // or buffer changes. Only then are they swapped in; on an error nothing
    // changed and the error is returned.
    Result<> reload(RunConfig run);
    // Stops capturing and sends what is batched.
    void stop();

    // For --explain and tests: the engine in use.
    const SessionEngine& engine() const { return engine_; }

private:
    struct Source;
    struct Staged;
    // One place mirrors go to, with its socket, its path MTU and its health.
    struct Target {
        Endpoint endpoint;  // host and port as configured
        sockaddr_storage addr{};
        OwnTarget own;
        std::unique_ptr<Transmitter> tx;
        uint32_t path_mtu = 0;
        uint32_t max_inner_bytes = 0;
        TargetHealth* health = nullptr;  // in stats_, kept across reloads
        uint64_t failing_since_ns = 0;   // monotonic; 0 = not failing
    };
    // One address per session_targets() entry of `c`: the running one for a
    // target that stays, else resolved now; or an error.
    Result<std::vector<sockaddr_storage>> addresses_for(const SenderConfig& c);
    std::string target_names() const;  // "10.0.0.1:4789, [::1]:4789"
    // Builds what `run` needs with `addresses` (one per session_targets()
    // entry) beside the running objects; or an error.
    Result<Staged> stage(RunConfig run, std::vector<sockaddr_storage> addresses);
    // The running target for `e`, or null.
    const Target* running_target(const Endpoint& e) const;
    // Swaps the staged objects in; cannot fail.
    void commit(Staged& staged);
    std::shared_ptr<Source> running_source(const std::string& interface) const;
    std::string interface_names() const;  // "eth0,eth1", each once
    void arm(const std::shared_ptr<Source>& s);
    uint64_t drain(Source& s);  // returns the frames read
    void handle_frame(Source& s, const CapturedFrame& frame);
    // Sends one frame (or one segment of a super-frame) of a session that
    // took it, writing `fix` (a completed checksum) into the copy.
    void mirror(Source& s, int session_index, const FlowKey& f, Bytes frame, ChecksumFix fix);
    void apply_sessions(std::vector<Session> sessions, VpcResolvers resolvers);
    // The MTU frames are cut to: --mtu, or the route's towards the target
    // when smaller (asked once a second: a syscall, never per frame).
    void refresh_path_mtu(Target& t, uint32_t configured);
    // Once a second: ICMP errors, the route and the neighbour towards each
    // target, and whether it has been unreachable past the grace period.
    void check_targets();
    void schedule_resolve();
    void resolve_next(size_t index);  // re-resolves targets_[index..] one after another
    void schedule_stats();

    boost::asio::io_context& io_;
    SenderStats& stats_;
    RunConfig run_;
    SessionEngine engine_;
    // Parallel to engine_.sessions(): counters, and per direction the
    // counters of each rule in filter order.
    struct SessionSlot {
        SessionStats* stats;
        std::array<std::vector<RuleStats*>, kDirectionNames.size()> rules;
    };
    std::vector<SessionSlot> slots_;
    std::vector<std::shared_ptr<Source>> sources_;
    std::vector<Target> targets_;  // session_targets() order
    RateLimiter limiter_;
    // Where a super-frame's segments are built, one at a time: headers and
    // a link MTU of payload at most.
    std::vector<std::byte> scratch_ = std::vector<std::byte>(2 * 65536);
    uint64_t now_ns_ = 0;  // read once per drained batch, not per frame
    boost::asio::steady_timer resolve_timer_;
    boost::asio::steady_timer stats_timer_;
    boost::asio::ip::udp::resolver resolver_;
    bool stopped_ = false;
};

}  // namespace mirrortap::sender
