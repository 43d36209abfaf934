# Helpers for scripts that run INSIDE the test VM (via test/vm/run.sh).
# Source it:  . "$VM_REPO/test/vm/guest-lib.sh"
# Functions fail (non-zero) with a message on stderr; callers use set -e or
# check.  Only bash is assumed.

vm_log() { echo "[vm $(vm_uptime)s] $*" >&2; }
vm_uptime() { cut -d' ' -f1 /proc/uptime; }
vm_die() { echo "FAIL: $*" >&2; exit 1; }

# vm_wait SECS CMD...   retry CMD every 0.1 s until it succeeds or SECS pass.
vm_wait() {
	local secs=$1 i=0; shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[[ $i -ge $((secs * 10)) ]] && return 1
		sleep 0.1
	done
}

# Load modules.  NB: `modprobe a b c` loads only a and passes b, c as module
# parameters; -a is needed for several modules.
vm_modprobe() { modprobe -a "$@"; }

vm_configfs() {
	grep -q ' /sys/kernel/config configfs ' /proc/mounts ||
		mount -t configfs none /sys/kernel/config
}

# Host NQN/ID for nvme-cli/libnvme (/etc is on the tmpfs overlay: writable).
vm_hostnqn() {
	mkdir -p /etc/nvme
	[[ -s /etc/nvme/hostnqn ]] || nvme gen-hostnqn >/etc/nvme/hostnqn
	[[ -s /etc/nvme/hostid ]] || cat /proc/sys/kernel/random/uuid >/etc/nvme/hostid
	cat /etc/nvme/hostnqn
}

# vm_netns NS HOSTIF HOSTCIDR TGTIF TGTCIDR
# veth pair: HOSTIF stays in the root netns, TGTIF moves into netns NS.
vm_netns() {
	local ns=$1 hif=$2 hip=$3 tif=$4 tip=$5
	ip netns add "$ns" &&
		ip link add "$hif" type veth peer name "$tif" &&
		ip link set "$tif" netns "$ns" &&
		ip addr add "$hip" dev "$hif" &&
		ip link set "$hif" up &&
		ip link set lo up &&
		ip -n "$ns" addr add "$tip" dev "$tif" &&
		ip -n "$ns" link set "$tif" up &&
		ip -n "$ns" link set lo up
}

NVMET=/sys/kernel/config/nvmet

# vm_nvmet_subsys NQN DEVICE [NSID]  subsystem, allow any host, one namespace.
vm_nvmet_subsys() {
	local nqn=$1 dev=$2 nsid=${3:-1} s=$NVMET/subsystems/$1
	mkdir -p "$s" &&
		echo 1 >"$s/attr_allow_any_host" &&
		mkdir -p "$s/namespaces/$nsid" &&
		echo -n "$dev" >"$s/namespaces/$nsid/device_path" &&
		echo 1 >"$s/namespaces/$nsid/enable"
}

# vm_nvmet_port ID TRADDR [TRSVCID] [ADRFAM]   tcp port (not listening yet).
vm_nvmet_port() {
	local p=$NVMET/ports/$1
	mkdir -p "$p" &&
		echo tcp >"$p/addr_trtype" &&
		echo "${4:-ipv4}" >"$p/addr_adrfam" &&
		echo "$2" >"$p/addr_traddr" &&
		echo "${3:-4420}" >"$p/addr_trsvcid"
}

# vm_nvmet_link PORTID NQN [NETNS]
# Link the subsystem into the port; this creates the listener, in the netns
# of the process doing the symlink.  `ip netns exec` remounts /sys (fresh
# sysfs, no configfs), so configfs is mounted again inside.
vm_nvmet_link() {
	local port=$1 nqn=$2 ns=${3:-}
	local cmd="mount -t configfs none /sys/kernel/config 2>/dev/null; ln -s $NVMET/subsystems/$nqn $NVMET/ports/$port/subsystems/$nqn"
	if [[ -n $ns ]]; then
		ip netns exec "$ns" sh -c "$cmd"
	else
		sh -c "$cmd"
	fi
}

vm_nvmet_unlink() { rm -f "$NVMET/ports/$1/subsystems/$2"; }

# nvme-cli's 70-nvmf-autoconnect.rules run `systemctl start nvmf-connect@...`
# on discovery AENs; there is no systemd in the VM and those connects would
# race the daemon under test, so the rule is masked unless
# VM_KEEP_AUTOCONNECT=1.
vm_start_udevd() {
	if [[ ${VM_KEEP_AUTOCONNECT:-0} != 1 ]]; then
		mkdir -p /etc/udev/rules.d
		ln -sf /dev/null /etc/udev/rules.d/70-nvmf-autoconnect.rules
	fi
	/lib/systemd/systemd-udevd --daemon &&
		vm_wait 10 udevadm control --ping
}

vm_start_dbus() {
	mkdir -p /run/dbus /var/lib/dbus
	[[ -s /etc/machine-id ]] || dbus-uuidgen >/etc/machine-id
	[[ -s /var/lib/dbus/machine-id ]] || cp /etc/machine-id /var/lib/dbus/machine-id 2>/dev/null || true
	dbus-daemon --system --fork &&
		vm_wait 10 test -S /run/dbus/system_bus_socket
}

vm_start_avahi() {
	avahi-daemon --no-drop-root --no-chroot -D &&
		vm_wait 10 avahi-daemon --check
}
