//go:build !linux

package net

import "errors"

// kernelTCP would carry TCP through the operating system's TCP stack;
// only Linux gives a process namespaces and tun devices to do it with.
type kernelTCP struct{ congestion string }

func (k *kernelTCP) close() {}

// startKernelTCP fails: the proxy carries TCP instead, without loss.
func (p *EmulatedPair) startKernelTCP() error {
	return errors.New("net: network namespaces and tun devices are Linux's")
}
