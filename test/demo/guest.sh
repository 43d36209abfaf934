#!/bin/bash
# The `make demo` scenario. It runs as root INSIDE the test VM (test/vm/run.sh), which
# boots this machine's kernel with the machine's own root filesystem, so build/bin works
# here; test/demo/demo.sh starts it. Everything it creates lives in the VM's tmpfs
# overlay and is gone at power-off.
#
# Target side (network namespace "tgt", the kernel's nvmet):
#   veth0 192.0.2.1    <-> veth1 192.0.2.2     port 1, 192.0.2.2:8009: discovery controller
#                                              announced by mDNS, refers to port 2
#   veth2 198.51.100.1 <-> veth3 198.51.100.2  port 2, 198.51.100.2:8009
#   subsystems demo-1, demo-2 on port 1, demo-3 on port 2; demo-4 is linked to port 1 last.
# Host side: a system bus with our policy files, avahi-daemon, stafd (mDNS is its only
# source: stafd.conf lists no controller) and stacd.
#
# It prints the listings and exits 0 once everything has converged; otherwise it says
# what is missing, prints the daemons' logs and exits 1. DEMO_CONVERGE (seconds, default
# 60) bounds each wait.
set -Eeuo pipefail

repo=${VM_REPO:-$(pwd)}
. "$repo/test/vm/guest-lib.sh"
bin=$repo/build/bin
work=/tmp/demo
bound=${DEMO_CONVERGE:-60}
t0=$EPOCHREALTIME

NQN=nqn.2014-08.org.example:demo
HOST_A=veth0 HOST_A_IP=192.0.2.1 PEER_A=veth1 PEER_A_IP=192.0.2.2
HOST_B=veth2 HOST_B_IP=198.51.100.1 PEER_B=veth3 PEER_B_IP=198.51.100.2

[[ ${VM:-} == 1 ]] || vm_die "test/demo/guest.sh runs inside the test VM; use make demo"
for b in stafd stacd stafctl stacctl; do
	[[ -x $bin/$b ]] || vm_die "$bin/$b is missing; run make build"
done
mkdir -p "$work"
# Kernel messages stay off the console (the failure report shows the NVMe ones).
echo 1 >/proc/sys/kernel/printk

# secs SINCE: seconds since the $EPOCHREALTIME value SINCE, one decimal.
secs() {
	local now=${EPOCHREALTIME/./} then=${1/./}
	local ms=$(((now - then) / 1000))
	printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# keep_logs: the logs to $VM_OUT (build/demo on the host).
keep_logs() { [[ -n ${VM_OUT:-} ]] && cp "$work"/*.log "$VM_OUT"/ 2>/dev/null || true; }

# Failure: what is missing, then every log the demo kept.
fail() {
	trap - ERR
	keep_logs
	echo
	echo "DEMO FAILED after $(secs "$t0") s: $*"
	echo "(the logs below are also in build/demo/)"
	for f in "$work"/*.log; do
		[[ -s $f ]] || continue
		echo
		echo "----- $(basename "$f") -----"
		tail -n 200 "$f"
	done
	echo
	echo "----- kernel messages (NVMe) -----"
	dmesg | grep -i nvme | tail -n 50
	echo
	echo "----- kernel NVMe controllers -----"
	for c in /sys/class/nvme/nvme*; do
		[[ -e $c ]] || continue
		echo "${c##*/}: $(<"$c/subsysnqn") $(<"$c/state") $(<"$c/address")"
	done
	exit 1
}
trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

# until_ok WHAT CMD...: retry CMD every 0.2 s for up to $bound seconds.
until_ok() {
	local what=$1 deadline=$((${EPOCHREALTIME%.*} + bound))
	shift
	until "$@"; do
		((${EPOCHREALTIME%.*} < deadline)) || fail "$what: not within $bound s"
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------
# The target.

vm_modprobe nvme-tcp nvmet nvmet-tcp
modprobe null_blk nr_devices=4
vm_configfs
vm_hostnqn >/dev/null

vm_netns tgt $HOST_A $HOST_A_IP/24 $PEER_A $PEER_A_IP/24
ip link add $HOST_B type veth peer name $PEER_B
ip link set $PEER_B netns tgt
ip addr add $HOST_B_IP/24 dev $HOST_B
ip link set $HOST_B up
ip -n tgt addr add $PEER_B_IP/24 dev $PEER_B
ip -n tgt link set $PEER_B up

for i in 1 2 3 4; do vm_nvmet_subsys "$NQN-$i" /dev/nullb$((i - 1)); done
vm_nvmet_port 1 $PEER_A_IP 8009
vm_nvmet_port 2 $PEER_B_IP 8009

# link PORT N: link subsystem demo-N into the port from inside tgt, where nvmet-tcp then
# listens (same mount namespace: configfs stays visible).
link() { nsenter --net=/run/netns/tgt ln -s "$NVMET/subsystems/$NQN-$2" "$NVMET/ports/$1/subsystems/"; }
link 1 1
link 1 2
link 2 3

# Port 1's discovery log page refers to port 2.
ref=$NVMET/ports/1/referrals/to-port-2
mkdir "$ref"
echo tcp >"$ref/addr_trtype"
echo ipv4 >"$ref/addr_adrfam"
echo $PEER_B_IP >"$ref/addr_traddr"
echo 8009 >"$ref/addr_trsvcid"
echo 2 >"$ref/addr_portid"
echo 1 >"$ref/enable"

# ---------------------------------------------------------------------------------------
# mDNS: an avahi-daemon of the target's own in tgt announces port 1 (IPv4 only, on veth1)
# from a static service file. It needs no bus. `ip netns exec` gives it a mount namespace
# of its own, where a fresh /run and its own services directory keep it apart from the
# host's avahi-daemon.
mkdir -p "$work/responder/services"
cat >"$work/responder/avahi-daemon.conf" <<EOF
[server]
host-name=tgt
use-ipv4=yes
use-ipv6=no
allow-interfaces=$PEER_A
enable-dbus=no
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-aaaa-on-ipv4=no
EOF
cat >"$work/responder/services/nvme-demo.service" <<'EOF'
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>nvme-demo-dc</name>
  <service>
    <type>_nvme-disc._tcp</type>
    <port>8009</port>
    <txt-record>p=tcp</txt-record>
    <txt-record>nqn=nqn.2014-08.org.nvmexpress.discovery</txt-record>
  </service>
</service-group>
EOF
ip netns exec tgt sh -c '
	mount -t tmpfs tmpfs /run && mkdir /run/avahi-daemon &&
	mount --bind "$1/services" /etc/avahi/services &&
	exec avahi-daemon --no-drop-root --no-chroot --file="$1/avahi-daemon.conf"' \
	responder "$work/responder" >"$work/avahi-tgt.log" 2>&1 &

# ---------------------------------------------------------------------------------------
# The host: a system bus with the daemons' policy files (as a package installs them),
# avahi-daemon on it, then stafd and stacd with their configuration in /etc/stas.
mkdir -p /etc/dbus-1/system.d /etc/stas
cp "$repo"/dbus/org.nvmexpress.sta[fc].conf /etc/dbus-1/system.d/
vm_start_dbus
vm_start_avahi

cat >/etc/stas/stafd.conf <<'EOF'
# No controller is configured: mDNS finds the discovery controller, its log page
# refers to the second one.
[Service Discovery]
zeroconf = enabled
EOF
cat >/etc/stas/stacd.conf <<'EOF'
# Connect every subsystem the discovery log pages list.
[Global]
EOF

start_daemon() { # start_daemon NAME
	RUNTIME_DIRECTORY=/run/$1 "$bin/$1" -f "/etc/stas/$1.conf" >"$work/$1.log" 2>&1 &
	echo $! >"$work/$1.pid"
}
start_daemon stafd
start_daemon stacd
cat <<EOF
target and host set up in $(secs "$t0") s
target (network namespace tgt, nvmet):
  port 1  $PEER_A_IP:8009 on $PEER_A     $NQN-1, -2; announced by mDNS; refers to port 2
  port 2  $PEER_B_IP:8009 on $PEER_B  $NQN-3
host: veth0 $HOST_A_IP, veth2 $HOST_B_IP; stafd (no configured controller) and stacd started
EOF
started=$EPOCHREALTIME

# ---------------------------------------------------------------------------------------
# Convergence: both discovery controllers' log pages on D-Bus, then an I/O controller,
# live, for each of the three subsystems.
alive() { kill -0 "$(<"$work/$1.pid")" 2>/dev/null || fail "$1 exited"; }

log_pages_have() { # log_pages_have N...: stafd publishes demo-N for each N
	alive stafd
	local out i
	out=$("$bin/stafctl" adlp 2>/dev/null) || return 1
	for i; do [[ $out == *"'$NQN-$i'"* ]] || return 1; done
}

# io_live N: the kernel has a live I/O controller to demo-N.
io_live() {
	alive stacd
	local c
	for c in /sys/class/nvme/nvme*; do
		[[ -e $c/subsysnqn && $(<"$c/subsysnqn") == "$NQN-$1" && $(<"$c/state") == live ]] && return 0
	done
	return 1
}
all_io_live() { local i; for i; do io_live "$i" || return 1; done; }

until_ok "stafd: the log pages of both discovery controllers (mDNS and referral)" log_pages_have 1 2 3
until_ok "stacd: a live I/O controller for each of the three subsystems" all_io_live 1 2 3
echo "stafd and stacd converged $(secs "$started") s after they started"

show() { echo; echo "\$ $*"; "$@"; }
export PATH=$bin:$PATH
show stafctl ls
show stafctl adlp
show stacctl ls -d
show nvme list-subsys

# ---------------------------------------------------------------------------------------
# One more subsystem on port 1: nvmet sends a discovery change notice, stafd reads the
# log page again, stacd connects.
echo
echo "linking $NQN-4 into port 1 ($PEER_A_IP:8009) ..."
linked=$EPOCHREALTIME
link 1 4
until_ok "stacd: an I/O controller for $NQN-4" io_live 4
took=$(secs "$linked")
for c in /sys/class/nvme/nvme*; do
	[[ $(<"$c/subsysnqn") == "$NQN-4" ]] && echo "${c##*/}: $NQN-4 $(<"$c/address") $(<"$c/state"), $took s after the link"
done
show nvme list-subsys

keep_logs
echo
echo "demo: done in $(secs "$t0") s of VM time (the daemons' logs are in build/demo/)"
