#!/bin/bash
# Host-side self-test of the VM launcher: exit codes, timeout, kernel panic,
# results share, then the nvmet/nvme-tcp/udev/dbus/avahi smoke test.
#
#   test/vm/selftest.sh [--no-smoke]
#
# Prints one PASS/FAIL line per check with its wall time; exits non-zero if
# any check failed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run=$here/run.sh
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME WANT_RC GREP_PATTERN -- run.sh args...
	local name=$1 want=$2 pat=$3 t0 t1 rc; shift 4
	t0=$(date +%s.%N)
	"$run" "$@" >"$tmp/out" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	local dt; dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
	if [[ $rc == "$want" ]] && { [[ -z $pat ]] || grep -qE -- "$pat" "$tmp/out"; }; then
		printf 'PASS %-34s rc=%-3s %6ss  %s\n' "$name" "$rc" "$dt" "$(grep -m1 'run.sh:' "$tmp/out")"
	else
		printf 'FAIL %-34s rc=%s (want %s) %ss\n' "$name" "$rc" "$want" "$dt"
		tail -n 30 "$tmp/out" | sed 's/^/    /'
		fails=$((fails + 1))
	fi
}

kver=$(ls -1 /boot/vmlinuz-* | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n1)
check "uname -r" 0 "^$kver\$" -- -- uname -r
check "false -> 1" 1 "" -- -- false
check "exit 42 (quiet mode)" 42 "^hello\$" -- --quiet -- sh -c 'echo hello; exit 42'
check "timeout (sleep 300, --timeout 20)" 124 "TIMEOUT" -- --timeout 20 -- sleep 300
check "kernel panic -> 125" 125 "KERNEL PANIC" -- --timeout 120 -- sh -c 'echo c >/proc/sysrq-trigger; sleep 60'
mkdir -p "$tmp/share"
check "results share + quoting" 0 "" -- --share "$tmp/share" -- sh -c 'printf "%s\n" "$1" >"$VM_OUT/arg"; touch /etc/overlay-is-writable' x "a 'b' \$c \"d\""
if [[ $(cat "$tmp/share/arg" 2>/dev/null) == "a 'b' \$c \"d\"" ]]; then
	echo "PASS results share content ok"
else
	echo "FAIL results share content: $(cat "$tmp/share/arg" 2>&1)"; fails=$((fails + 1))
fi
check "slow boot (bzImage + SeaBIOS)" 0 "^$kver\$" -- --slow-boot -- uname -r
# Interactive mode, driven through a pty (needs python3).
if command -v python3 >/dev/null; then
	t0=$(date +%s)
	if timeout 400 python3 - "$run" >"$tmp/shell.out" 2>&1 <<'PY'
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--shell", "--timeout", "300"])
buf = b""
def expect(pat, t):
    global buf
    end = time.time() + t
    while time.time() < end:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return False
            if not d:
                return False
            buf += d
            if pat.encode() in buf:
                buf = buf[buf.index(pat.encode()) + len(pat):]
                return True
    return False
def send(s):
    os.write(fd, s.encode())
ok = expect("@@VM: interactive", 300) and expect("# ", 60)
send("echo HELLO-$((6*7)) $(tty)\n"); ok = ok and expect("HELLO-42 /dev/ttyS0", 60)
send("sleep 60\n"); ok = ok and expect("sleep 60", 30); time.sleep(3)
send("\x03"); send("echo AFTER-$?\n"); ok = ok and expect("AFTER-130", 60)
send("exit 3\n"); ok = ok and expect("shell ended", 60)
_, st = os.waitpid(pid, 0)
rc = os.waitstatus_to_exitcode(st)
print("shell ok" if ok and rc == 3 else "shell FAILED ok=%s rc=%s" % (ok, rc))
sys.exit(0 if ok and rc == 3 else 1)
PY
	then
		printf 'PASS %-34s %6ss  (prompt, tty, ^C -> 130, exit 3 -> rc 3)\n' "--shell via pty" "$(($(date +%s) - t0))"
	else
		echo "FAIL --shell via pty"; tr -d '\r' <"$tmp/shell.out" | tail -n 30 | sed 's/^/    /'
		fails=$((fails + 1))
	fi
fi
if [[ ${1:-} != --no-smoke ]]; then
	check "smoke (nvmet/nvme-tcp/udev/avahi)" 0 "^SMOKE OK" -- --timeout 400 -- "$here/smoke.sh"
fi
echo "selftest: $fails failure(s)"
[[ $fails == 0 ]]
