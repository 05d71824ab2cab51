#!/usr/bin/env bash
# Prints the path of a nats-server 2.10 or newer for the JetStream cluster suite, fetching
# Debian trixie's package (apt checks its signature) into a private directory when the
# nats-server on PATH is older. The deployment ships nats 2.10; Debian bookworm's 2.9.10 has
# replicated-stream defects that nats 2.10 fixed (conditional KV updates across leader
# changes). Prints nothing, and returns 0, when it cannot: the suite then uses PATH's.
set -uo pipefail

version_of() { "$1" --version 2>/dev/null | sed -n 's/^nats-server: v\([0-9]*\)\.\([0-9]*\)\..*/\1 \2/p'; }
recent_enough() { local v; v=$(version_of "$1"); [ -n "$v" ] && { read -r major minor <<<"$v"; [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 10 ]; }; }; }

if command -v nats-server >/dev/null 2>&1 && recent_enough "$(command -v nats-server)"; then
  exit 0 # PATH's is recent enough: the suite uses it
fi

dir="${TMPDIR:-/tmp}/chio-ci-nats-server"
bin="$dir/root/usr/sbin/nats-server"
if [ -x "$bin" ] && recent_enough "$bin"; then echo "$bin"; exit 0; fi

rm -rf "$dir" && mkdir -p "$dir/parts" "$dir/lists/partial" "$dir/cache/archives/partial" || exit 0
cat >"$dir/parts/trixie.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_private=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$dir/parts" -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
{
  apt-get "${apt_private[@]}" update -qq &&
    (cd "$dir" && apt-get "${apt_private[@]}" download -qq nats-server) &&
    dpkg-deb -x "$dir"/nats-server_*.deb "$dir/root"
} >&2 || exit 0
if [ -x "$bin" ] && recent_enough "$bin"; then echo "$bin"; fi
exit 0
