#!/bin/bash
# Smoke test of the test VM: nvmet target in a netns, nvme-tcp host in the
# root netns, udev uevents, dbus + avahi.
#
# On the host:   test/vm/smoke.sh [run.sh options]   (boots the VM, runs itself inside)
# In the VM:     test/vm/smoke.sh
#
# Artefacts (in $VM_OUT, i.e. the --share dir): discover.json, udev-monitor.log,
# avahi-browse.txt, timings.txt.
set -euo pipefail

if [[ ${VM:-} != 1 ]]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	exec "$here/run.sh" --timeout 300 "$@" -- "$here/smoke.sh"
fi

. "$VM_REPO/test/vm/guest-lib.sh"

NQN=nqn.2024-01.io.nvme-stas-go:smoke
NS=tgt
HOSTIF=veth0 HOSTIP=192.0.2.1
TGTIF=veth1 TGTIP=192.0.2.2
OUT=${VM_OUT:-/tmp}
TIMINGS=$OUT/timings.txt

t_start=$(vm_uptime)
t_prev=$t_start
: >"$TIMINGS"
echo "boot-to-command $(cat /run/vmctl/boot-uptime 2>/dev/null || echo "$t_start")" >>"$TIMINGS"
step() { # step NAME: record the time since the previous step
	local now; now=$(vm_uptime)
	awk -v n="$1" -v a="$t_prev" -v b="$now" 'BEGIN{printf "%-28s %6.2fs\n", n, b-a}' | tee -a "$TIMINGS" >&2
	t_prev=$now
}
ok() { echo "ok: $*" >&2; }

# 1. modules
vm_modprobe nvmet nvmet-tcp nvme-tcp null_blk || vm_die "modprobe"
for m in nvmet nvmet_tcp nvme_tcp nvme_fabrics null_blk configfs; do
	[[ -d /sys/module/$m ]] || vm_die "module $m not loaded"
done
vm_wait 10 test -b /dev/nullb0 || vm_die "/dev/nullb0 missing"
ok "modules loaded, /dev/nullb0 present"
step modprobe

# 2. udevd + kernel uevent monitor (started before any nvme device exists)
vm_start_udevd || vm_die "systemd-udevd did not start"
udevadm monitor --kernel --property >"$OUT/udev-monitor.log" 2>&1 &
mon=$!
sleep 0.5
ok "systemd-udevd running (pid $(pidof systemd-udevd))"
step udevd

# 3. dbus + avahi
vm_start_dbus || vm_die "dbus-daemon did not start"
vm_start_avahi || vm_die "avahi-daemon did not start"
vm_wait 10 sh -c 'dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames | grep -q org.freedesktop.Avahi' ||
	vm_die "org.freedesktop.Avahi not on the system bus"
ok "dbus-daemon + avahi-daemon running, org.freedesktop.Avahi on the bus"
step dbus+avahi

# 4. network namespace with a veth pair
vm_netns "$NS" "$HOSTIF" "$HOSTIP/24" "$TGTIF" "$TGTIP/24" || vm_die "netns/veth setup"
ok "netns $NS: $HOSTIF $HOSTIP (root ns) <-> $TGTIF $TGTIP ($NS)"
step netns

# 5. nvmet target; listener created in netns tgt
vm_configfs || vm_die "mount configfs"
vm_nvmet_subsys "$NQN" /dev/nullb0 || vm_die "nvmet subsystem"
vm_nvmet_port 1 "$TGTIP" 4420 || vm_die "nvmet port"
vm_nvmet_link 1 "$NQN" "$NS" || vm_die "link subsystem into port (in netns $NS)"
vm_wait 5 sh -c "ip netns exec $NS ss -Hltn | grep -q '$TGTIP:4420'" || vm_die "no listener on $TGTIP:4420 in netns $NS"
if ss -Hltn | grep -q "$TGTIP:4420"; then vm_die "listener leaked into the root netns"; fi
ok "nvmet listening on $TGTIP:4420 inside netns $NS only"
step nvmet

# 6. host side
hostnqn=$(vm_hostnqn)
ok "hostnqn $hostnqn"

nvme discover -t tcp -a "$TGTIP" -s 4420 -o json >"$OUT/discover.json" || vm_die "nvme discover"
grep -q "\"subnqn\" *: *\"$NQN\"" "$OUT/discover.json" || { cat "$OUT/discover.json" >&2; vm_die "discovery log lacks $NQN"; }
ok "nvme discover found $NQN"
step discover

nvme connect -t tcp -a "$TGTIP" -s 4420 -n "$NQN" --host-iface="$HOSTIF" || vm_die "nvme connect"
ctrl=
for c in /sys/class/nvme/nvme*; do
	[[ $(cat "$c/subsysnqn" 2>/dev/null) == "$NQN" ]] && ctrl=$c
done
[[ -n $ctrl ]] || vm_die "no controller for $NQN in /sys/class/nvme"
addr=$(cat "$ctrl/address")
echo "$(basename "$ctrl") address: $addr" >&2
[[ $addr == *host_iface=$HOSTIF* ]] || vm_die "address lacks host_iface=$HOSTIF: $addr"
[[ $addr == *src_addr=$HOSTIP* ]] || vm_die "address lacks src_addr=$HOSTIP: $addr"
ok "connected: $(basename "$ctrl") state=$(cat "$ctrl/state") with host_iface=$HOSTIF src_addr=$HOSTIP"
vm_wait 10 sh -c 'ls /dev/nvme*n1' || vm_die "no namespace block device"
blk=$(ls /dev/nvme*n1 | head -n1)
dd if="$blk" of=/dev/null bs=4k count=16 iflag=direct status=none || vm_die "read from $blk"
ok "read 64 KiB from $blk"
step connect+io

nvme disconnect -n "$NQN" || vm_die "nvme disconnect"
vm_wait 10 sh -c "! grep -qx '$NQN' /sys/class/nvme/nvme*/subsysnqn" || vm_die "controller still present after disconnect"
ok "disconnected"
step disconnect

# 7. uevents seen by udevadm monitor
udevadm settle -t 10 || true
sleep 0.5
kill "$mon" 2>/dev/null || true
wait "$mon" 2>/dev/null || true
grep -q '^SUBSYSTEM=nvme$' "$OUT/udev-monitor.log" || vm_die "udevadm monitor saw no nvme uevents"
adds=$(awk '/^KERNEL\[/{a=$2} /^SUBSYSTEM=nvme$/{print a}' "$OUT/udev-monitor.log" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
grep -q 'NVME_TRADDR=' "$OUT/udev-monitor.log" || vm_die "nvme uevents lack NVME_TRADDR"
ok "udevadm monitor saw nvme uevents (count/action:${adds%,})"
step uevents

# 8. mDNS through avahi: publish a TP8009-style service and browse it back
avahi-publish -s smoke-dc _nvme-disc._tcp 8009 "p=tcp" "nqn=nqn.2014-08.org.nvmexpress.discovery" >/dev/null 2>&1 &
pub=$!
found=0
for _ in 1 2 3 4 5; do
	if avahi-browse -rtp _nvme-disc._tcp >"$OUT/avahi-browse.txt" 2>&1 && grep -q '^=.*smoke-dc' "$OUT/avahi-browse.txt"; then
		found=1; break
	fi
	sleep 1
done
kill "$pub" 2>/dev/null || true
[[ $found == 1 ]] || { cat "$OUT/avahi-browse.txt" >&2; vm_die "avahi-browse did not resolve the published _nvme-disc._tcp service"; }
ok "avahi resolved _nvme-disc._tcp: $(grep -m1 '^=' "$OUT/avahi-browse.txt")"
step avahi

# 9. cleanup of the target (proves unlink works too)
vm_nvmet_unlink 1 "$NQN"
vm_wait 5 sh -c "! ip netns exec $NS ss -Hltn | grep -q '$TGTIP:4420'" || vm_die "listener still up after unlink"
ok "port disabled after unlinking the last subsystem"
step teardown

awk -v a="$t_start" -v b="$(vm_uptime)" 'BEGIN{printf "%-28s %6.2fs\n", "smoke total (in guest)", b-a}' | tee -a "$TIMINGS" >&2
echo "SMOKE OK"
