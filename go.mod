module github.com/nvme-stas-go/stas

go 1.26.0

require (
	github.com/pilebones/go-udev v0.9.1
	golang.org/x/sys v0.49.0
	gopkg.in/ini.v1 v1.67.3
)
