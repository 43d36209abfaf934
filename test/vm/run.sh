#!/bin/bash
# Run a command (as root) inside a throw-away qemu VM that boots this
# machine's Debian kernel with the machine's own "/" as a read-only root
# (tmpfs overlay on top).  No KVM needed (TCG).  See test/vm/README.md.
#
#   test/vm/run.sh [options] -- COMMAND [ARGS...]
#   test/vm/run.sh [options] --shell
#
# Options:
#   --timeout SECS   kill the VM after SECS (default 600; 0 = none; --shell: none)
#   --share DIR      host dir mounted writable at /results ($VM_OUT) in the VM
#                    (created; default: a temp dir deleted afterwards)
#   --cwd DIR        working dir in the VM (default: repository root)
#   --env NAME=VAL   export in the VM (repeatable)
#   --log FILE       also write the console log to FILE
#   --quiet          don't stream the console; print only the command's output
#                    (the console text between the start/end markers) at the end
#   --mem MB         guest RAM (default 2048)     --smp N   vCPUs (default 2)
#   --kernel KVER    kernel release (default: newest /boot/vmlinuz-*)
#   --append ARGS    extra kernel command line
#   --debug          verbose kernel + init (set -x)
#   --acpitable FILE an extra ACPI table for the guest (e.g. an NBFT); repeatable
#   --slow-boot      plain recipe: compressed bzImage + SeaBIOS (default is the
#                    faster uncompressed vmlinux via PVH + qboot when possible)
#   --shell          interactive shell in the VM (Ctrl-A x kills qemu)
#
# Exit status: the command's exit status; 124 on timeout; 125 if the VM ended
# without a result (kernel panic, init failure, qemu error); 2 on usage error.
#
# Environment: VM_CACHE (default /tmp/nvme-stas-go-vm) for the cached
# initramfs and vmlinux; QEMU (default qemu-system-x86_64); VM_FASTBOOT=0
# is --slow-boot.
#
# Inside the VM: cwd = repository (read-only, same path as on the host),
# VM_OUT=/results (writable, the --share dir), VM_REPO, VM_CTL=/run/vmctl.
# Everything else is a tmpfs overlay, discarded at power-off.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))

timeout=
share=
cwd=$repo
envs=()
log=
quiet=0
mem=2048
smp=2
kver=
append=
debug=0
shell=0
acpitables=()
fast=${VM_FASTBOOT:-1}

usage() { sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
need() { [[ $# -ge 2 ]] || { echo "run.sh: $1 needs an argument" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) need "$@"; timeout=$2; shift 2 ;;
	--share) need "$@"; share=$2; shift 2 ;;
	--cwd) need "$@"; cwd=$2; shift 2 ;;
	--env) need "$@"; envs+=("$2"); shift 2 ;;
	--log) need "$@"; log=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--mem) need "$@"; mem=$2; shift 2 ;;
	--smp) need "$@"; smp=$2; shift 2 ;;
	--kernel) need "$@"; kver=$2; shift 2 ;;
	--append) need "$@"; append=$2; shift 2 ;;
	--debug) debug=1; shift ;;
	--shell) shell=1; shift ;;
	--slow-boot) fast=0; shift ;;
	--acpitable) need "$@"; acpitables+=("$2"); shift 2 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	*) echo "run.sh: unknown option $1 (command goes after --)" >&2; usage ;;
	esac
done
if [[ $shell == 0 && $# -eq 0 ]]; then
	echo "run.sh: no command given (use -- COMMAND... or --shell)" >&2
	exit 2
fi
if [[ -z $timeout ]]; then
	if [[ $shell == 1 ]]; then timeout=0; else timeout=600; fi
fi
[[ $timeout =~ ^[0-9]+$ ]] || { echo "run.sh: bad --timeout $timeout" >&2; exit 2; }
for e in "${envs[@]}"; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "run.sh: bad --env $e" >&2; exit 2; }
done

msg() { echo "run.sh: $*" >&2; }

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || { msg "$QEMU not found (apt-get install qemu-system-x86)"; exit 125; }
[[ $(id -u) == 0 ]] || msg "warning: not root; sharing / read-only may miss unreadable files and guest root ops on shares may fail"
if [[ -z $kver ]]; then
	kver=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n1)
fi
kernel=/boot/vmlinuz-$kver
[[ -n $kver && -r $kernel ]] || { msg "no readable kernel /boot/vmlinuz-* (apt-get install linux-image-amd64)"; exit 125; }

cache=${VM_CACHE:-/tmp/nvme-stas-go-vm}
initrd=$cache/initramfs-$kver.cpio.gz
"$here/mkinitramfs.sh" "$initrd" "$kver" || { msg "initramfs build failed"; exit 125; }

# Fast boot: under TCG, SeaBIOS + decompressing the (xz) bzImage cost several
# seconds.  A kernel with CONFIG_PVH=y can be booted as the uncompressed ELF
# vmlinux (qemu uses the PVH entry point), and qboot is a much quicker BIOS.
# The vmlinux is extracted once and cached.
extract_vmlinux() { # extract_vmlinux BZIMAGE OUT
	local img=$1 out=$2 magic dec off
	for m in xz zstd gzip; do
		case $m in
		xz) magic=$'\xfd7zXZ'; dec="xz -dc --single-stream" ;;
		zstd) magic=$'\x28\xb5\x2f\xfd'; dec="zstd -qdc" ;;
		gzip) magic=$'\x1f\x8b\x08'; dec="gzip -dc" ;;
		esac
		command -v "${dec%% *}" >/dev/null || continue
		for off in $(LC_ALL=C grep -abo "$magic" "$img" 2>/dev/null | head -n 5 | cut -d: -f1); do
			tail -c +$((off + 1)) "$img" | $dec >"$out.tmp" 2>/dev/null
			if [[ $(head -c 4 "$out.tmp" 2>/dev/null) == $'\x7fELF' ]]; then
				mv -f "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}
boot_kernel=$kernel
bios=()
if [[ $fast == 1 ]]; then
	if grep -qx 'CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null; then
		vmlinux=$cache/vmlinux-$kver
		vkey=$(stat -c '%s %Y' "$kernel")
		(
			flock 8
			if [[ ! -s $vmlinux || $(cat "$vmlinux.key" 2>/dev/null) != "$vkey" ]]; then
				extract_vmlinux "$kernel" "$vmlinux" && echo "$vkey" >"$vmlinux.key"
			fi
		) 8>"$vmlinux.lock"
		if [[ -s $vmlinux && $(cat "$vmlinux.key" 2>/dev/null) == "$vkey" ]]; then
			boot_kernel=$vmlinux
		else
			msg "note: could not extract vmlinux from $kernel; booting the bzImage"
		fi
	fi
	for b in /usr/share/qemu/qboot.rom /usr/share/qboot/bios.bin; do
		[[ -r $b ]] && { bios=(-bios "$b"); break; }
	done
fi

ctl=$(mktemp -d "${TMPDIR:-/tmp}/vm-ctl.XXXXXX")
tmpshare=
if [[ -z $share ]]; then
	share=$(mktemp -d "${TMPDIR:-/tmp}/vm-out.XXXXXX")
	tmpshare=$share
else
	mkdir -p "$share" || exit 2
	share=$(cd "$share" && pwd)
fi

qpid=
filt=
cleanup() {
	[[ -n $qpid ]] && kill -KILL "$qpid" 2>/dev/null
	[[ -n $filt ]] && { wait "$filt" 2>/dev/null; }
	[[ $shell == 1 && -t 0 ]] && stty sane 2>/dev/null
	rm -rf "$ctl"
	[[ -n $tmpshare ]] && rm -rf "$tmpshare"
}
trap cleanup EXIT
trap 'msg "interrupted"; exit 130' INT TERM HUP

# The repository is also shared on its own and mounted at the same path in the guest:
# the guest's /tmp is a fresh tmpfs, so a clone under /tmp (as CI may make) would
# otherwise be invisible there.
printf '%s' "$repo" >"$ctl/repo-path"

# The script the guest runs (with bash, so printf %q quoting is safe).
{
	echo '#!/bin/bash'
	printf 'export VM_OUT=/results VM_CTL=/run/vmctl VM_REPO=%q VM=1\n' "$repo"
	for e in "${envs[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
	printf 'cd -- %q || { echo "vm: cannot cd to %q" >&2; exit 125; }\n' "$cwd" "$cwd"
	if [[ $shell == 1 ]]; then
		if [[ $# -gt 0 ]]; then printf '%q ' "$@"; echo; fi
		echo 'exec /bin/bash -i'
	else
		printf 'exec'; printf ' %q' "$@"; echo
	fi
} >"$ctl/cmd.sh"
chmod +x "$ctl/cmd.sh"

cmdline="console=ttyS0,115200 panic=-1 no_timer_check rdinit=/init vmmode=run"
[[ $shell == 1 ]] && cmdline="console=ttyS0,115200 panic=-1 no_timer_check rdinit=/init vmmode=shell"
if [[ $debug == 1 ]]; then cmdline+=" loglevel=7 vmdebug=1"; else cmdline+=" quiet loglevel=4"; fi
if [[ $shell == 1 && -t 0 ]]; then
	read -r rows cols < <(stty size 2>/dev/null)
	[[ ${rows:-0} -gt 0 && ${cols:-0} -gt 0 ]] && cmdline+=" vmrows=$rows vmcols=$cols"
fi
[[ -n $append ]] && cmdline+=" $append"

qargs=(
	-accel tcg -cpu max -m "$mem" -smp "$smp"
	-nodefaults -no-user-config -display none -no-reboot
	"${bios[@]}" -kernel "$boot_kernel" -initrd "$initrd" -append "$cmdline"
	-virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$ctl,mount_tag=vmctl,security_model=none,multidevs=remap"
	-virtfs "local,path=$share,mount_tag=results,security_model=none,multidevs=remap"
	-virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,multidevs=remap"
)

for a in "${acpitables[@]}"; do qargs+=(-acpitable "file=$a"); done

[[ $debug == 1 ]] && msg "$QEMU ${qargs[*]}"
t0=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1-$2}'; }

if [[ $shell == 1 ]]; then
	# Serial console + qemu monitor multiplexed on the terminal (like -nographic).
	qargs+=(-chardev stdio,id=con,mux=on,signal=off -serial chardev:con -mon chardev=con,mode=readline)
	if [[ $timeout -gt 0 ]]; then
		timeout --foreground -k 5 "$timeout" "$QEMU" "${qargs[@]}"
	else
		"$QEMU" "${qargs[@]}"
	fi
	qrc=$?
	stty sane 2>/dev/null
	rc=$(cat "$ctl/exit-code" 2>/dev/null)
	msg "VM shell ended after $(elapsed)s (qemu rc=$qrc, shell rc=${rc:-none})"
	exit "${rc:-125}"
fi

qargs+=(-chardev stdio,id=con -serial chardev:con)
conlog=$ctl/console.log
mkfifo "$ctl/console.fifo"
# Strip the CRs of the serial console; sed -u keeps it streaming.
if [[ $quiet == 1 ]]; then
	sed -u 's/\r//g' <"$ctl/console.fifo" >"$conlog" &
else
	sed -u 's/\r//g' <"$ctl/console.fifo" | tee "$conlog" &
fi
filt=$!
"$QEMU" "${qargs[@]}" </dev/null >"$ctl/console.fifo" 2>&1 &
qpid=$!

timed_out=0
booted_at=
deadline=
[[ $timeout -gt 0 ]] && deadline=$(($(date +%s) + timeout))
while kill -0 "$qpid" 2>/dev/null; do
	if [[ -n $deadline && $(date +%s) -ge $deadline ]]; then
		timed_out=1
		kill -TERM "$qpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$qpid" 2>/dev/null
		break
	fi
	[[ -z $booted_at ]] && grep -q '^@@VM-BOOTED' "$conlog" 2>/dev/null && booted_at=$(elapsed)
	sleep 0.2
done
wait "$qpid" 2>/dev/null
qrc=$?
qpid=
wait "$filt" 2>/dev/null
filt=
total=$(elapsed)
[[ -n $log ]] && cp "$conlog" "$log"

if [[ $quiet == 1 ]]; then
	sed -n '/^@@VM-BOOTED/,/^@@VM-CMD-END/{/^@@VM-/d;p}' "$conlog"
fi

boot=$(cat "$ctl/boot-uptime" 2>/dev/null)
rc=$(cat "$ctl/exit-code" 2>/dev/null)
if [[ $timed_out == 1 ]]; then
	msg "TIMEOUT: VM killed after ${timeout}s (command did not finish)"
	exit 124
fi
if [[ -z $rc ]]; then
	why="VM ended without a result (qemu rc=$qrc)"
	if grep -q 'Kernel panic' "$conlog"; then
		why="KERNEL PANIC: $(grep -m1 'Kernel panic' "$conlog")"
	elif grep -q '^@@VM-ERROR' "$conlog"; then
		why="VM init failed: $(grep -m1 '^@@VM-ERROR' "$conlog")"
	fi
	msg "$why"
	[[ $quiet == 1 ]] && tail -n 40 "$conlog" >&2
	exit 125
fi
msg "exit=$rc  boot-to-command=${booted_at:-?}s (guest uptime ${boot:-?}s)  total=${total}s"
exit "$rc"
