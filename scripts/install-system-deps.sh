#!/usr/bin/env bash
# Install the Debian packages the interop tests (tests/interop) and a few others need, when missing:
#   gphoto2  -> gphoto2            (stock PTP/IP initiator)
#   tshark   -> tshark             (PTP/IP dissector)
#   dumpcap  -> wireshark-common   (loopback capture; a dependency of tshark)
#   chromium, chromedriver -> chromium, chromium-driver   (the live-view page test, headless)
#   strace   -> strace             (tests/cli/test_no_camera.py: no socket for `ptpip help`)
#
# Usage: scripts/install-system-deps.sh [--dry-run]
#
# Does nothing (exit 0) when every tool is already there. Installs only as root, with apt-get,
# non-interactively; otherwise prints what to install and exits 0, so that the interop tests
# report the missing tool themselves (they fail when CI=true, skip otherwise).
# Exits non-zero only when an installation was attempted and failed.
set -euo pipefail

dry_run=0
case "${1:-}" in
    "") ;;
    -n | --dry-run) dry_run=1 ;;
    -h | --help)
        sed -n '2,14s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        echo "install-system-deps: unknown argument: $1 (try --help)" >&2
        exit 2
        ;;
esac

say() { echo "install-system-deps: $*"; }

# tool:package pairs, in install order
tools=(gphoto2:gphoto2 tshark:tshark dumpcap:wireshark-common chromium:chromium
    chromedriver:chromium-driver strace:strace)

missing=()
for pair in "${tools[@]}"; do
    tool=${pair%%:*}
    package=${pair#*:}
    if command -v "$tool" >/dev/null 2>&1; then
        say "$tool: found at $(command -v "$tool")"
    else
        say "$tool: missing (package $package)"
        case " ${missing[*]-} " in
            *" $package "*) ;;
            *) missing+=("$package") ;;
        esac
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    say "nothing to do"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "not root: not installing; run as root: apt-get install ${missing[*]}"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get not found (not Debian/Ubuntu?): install ${missing[*]} by hand"
    exit 0
fi

run() {
    say "+ $*"
    if [ "$dry_run" -eq 0 ]; then
        "$@"
    fi
}

export DEBIAN_FRONTEND=noninteractive
case " ${missing[*]} " in
    *" tshark "* | *" wireshark-common "*)
        # Otherwise wireshark-common asks whether non-root users may capture.
        if command -v debconf-set-selections >/dev/null 2>&1; then
            say "+ debconf-set-selections <<< 'wireshark-common wireshark-common/install-setuid boolean false'"
            if [ "$dry_run" -eq 0 ]; then
                echo "wireshark-common wireshark-common/install-setuid boolean false" |
                    debconf-set-selections
            fi
        fi
        ;;
esac

run apt-get update -q
# Wait for a dpkg lock held by another apt (e.g. unattended-upgrades) instead of failing.
run apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"

if [ "$dry_run" -eq 0 ]; then
    for pair in "${tools[@]}"; do
        tool=${pair%%:*}
        if ! command -v "$tool" >/dev/null 2>&1; then
            say "$tool still missing after installing ${missing[*]}" >&2
            exit 1
        fi
    done
    say "installed: ${missing[*]}"
else
    say "dry run: would install ${missing[*]}"
fi
