//go:build !linux

package esdbserver_test

import (
	"os"
	"time"
)

func fdatasync(f *os.File) error { return f.Sync() }

func processCPU() time.Duration { return 0 }
