// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package fabrics

// Only Linux has /dev/nvme-fabrics; elsewhere Kernel fails every operation.

func readSupportedDevice(string) ([]byte, error) { return nil, ErrUnsupportedPlatform }

func createController(string, string) (Reply, error) { return Reply{}, ErrUnsupportedPlatform }

func deleteControllerFile(string) error { return ErrUnsupportedPlatform }
