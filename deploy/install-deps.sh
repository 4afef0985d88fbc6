#!/usr/bin/env bash
# Usage: deploy/install-deps.sh [--ha]
# Installs the Debian packages needed to build, test and run Branchline;
# --ha adds those of the high-availability layout (deploy/ha/, tests/ha/),
# which tests/run.sh needs and the quickstart does not (etcd-server and
# haproxy also install services of their own, unwanted on a developer's
# machine). Does nothing (not even `apt-get update`) when they are all
# installed.

# shellcheck source-path=SCRIPTDIR
set -euo pipefail
PROG=install-deps
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

PACKAGES=(
    build-essential cmake pkg-config
    libevent-dev libpq-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler
    libinih-dev libjansson-dev libcmocka-dev libutf8proc-dev
    libsystemd-dev  # branchd: sd_notify (Type=notify, watchdog)
    libyaml-dev libedit-dev  # branchctl: YAML files and -o yaml; branchctl shell
    yq python3-yaml          # tests: parse branchctl's yaml output (tests/integration/org_files.sh)
    postgresql postgresql-contrib
    openssl python3 jq
    lintian  # tests: the Debian package (tests/integration/package.sh)
    zsh  # tests: branchctl completion zsh loads (tests/integration/cli_config.sh)
    curl prometheus  # tests: the HTTP listener, promtool and a real Prometheus (tests/integration/ops_*.sh)
    clang libfuzzer-14-dev sslscan testssl.sh valgrind  # fuzzers, TLS audit, memcheck (tests/fuzz, tests/integration)
    chromium fonts-wqy-microhei  # tests: branchctl report rendered in a real browser, CJK glyphs (planning_report.sh)
    util-linux  # runuser, setsid: essential, listed because the scripts rely on them
)
HA_PACKAGES=(
    patroni etcd-server etcd-client haproxy curl  # deploy/ha/, tests/ha/
)
case ${1:-} in
--ha) PACKAGES+=("${HA_PACKAGES[@]}") ;;
"") ;;
*) die "usage: $0 [--ha]" ;;
esac

command -v dpkg-query >/dev/null ||
    die "dpkg-query not found: this script installs Debian packages; install by hand: ${PACKAGES[*]}"

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

note "installing ${missing[*]}"
# Wait for a dpkg lock held by another apt run instead of failing at once.
APT=(apt-get -q -o DPkg::Lock::Timeout=300)
as_root "${APT[@]}" update
as_root env DEBIAN_FRONTEND=noninteractive \
    "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
