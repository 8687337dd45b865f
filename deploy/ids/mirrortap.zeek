# Load from site/local.zeek:  @load mirrortap   (copy this file to site/)
#
# With tap_session_vlan on, the outer VLAN ID is the mirror session. Zeek 8.0
# and later can key connections on it, so that two VPCs with the same address
# plan are not merged into one connection; older Zeek keys on the 5-tuple only
# (run one Zeek per session, or keep address plans apart, there).
@if ( Version::at_least("8.0") )
@load policy/frameworks/conn_key/vlan_fivetuple
@endif

# The session's VLAN (and a frame's own tag, inside it) in conn.log.
@load policy/protocols/conn/vlan-logging

# Mirrored frames carry the source's checksums as sent, often wrong where the
# source NIC offloads them.
redef ignore_checksums = T;
