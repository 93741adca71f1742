package benchkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FsyncMode is how FsyncCeiling writes before each sync.
type FsyncMode string

const (
	// AppendFsync writes 512 bytes at the end of a growing file and calls fsync: every sync
	// also journals the file's new size.
	AppendFsync FsyncMode = "append 512 B + fsync"
	// OverwriteFdatasync rewrites 512 bytes in place and calls fdatasync: what a write-ahead
	// log does on a recycled (preallocated) file.
	OverwriteFdatasync FsyncMode = "overwrite 512 B + fdatasync"
)

// FsyncCeiling measures durable commits per second on the filesystem holding dir, one writer,
// for d: the ceiling of an event store that acknowledges an append after its sync (group commit
// puts many appends in one sync, so appends/s may exceed it; commits/s may not). The file is
// created in dir and removed.
func FsyncCeiling(ctx context.Context, dir string, mode FsyncMode, d time.Duration) (Result, error) {
	f, err := os.CreateTemp(dir, "fsync-ceiling-*")
	if err != nil {
		return Result{}, fmt.Errorf("fsync ceiling: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	defer f.Close()
	buf := make([]byte, 512)
	sync := func(i int) error {
		if mode == AppendFsync {
			if _, err := f.Write(buf); err != nil {
				return err
			}
			return f.Sync()
		}
		if _, err := f.WriteAt(buf, int64(i%8)*512); err != nil {
			return err
		}
		return fdatasync(f)
	}
	if mode == OverwriteFdatasync {
		// Allocate the blocks first, so that the measured syncs only overwrite.
		if _, err := f.Write(make([]byte, 8*512)); err != nil {
			return Result{}, err
		}
		if err := f.Sync(); err != nil {
			return Result{}, err
		}
	}
	var opErr error
	r := Run(ctx, Options{Clients: 1, Duration: d, Warmup: 10}, func(_ context.Context, _, seq int) error {
		if err := sync(seq); err != nil {
			opErr = fmt.Errorf("fsync ceiling in %s: %w", filepath.Dir(name), err)
			return opErr
		}
		return nil
	})
	return r, opErr
}
