package disktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/auditstream/auditstream/internal/disktest"
)

func TestMountAndFill(t *testing.T) {
	if disktest.Reexec(t) {
		return
	}
	mnt := disktest.Mount(t, 16<<20)
	if free := disktest.Free(t, mnt); free > 16<<20 || free < 15<<20 {
		t.Fatalf("fresh tmpfs: got %d bytes free, want about 16 MiB", free)
	}
	disktest.Fill(t, filepath.Join(mnt, "filler"), 3<<20)
	if free := disktest.Free(t, mnt); free > 3<<20 || free < 3<<20-(1<<20) {
		t.Errorf("after Fill: got %d bytes free, want at most 3 MiB and within a MiB of it", free)
	}
	// Space is back once the filler goes.
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	if free := disktest.Free(t, mnt); free < 15<<20 {
		t.Errorf("after removing the filler: got %d bytes free, want about 16 MiB", free)
	}
	// A file system with less free than asked is left alone.
	disktest.Fill(t, filepath.Join(mnt, "none"), 32<<20)
	if _, err := os.Stat(filepath.Join(mnt, "none")); !os.IsNotExist(err) {
		t.Errorf("got %v, want no file written", err)
	}
}
