"""Every program's command line behaves the same way (support/command_line.hpp): -h and --help
print the help and exit 0, -V and --version print "PROGRAM VERSION" (the same version for all)
and exit 0, a mistake is one "PROGRAM: ..." line per error and exit 2, and a flag's value may
start with '-' (find's --since -15m), as getopt takes it."""
import os
import subprocess
import tempfile

from harness import BIN, run

PROGRAMS = ["mirrortap-collector", "mirrortap-sender", "mirrortap-find", "mirrortap-sessions",
            "mirrortap-blast", "mirrortap-drain"]


def call(program, *args):
    return subprocess.run([os.path.join(BIN, program), *args], capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def help_and_version_are_the_same_everywhere():
    versions = set()
    for program in PROGRAMS:
        for flag in ["-h", "--help"]:
            out = call(program, flag)
            assert out.returncode == 0, f"{program} {flag}: exit {out.returncode}: {out.stderr}"
            for listed in ["-h, --help", "-V, --version"]:
                assert listed in out.stdout, f"{program} {flag}: the help does not list {listed}"
        for flag in ["-V", "--version"]:
            out = call(program, flag)
            assert out.returncode == 0, f"{program} {flag}: exit {out.returncode}: {out.stderr}"
            first = out.stdout.splitlines()[0]
            name, version = first.split(" ")
            assert name == program, f"{program} {flag}: {first!r}"
            versions.add(version)
        # --help answers whatever else is wrong on the line.
        out = call(program, "--frobnicate", "--help")
        assert out.returncode == 0 and "-h, --help" in out.stdout, f"{program}: {out.stderr}"
    assert len(versions) == 1, versions


def mistakes_are_one_line_each_and_exit_2():
    for program in PROGRAMS:
        out = call(program, "--frobnicate")
        assert out.returncode == 2, f"{program}: exit {out.returncode}"
        lines = out.stderr.splitlines()
        assert lines == [f"{program}: unknown option '--frobnicate' (see --help)"], f"{program}: {lines}"
    # A value that starts with '-' is the flag's value, never a flag.
    with tempfile.TemporaryDirectory() as d:
        out = call("mirrortap-find", "--from", d, "--since", "-15m", "--until", "-1s", "-w", os.devnull)
        assert out.returncode == 0, out.stderr
        assert "wrote 0 packets" in out.stderr, out.stderr
        out = call("mirrortap-find", "--from", d, "--since", "-15x", "-w", os.devnull)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("mirrortap-find: bad --since: "), out.stderr
        # The words that are not flags are the filter expression, "--" included.
        out = call("mirrortap-find", "--from", d, "-w", os.devnull, "--", "udp", "and", "port", "53")
        assert out.returncode == 0, out.stderr
        out = call("mirrortap-find", "--from", d, "-w", os.devnull, "port", "and")
        assert out.returncode == 2 and "libpcap refuses the expression 'port and'" in out.stderr, out.stderr


if __name__ == "__main__":
    run({f.__name__: f for f in [help_and_version_are_the_same_everywhere, mistakes_are_one_line_each_and_exit_2]})
