//go:build !unix

package main

import "time"

// processCPU is 0 here: load reports CPU time on Unix systems only
// (cpu_unix.go).
func processCPU() time.Duration { return 0 }
