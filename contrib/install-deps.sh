#!/bin/sh
# install-deps.sh MODE - install the Debian packages mailbag needs.
#
#   build  what `make` needs: compiler, make, pkg-config, -dev libraries
#   test   build + what `make check` needs: UW mailutil, procmail, perl's
#          prove, python3, /usr/bin/time, setpriv/runuser (util-linux),
#          and the peers the format tests compare with: Dovecot (doveadm),
#          mutt, mblaze, bzip2/xz/zstd and bsdtar (libarchive-tools);
#          for `make bench`: mb2md
#   bench     test + the other peers `make bench` times: GNU movemail
#             (mailutils), isync (mbsync), fetchmail, getmail6, and
#             gnuplot-nox for its plot
#   coverage  test + lcov (`make coverage`)
#   valgrind  test + valgrind (`make valgrind`)
#   fuzz      build + clang (libFuzzer, for `make fuzz` only; `make check`
#             replays the fuzz inputs with the normal compiler)
#
# Quiet and idempotent: when everything is installed it prints nothing.
# Otherwise it runs apt-get update + install, as root or through `sudo -n`;
# when neither is possible it names the missing packages and exits 1.
# On systems without dpkg it prints a note and exits 0.
set -eu

mode=${1:-test}
build_pkgs="gcc make pkg-config zlib1g-dev libssl-dev libarchive-dev libpcre2-dev libcrypt-dev"
fuzz_pkgs="$build_pkgs clang"
test_pkgs="$build_pkgs uw-mailutils procmail python3 perl time util-linux dovecot-core dovecot-imapd dovecot-pop3d mutt mblaze mb2md bzip2 xz-utils zstd libarchive-tools"
bench_pkgs="$test_pkgs mailutils isync fetchmail getmail6 gnuplot-nox"

case $mode in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
coverage) pkgs="$test_pkgs lcov" ;;
valgrind) pkgs="$test_pkgs valgrind" ;;
bench) pkgs=$bench_pkgs ;;
fuzz) pkgs=$fuzz_pkgs ;;
*)
	echo "usage: $0 build|test|coverage|valgrind|bench|fuzz" >&2
	exit 64
	;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: not a Debian system; make sure these (or equivalents) are installed:" >&2
	echo "  $pkgs" >&2
	exit 0
fi

missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $st in
	*" ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
missing=${missing# }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root="sudo -n"
else
	echo "install-deps: missing packages: $missing" >&2
	echo "install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing" >&2
	exit 1
fi

echo "install-deps: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Quiet unless it fails: apt's progress output would swamp make's.  Wait
# for a dpkg lock held by another apt (a fresh machine's unattended-upgrades).
apt="$as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600"
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! $apt update >"$log" 2>&1 ||
	! $apt install -y --no-install-recommends $missing >>"$log" 2>&1; then
	cat "$log" >&2
	echo "install-deps: apt-get failed; missing: $missing" >&2
	exit 1
fi
