//go:build !linux

package main

import "runtime"

// rawCores is where the raw loops run; outside Linux, wherever this process may run.
type rawCores struct{}

func serverCores(int) (rawCores, error) { return rawCores{}, nil }
func (rawCores) workers() int           { return runtime.GOMAXPROCS(0) }
func (rawCores) String() string         { return "any" }
func (rawCores) move() (func(), error)  { return func() {}, nil }
