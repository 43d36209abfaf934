#!/bin/bash
# Build the tiny initramfs used by test/vm/run.sh.
#
#   test/vm/mkinitramfs.sh [-f] OUTPUT [KVER]
#
# OUTPUT  path of the gzip'ed newc cpio to write (its directory is created).
# KVER    kernel release whose modules go in; default: the newest
#         /boot/vmlinuz-* (same rule as run.sh).
# -f      rebuild even if the cached image is up to date.
#
# Contents: busybox (static) + /init (test/vm/init) + the virtio-pci, 9p and
# overlay modules of KVER with all their dependencies, decompressed (busybox
# insmod cannot load .ko.xz/.ko.zst), plus /modules.load listing them in
# dependency order (from `modprobe --show-depends -S KVER`).
#
# Caching: OUTPUT.key holds a hash of everything that goes into the image
# (kernel release and vmlinuz/module file identity, this script, init,
# busybox).  If it matches, nothing is done.  A lock (OUTPUT.lock) makes
# concurrent callers safe.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0
if [[ ${1:-} == -f ]]; then force=1; shift; fi
out=${1:?usage: mkinitramfs.sh [-f] OUTPUT [KVER]}
kver=${2:-}

newest_kernel() {
	local k
	k=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n1)
	[[ -n $k ]] || { echo "mkinitramfs: no /boot/vmlinuz-* found" >&2; return 1; }
	echo "$k"
}
[[ -n $kver ]] || kver=$(newest_kernel)
moddir=/lib/modules/$kver
[[ -d $moddir ]] || { echo "mkinitramfs: $moddir missing" >&2; exit 1; }

busybox=$(command -v busybox || true)
for b in /bin/busybox /usr/bin/busybox "$busybox"; do
	[[ -n $b && -x $b ]] && { busybox=$b; break; }
done
[[ -x $busybox ]] || { echo "mkinitramfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	# Not fatal if `file` is absent, but a dynamic busybox will not run in the initramfs.
	command -v file >/dev/null && { echo "mkinitramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }
fi

# Modules needed before the real root is mounted.  Dependencies are resolved
# by modprobe itself; builtin ones print "builtin ..." and are skipped.
want=(virtio_pci 9pnet_virtio 9p overlay)
mods=()
declare -A seen=()
for m in "${want[@]}"; do
	while read -r verb path _; do
		[[ $verb == insmod ]] || continue
		[[ -n ${seen[$path]:-} ]] && continue
		seen[$path]=1
		mods+=("$path")
	done < <(modprobe --show-depends -S "$kver" "$m")
done

# Cache key.
key=$(
	{
		echo "kver=$kver"
		stat -c '%n %s %Y' "/boot/vmlinuz-$kver" "${mods[@]}" "$busybox" 2>/dev/null || true
		sha256sum "$here/mkinitramfs.sh" "$here/init"
	} | sha256sum | cut -d' ' -f1
)

mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [[ $force == 0 && -s $out && -f $out.key && $(cat "$out.key") == "$key" ]]; then
	exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/vm-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,mnt,newroot,lib/modules}
cp "$busybox" "$stage/bin/busybox"
for a in $("$busybox" --list); do
	[[ $a == busybox ]] || ln -sf busybox "$stage/bin/$a"
done
install -m 0755 "$here/init" "$stage/init"

: >"$stage/modules.load"
for p in "${mods[@]}"; do
	base=$(basename "$p")
	case $p in
	*.ko.xz) name=${base%.xz}; xz -dc "$p" >"$stage/lib/modules/$name" ;;
	*.ko.zst) name=${base%.zst}; zstd -qdc "$p" >"$stage/lib/modules/$name" ;;
	*.ko.gz) name=${base%.gz}; gzip -dc "$p" >"$stage/lib/modules/$name" ;;
	*.ko) name=$base; cp "$p" "$stage/lib/modules/$name" ;;
	*) echo "mkinitramfs: unexpected module file $p" >&2; exit 1 ;;
	esac
	echo "$name" >>"$stage/modules.load"
done
echo "$kver" >"$stage/kver"

tmp=$out.tmp.$$
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp"
mv -f "$tmp" "$out"
echo "$key" >"$out.key"
echo "mkinitramfs: built $out for $kver ($(wc -l <"$stage/modules.load") modules: $(tr '\n' ' ' <"$stage/modules.load"))" >&2
