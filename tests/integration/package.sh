#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` in the build directory makes
# branchline_<version>_amd64.deb; installed into a scratch root (dpkg -x,
# never onto this machine) it holds what the issue lists, its maintainer
# scripts create the branchd user, its dependencies come from the shared
# libraries, lintian reports no error, the unit verifies, and the installed
# binaries run.
#   package.sh BUILD_DIR
set -euo pipefail
BUILD=$1
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$BUILD"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' CMakeCache.txt)
deb=$BUILD/branchline_${version}_amd64.deb
rm -f "$deb"
cpack -G DEB >"$work/cpack.log" 2>&1 || fail "cpack: $(tail -20 "$work/cpack.log")"
[[ -f $deb ]] || fail "no $deb: $(ls "$BUILD"/*.deb 2>/dev/null)"
echo "--- built $(basename "$deb")"

root=$work/root
dpkg -x "$deb" "$root"
for f in usr/sbin/branchd usr/bin/branchctl \
    usr/share/man/man8/branchd.8.gz usr/share/man/man1/branchctl.1.gz \
    usr/share/bash-completion/completions/branchctl \
    usr/lib/systemd/system/branchd.service \
    etc/branchline/branchd.conf \
    usr/share/branchline/app-roles.sql usr/share/branchline/owner-handover.sql \
    usr/share/doc/branchline/copyright usr/share/doc/branchline/changelog.gz; do
    [[ -e $root/$f ]] || fail "the package lacks /$f"
done
[[ -n $(find "$root/usr/share/branchline/sql" -name '*.sql' | head -1) ]] || fail "no SQL under /usr/share/branchline"
if "$BUILD/client/branchctl" completion zsh >/dev/null 2>&1; then
    [[ -e $root/usr/share/zsh/vendor-completions/_branchctl ]] || fail "no zsh completion"
fi
echo "--- contents: binaries, man pages, completion, unit, configuration, SQL"

"$root/usr/sbin/branchd" --version | grep -q "^branchd $version" || fail "installed branchd --version"
"$root/usr/bin/branchctl" --version | grep -q "$version" || fail "installed branchctl --version"
echo "--- the installed binaries run"

dpkg-deb -e "$deb" "$work/control"
grep -q adduser "$work/control/postinst" || fail "postinst does not create the branchd user"
grep -qx /etc/branchline/branchd.conf "$work/control/conffiles" || fail "the configuration is not a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libevent libpq5 libssl3 libsystemd0 libprotobuf-c libinih libjansson libyaml libedit adduser; do
    [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
echo "--- control: maintainer scripts, conffiles, shlibs dependencies"

lintian --no-tag-display-limit "$deb" >"$work/lintian" 2>&1 || true
if grep -q '^E:' "$work/lintian"; then
    fail "lintian errors: $(grep '^E:' "$work/lintian")"
fi
echo "--- lintian: no errors ($(grep -c '^W:' "$work/lintian" || true) warnings)"

if command -v systemd-analyze >/dev/null; then
    # The scratch root has no systemd of its own: verify the unit as
    # installed, with its binary's path pointing into the root.
    sed "s#/usr/sbin/branchd#$root/usr/sbin/branchd#g" "$root/usr/lib/systemd/system/branchd.service" \
        >"$work/branchd.service"
    grep -q '^Type=notify$' "$work/branchd.service" || fail "the unit is not Type=notify"
    systemd-analyze verify "$work/branchd.service" >"$work/verify" 2>&1 ||
        fail "systemd-analyze verify: $(cat "$work/verify")"
    echo "--- systemd-analyze verify: ok"
fi
echo "package: all checks passed"
