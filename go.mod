module github.com/nvme-stas-go/stas

go 1.26.0

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/godbus/dbus/v5 v5.2.4
	github.com/holoplot/go-avahi v1.0.1
	github.com/pilebones/go-udev v0.9.1
	golang.org/x/sys v0.49.0
	gopkg.in/ini.v1 v1.67.3
)
